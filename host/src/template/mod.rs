//! Templates: handlebars, with a Go-template compatibility front end.
//!
//! Every templated field of a migration (URL, headers, queries, body, result codes, auth
//! config) goes through [`Renderer::render`]. Users come from the Go original, whose files use
//! Go-template syntax; those files must run unchanged, so each Go-template action is translated
//! to handlebars (see `gotmpl`) and both styles may be mixed in one file.
//!
//! Data model: every variable is reachable flat (`{{.vpc_id}}`, `{{vpc_id}}`) and under `env`
//! (`{{.env.vpc_id}}`); auth tokens under `auth` (`{{.auth.kc}}`). Values are inserted verbatim:
//! nothing is HTML-escaped (the Go original's html/template corrupted `+`, `&`, quotes).
//!
//! Strictness: a missing variable is an error (wording of the Go original,
//! `map has no entry for key "x"`, with the line and column inside the template), except where
//! `default` supplies a value and in conditions (`if`, `with`, and the comparisons and boolean
//! functions), where a missing variable is simply false.
//!
//! Functions (Go style `{{.x | f a}}` / `{{f a .x}}`, or handlebars style `{{f a x}}`):
//! `default`, `upper`, `lower`, `add`, `sub`, `mul`, `div` (integers), `toJson`, `json`,
//! `print`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`. Argument order of `default`:
//! Go style is sprig's (`default "y" .x`, i.e. `.x | default "y"`); handlebars style is
//! `{{default x "y"}}`, and sprig's order `{{default "y" x}}` is recognised too (a literal
//! first and a non-literal second). `range`/`each` over a variable holding a JSON array (or
//! object) as a string iterates its elements.
//!
//! Not supported (a located syntax error, never silence): Go's `define`/`template`/`block`,
//! `break`/`continue`, variable declarations outside `range $i, $e := …`, `else with`,
//! character constants, and functions other than the ones above (`printf`, `index`, `len`, …).
//! Handlebars partials are not registered.

mod error;
mod gotmpl;
mod helpers;
mod refs;
mod vars;

#[cfg(test)]
mod tests;

use handlebars::template::Template;
use handlebars::{
    Context, Handlebars, RenderContext, RenderError, RenderErrorReason, Renderable, StringOutput,
};

pub use error::{RefKind, TemplateError};
pub use vars::Vars;

use gotmpl::Translation;

/// True when `s` contains an action (`{{`), so callers can skip rendering plain strings.
pub fn is_template(s: &str) -> bool {
    s.contains("{{")
}

/// The renderer: one handlebars registry with apirun's functions, strict about missing
/// variables, with no HTML escaping. Build it once and share it; rendering takes `&self`.
#[derive(Debug)]
pub struct Renderer {
    hb: Handlebars<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

/// A template ready to render: translated, compiled and checked.
struct Prepared {
    translation: Translation,
    template: Template,
}

impl Renderer {
    /// A registry in strict mode, without escaping, with every helper registered.
    pub fn new() -> Self {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        helpers::register(&mut hb);
        Self { hb }
    }

    /// Renders `template` against `vars`. A string without `{{` is returned unchanged.
    pub fn render(&self, template: &str, vars: &Vars) -> Result<String, TemplateError> {
        if !is_template(template) {
            return Ok(template.to_owned());
        }
        let prepared = self.prepare(template)?;
        let ctx = Context::from(vars.to_json());
        let mut rc = RenderContext::new(None);
        let mut out = StringOutput::new();
        prepared
            .template
            .render(&self.hb, &ctx, &mut rc, &mut out)
            .map_err(|e| render_error(&e, &prepared.translation, template, vars))?;
        out.into_string().map_err(|e| TemplateError::Helper {
            message: format!("rendered text is not valid utf-8: {e}"),
            line: 1,
            column: 1,
        })
    }

    /// Names of auth entries a template reads (`{{.auth.kc}}`, `{{auth.kc}}`), so the caller
    /// acquires only the tokens it needs, lazily. In order of first appearance.
    pub fn auth_references(&self, template: &str) -> Result<Vec<String>, TemplateError> {
        if !is_template(template) {
            return Ok(Vec::new());
        }
        let p = self.prepare(template)?;
        Ok(self.references(&p, template)?.auth)
    }

    /// Names of variables a template requires (for `validate`: report variables that no source
    /// defines), in order of first appearance. A variable read only through `default` or only
    /// in conditions is not required and is left out.
    pub fn variable_references(&self, template: &str) -> Result<Vec<String>, TemplateError> {
        if !is_template(template) {
            return Ok(Vec::new());
        }
        let p = self.prepare(template)?;
        Ok(self
            .references(&p, template)?
            .vars
            .into_iter()
            .filter_map(|(name, required)| required.then_some(name))
            .collect())
    }

    fn references(&self, p: &Prepared, template: &str) -> Result<refs::Refs, TemplateError> {
        refs::collect(&p.template).map_err(|u| {
            let (line, column) = map_position(&p.translation, template, u.line, u.column);
            TemplateError::Syntax {
                message: format!("function \"{}\" not defined", u.name),
                line,
                column,
                hint: Some(format!("available functions: {}", gotmpl::function_names())),
            }
        })
    }

    /// Translates, compiles, and checks that every called function exists.
    fn prepare(&self, template: &str) -> Result<Prepared, TemplateError> {
        let translation = gotmpl::translate(template).map_err(|e| {
            let (line, column) = line_col(template, e.offset);
            let hint = e
                .message
                .starts_with("function ")
                .then(|| format!("available functions: {}", gotmpl::function_names()));
            TemplateError::Syntax {
                message: e.message,
                line,
                column,
                hint,
            }
        })?;
        let compiled = Template::compile(&translation.source).map_err(|e| {
            let (l, c) = e.pos().unwrap_or((1, 1));
            let (line, column) = map_position(&translation, template, l, c);
            TemplateError::Syntax {
                message: lower_first(&e.reason().to_string()),
                line,
                column,
                hint: None,
            }
        })?;
        let p = Prepared {
            translation,
            template: compiled,
        };
        self.references(&p, template)?;
        Ok(p)
    }
}

/// Converts an error from handlebars into ours, located in the original template.
fn render_error(e: &RenderError, tr: &Translation, template: &str, vars: &Vars) -> TemplateError {
    let (hl, hc) = match (e.line_no, e.column_no) {
        (Some(l), Some(c)) => (l, c),
        _ => (1, 1),
    };
    let out = offset_of(&tr.source, hl, hc);
    let (line, column) = line_col(template, tr.original_offset(out, template.len()));
    match e.reason() {
        RenderErrorReason::MissingVariable(Some(path)) => {
            let (name, kind) = missing_name(path, vars);
            let at = reference_offset(tr, out, path, template);
            let (line, column) = at.map_or((line, column), |o| line_col(template, o));
            let hint = match kind {
                RefKind::Variable => error::missing_hint(&name, kind, vars.var_names()),
                RefKind::Auth => error::missing_hint(&name, kind, vars.auth_names()),
            };
            TemplateError::MissingVariable {
                name,
                kind,
                line,
                column,
                hint,
            }
        }
        RenderErrorReason::HelperNotFound(name) => TemplateError::Syntax {
            message: format!("function \"{name}\" not defined"),
            line,
            column,
            hint: Some(format!("available functions: {}", gotmpl::function_names())),
        },
        RenderErrorReason::Other(message) => TemplateError::Helper {
            message: message.clone(),
            line,
            column,
        },
        other => TemplateError::Helper {
            message: lower_first(&other.to_string()),
            line,
            column,
        },
    }
}

/// The key a missing path was looking for, and whether it is a variable or a token.
fn missing_name(path: &str, vars: &Vars) -> (String, RefKind) {
    let segs = refs::root_segments(path, 0)
        .or_else(|| {
            // A path inside a block (`../x`, `$e.x`): report it as written, minus decoration.
            Some(refs::split_path(path.trim_start_matches("../")))
        })
        .unwrap_or_default();
    match segs.as_slice() {
        [ns, name, ..] if ns == "auth" => (name.clone(), RefKind::Auth),
        // A field of a range variable (`$e.id`): the field is what is missing.
        [var, rest @ ..] if var.starts_with('$') && !rest.is_empty() => {
            (rest.join("."), RefKind::Variable)
        }
        [ns, name] if ns == "env" => (name.clone(), RefKind::Variable),
        [first, ..] if vars.get(first).is_none() => (first.clone(), RefKind::Variable),
        [] => (path.to_owned(), RefKind::Variable),
        segs => (segs.join("."), RefKind::Variable),
    }
}

/// Where in the original the missing `path` is written: the recorded position for translated
/// Go actions, else the first occurrence of the path inside the copied action.
fn reference_offset(tr: &Translation, out: usize, path: &str, template: &str) -> Option<usize> {
    let seg = tr.segment_at(out)?;
    if let Some((_, off)) = seg.refs.iter().find(|(p, _)| p == path) {
        return Some(*off);
    }
    let text = template.get(seg.orig_start..seg.orig_end)?;
    let mut from = 0;
    while let Some(i) = text[from..].find(path) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        let after = text[at + path.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if boundary(after) && before.is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.'))
        {
            return Some(seg.orig_start + at);
        }
        from = at + path.len();
    }
    None
}

fn map_position(tr: &Translation, template: &str, line: usize, col: usize) -> (usize, usize) {
    let out = offset_of(&tr.source, line, col);
    line_col(template, tr.original_offset(out, template.len()))
}

/// Byte offset of a 1-based line and column (in characters, as pest counts them).
fn offset_of(s: &str, line: usize, col: usize) -> usize {
    let mut cur = (1, 1);
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if cur.0 == line && cur.1 == col {
            return i;
        }
        match c {
            '\r' if chars.peek().is_some_and(|(_, n)| *n == '\n') => {
                chars.next();
                cur = (cur.0 + 1, 1);
            }
            '\n' => cur = (cur.0 + 1, 1),
            _ => cur.1 += 1,
        }
        if cur.0 > line {
            return i;
        }
    }
    s.len()
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(s: &str, offset: usize) -> (usize, usize) {
    let mut cur = (1, 1);
    let mut chars = s.get(..offset).unwrap_or(s).chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {
                chars.next();
                cur = (cur.0 + 1, 1);
            }
            '\n' => cur = (cur.0 + 1, 1),
            _ => cur.1 += 1,
        }
    }
    cur
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}
