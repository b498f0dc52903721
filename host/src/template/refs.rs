//! What a compiled template reads, found by walking the handlebars syntax tree.
//!
//! Used to acquire only the auth tokens a template needs, to let `validate` report variables
//! no source defines, and to reject calls to functions that do not exist before anything runs.

use handlebars::Path;
use handlebars::template::{HelperTemplate, Parameter, Template, TemplateElement};

use super::helpers::{GO_DEFAULT, is_helper, is_lenient};

/// The references found in a template, in order of first appearance.
#[derive(Debug, Default)]
pub(crate) struct Refs {
    /// Variable names, and whether the template fails without them (false when only read
    /// through `default` or as a condition).
    pub vars: Vec<(String, bool)>,
    /// Auth entry names, wherever they are read.
    pub auth: Vec<String>,
}

/// A call to a function that does not exist, at a line and column of the handlebars source.
#[derive(Debug)]
pub(crate) struct UnknownFunction {
    pub name: String,
    pub line: usize,
    pub column: usize,
}

/// Walks `t`, collecting references and checking that every called helper exists.
pub(crate) fn collect(t: &Template) -> Result<Refs, UnknownFunction> {
    let mut w = Walker {
        refs: Refs::default(),
    };
    w.template(t, 0)?;
    Ok(w.refs)
}

struct Walker {
    refs: Refs,
}

/// Where an element starts, for errors.
type Pos = (usize, usize);

impl Walker {
    /// `depth` counts the blocks (`each`, `with`) that moved the context away from the root.
    fn template(&mut self, t: &Template, depth: usize) -> Result<(), UnknownFunction> {
        for (i, el) in t.elements.iter().enumerate() {
            let pos = t.mapping.get(i).map_or((1, 1), |m| (m.0, m.1));
            match el {
                TemplateElement::Expression(ht) | TemplateElement::HtmlExpression(ht) => {
                    self.expression(ht, depth, true, pos)?;
                }
                TemplateElement::HelperBlock(ht) => self.block(ht, depth, pos)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// An expression or subexpression: a value reference, or a helper call.
    fn expression(
        &mut self,
        ht: &HelperTemplate,
        depth: usize,
        required: bool,
        pos: Pos,
    ) -> Result<(), UnknownFunction> {
        if ht.params.is_empty() && ht.hash.is_empty() {
            match &ht.name {
                Parameter::Path(p) if !is_helper(raw(p)) => {
                    self.path(p, depth, required);
                    return Ok(());
                }
                Parameter::Subexpression(se) => {
                    if let TemplateElement::Expression(inner) = se.as_element() {
                        self.expression(inner, depth, required, pos)?;
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        let name = match &ht.name {
            Parameter::Name(n) => n.as_str(),
            Parameter::Path(p) => raw(p),
            _ => "",
        };
        if !is_helper(name) {
            return Err(UnknownFunction {
                name: name.to_owned(),
                line: pos.0,
                column: pos.1,
            });
        }
        self.params(name, &ht.params, depth, pos)?;
        let mut hash: Vec<_> = ht.hash.iter().collect();
        hash.sort_by(|a, b| a.0.cmp(b.0));
        for (_, p) in hash {
            self.param(p, depth, true, pos)?;
        }
        Ok(())
    }

    fn params(
        &mut self,
        helper: &str,
        params: &[Parameter],
        depth: usize,
        pos: Pos,
    ) -> Result<(), UnknownFunction> {
        // The parameter `default` may do without.
        let optional = match helper {
            "default" if params.len() == 2 => {
                let lit = |p: &Parameter| matches!(p, Parameter::Literal(_));
                Some(usize::from(lit(&params[0]) && !lit(&params[1])))
            }
            GO_DEFAULT => params.len().checked_sub(1),
            _ => None,
        };
        for (i, p) in params.iter().enumerate() {
            let required = !is_lenient(helper) && optional != Some(i);
            self.param(p, depth, required, pos)?;
        }
        Ok(())
    }

    fn param(
        &mut self,
        p: &Parameter,
        depth: usize,
        required: bool,
        pos: Pos,
    ) -> Result<(), UnknownFunction> {
        match p {
            Parameter::Path(path) => {
                self.path(path, depth, required);
                Ok(())
            }
            Parameter::Subexpression(se) => match se.as_element() {
                // A subexpression's own arguments follow its helper's rules; its result being
                // optional does not make them so.
                TemplateElement::Expression(inner) => self.expression(inner, depth, required, pos),
                _ => Ok(()),
            },
            _ => Ok(()),
        }
    }

    fn block(
        &mut self,
        ht: &HelperTemplate,
        depth: usize,
        pos: Pos,
    ) -> Result<(), UnknownFunction> {
        let name = match &ht.name {
            Parameter::Name(n) => n.as_str(),
            Parameter::Path(p) => raw(p),
            _ => "",
        };
        if !is_helper(name) {
            return Err(UnknownFunction {
                name: name.to_owned(),
                line: pos.0,
                column: pos.1,
            });
        }
        self.params(name, &ht.params, depth, pos)?;
        let inner = if matches!(name, "each" | "with") {
            depth + 1
        } else {
            depth
        };
        if let Some(t) = &ht.template {
            self.template(t, inner)?;
        }
        if let Some(t) = &ht.inverse {
            self.template(t, depth)?;
        }
        Ok(())
    }

    /// Records a path if it reads from the root data (`x`, `env.x`, `auth.x`, `@root.x`,
    /// `../x` climbing back to the root).
    fn path(&mut self, p: &Path, depth: usize, required: bool) {
        let Path::Relative((_, raw)) = p else {
            return;
        };
        let Some(segs) = root_segments(raw, depth) else {
            return;
        };
        match (segs.first().map(String::as_str), segs.get(1)) {
            (Some("auth"), Some(name)) => {
                if !self.refs.auth.contains(name) {
                    self.refs.auth.push(name.clone());
                }
            }
            (Some("env"), Some(name)) => self.var(name, required),
            (Some("auth" | "env"), None) | (None, _) => {}
            (Some(first), _) if first.starts_with('$') => {}
            (Some(first), _) => self.var(first, required),
        }
    }

    fn var(&mut self, name: &str, required: bool) {
        match self.refs.vars.iter_mut().find(|(n, _)| n == name) {
            Some(entry) => entry.1 |= required,
            None => self.refs.vars.push((name.to_owned(), required)),
        }
    }
}

fn raw(p: &Path) -> &str {
    match p {
        Path::Relative((_, raw)) => raw,
        Path::Local((_, _, raw)) => raw,
    }
}

/// The segments of a path relative to the root data, or `None` when it reads a block's
/// context (inside `each`/`with`) or a local like `@index`.
pub(crate) fn root_segments(raw: &str, depth: usize) -> Option<Vec<String>> {
    let mut s = raw;
    if let Some(rest) = s.strip_prefix("@root") {
        s = rest.trim_start_matches(['.', '/']);
    } else {
        let mut ups = 0;
        while let Some(rest) = s.strip_prefix("../") {
            ups += 1;
            s = rest;
        }
        if ups != depth {
            return None;
        }
        s = s
            .strip_prefix("this.")
            .or_else(|| s.strip_prefix("this/"))
            .or_else(|| s.strip_prefix("./"))
            .unwrap_or(s);
        if s == "this" || s.starts_with('@') {
            return None;
        }
    }
    Some(split_path(s))
}

/// Splits a handlebars path into segments, unbracketing `[odd name]` segments.
pub(crate) fn split_path(s: &str) -> Vec<String> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut in_bracket = false;
    for c in s.chars() {
        match c {
            '[' if !in_bracket && cur.is_empty() => in_bracket = true,
            ']' if in_bracket => in_bracket = false,
            '.' | '/' if !in_bracket => segs.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    segs.push(cur);
    segs.retain(|s| !s.is_empty());
    segs
}
