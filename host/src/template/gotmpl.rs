//! The Go-template front end: rewrites each Go-template action of a template into handlebars,
//! leaving native handlebars actions and plain text alone, so one file may mix both styles.
//!
//! Users' files come from the Go original, whose templates are Go `text/template` syntax
//! (`{{.x}}`, `{{.x | default "y"}}`, `{{if eq .a "b"}}…{{end}}`). Translating per action, instead
//! of interpreting Go templates separately, keeps one engine, one data model and one notion of
//! strictness for both styles. The translation records where every piece of its output came
//! from, so errors found by handlebars point into the user's text.
//!
//! An action is Go style when it uses a Go trim marker (`{{- `, ` -}}`), starts with a Go
//! keyword (`if`, `range`, `with`, `else`, `end`), or contains a pipe `|`, a `$` variable or a
//! `.field` reference. Anything else (`{{x}}`, `{{#if x}}`, `{{upper x}}`) is handlebars and is
//! copied as is. Go block tags are followed by an empty `gotmpl_keep` expression so that
//! handlebars' "standalone line" whitespace removal, which Go does not do, leaves them alone.

use super::helpers::{GO_DEFAULT, ITER, KEEP};

/// A template translated to handlebars, with the way back to the original text.
#[derive(Debug)]
pub(crate) struct Translation {
    /// The handlebars source.
    pub source: String,
    /// Consecutive pieces of `source`, each tied to the original text it came from.
    pub segments: Vec<Segment>,
}

/// One piece of the translated source.
#[derive(Debug)]
pub(crate) struct Segment {
    pub out_start: usize,
    pub out_end: usize,
    pub orig_start: usize,
    pub orig_end: usize,
    /// Copied unchanged: offsets inside map one to one.
    pub verbatim: bool,
    /// Variable references emitted for a translated action: handlebars path, original offset.
    pub refs: RefList,
}

/// Variable references of a translated action: handlebars path, original offset.
pub(crate) type RefList = Vec<(String, usize)>;

/// A problem in the original template, at a byte offset of it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub offset: usize,
}

fn err<T>(message: impl Into<String>, offset: usize) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        message: message.into(),
        offset,
    })
}

impl Translation {
    /// The segment a byte offset of the translated source falls in.
    pub fn segment_at(&self, out: usize) -> Option<&Segment> {
        self.segments
            .iter()
            .find(|s| s.out_start <= out && out < s.out_end)
    }

    /// Maps a byte offset of the translated source to one of the original template.
    pub fn original_offset(&self, out: usize, original_len: usize) -> usize {
        match self.segment_at(out) {
            Some(s) if s.verbatim => s.orig_start + (out - s.out_start),
            Some(s) => s.orig_start,
            None => original_len,
        }
    }
}

/// Go-style functions: name as written, handlebars helper, and accepted argument counts.
const FUNCTIONS: &[(&str, &str, usize, Option<usize>)] = &[
    ("default", GO_DEFAULT, 2, Some(2)),
    ("upper", "upper", 1, Some(1)),
    ("lower", "lower", 1, Some(1)),
    ("add", "add", 1, None),
    ("sub", "sub", 2, Some(2)),
    ("mul", "mul", 1, None),
    ("div", "div", 2, Some(2)),
    ("toJson", "toJson", 1, Some(1)),
    ("json", "json", 1, Some(1)),
    ("print", "print", 0, None),
    ("eq", "eq", 2, None),
    ("ne", "ne", 2, Some(2)),
    ("lt", "lt", 2, Some(2)),
    ("le", "le", 2, Some(2)),
    ("gt", "gt", 2, Some(2)),
    ("ge", "ge", 2, Some(2)),
    ("and", "and", 1, None),
    ("or", "or", 1, None),
    ("not", "not", 1, Some(1)),
];

/// The function names a Go-style action may call, for hints.
pub(crate) fn function_names() -> String {
    FUNCTIONS
        .iter()
        .map(|(n, ..)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

fn function(name: &str) -> Option<(&'static str, &'static str, usize, Option<usize>)> {
    FUNCTIONS.iter().find(|(n, ..)| *n == name).copied()
}

/// Translates a whole template. Errors carry the offset in `src` of the offending text.
pub(crate) fn translate(src: &str) -> Result<Translation, SyntaxError> {
    let mut t = Translator {
        src,
        out: String::with_capacity(src.len() + 16),
        segments: Vec::new(),
        stack: Vec::new(),
    };
    let mut pos = 0;
    let mut text_start = 0;
    while let Some(rel) = src[pos..].find("{{") {
        let open = pos + rel;
        let action = scan(src, open)?;
        // `${{ X }}` (result codes in some users' files) means `{{ X }}`.
        let mut text_end = open;
        if text_end > text_start && src[..text_end].ends_with('$') {
            text_end -= 1;
        }
        let backslashes = src[text_start..text_end].len()
            - src[text_start..text_end].trim_end_matches('\\').len();
        let go = action.is_go(src);
        if backslashes > 0 && !go {
            // A native handlebars escape (`\{{x}}` is the literal `{{x}}`): plain text.
            pos = open + 2;
            continue;
        }
        t.text(text_start, text_end - backslashes);
        if backslashes > 0 {
            // In Go a backslash is an ordinary character; keep handlebars from reading it as an
            // escape by printing it from an expression.
            let lit = serde_json::Value::String("\\".repeat(backslashes)).to_string();
            t.action(
                text_end - backslashes,
                text_end,
                format!("{{{{print {lit}}}}}"),
                Vec::new(),
            );
        }
        t.translate_action(&action)?;
        pos = action.end;
        text_start = action.end;
    }
    t.text(text_start, src.len());
    if let Some(open) = t.stack.last() {
        return err(
            format!("unclosed {{{{{}}}}}: no matching {{{{end}}}}", open.keyword),
            open.offset,
        );
    }
    Ok(Translation {
        source: t.out,
        segments: t.segments,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trim {
    None,
    /// Go's `{{- ` / ` -}}`.
    Go,
    /// Handlebars' `{{~` / `~}}`.
    Tilde,
}

/// One `{{…}}` of the original, delimited but not yet understood.
#[derive(Debug)]
struct Action {
    open: usize,
    end: usize,
    kind: ActionKind,
}

#[derive(Debug)]
enum ActionKind {
    /// Copied unchanged: handlebars comments, raw blocks, triple-stash.
    Verbatim,
    /// `{{/* … */}}`: produces nothing (but its trim markers still apply).
    GoComment { left: Trim, right: Trim },
    /// Everything else: `body` is the text between the trim markers.
    Tag {
        left: Trim,
        right: Trim,
        body_start: usize,
        body_end: usize,
    },
}

impl Action {
    fn is_go(&self, src: &str) -> bool {
        match self.kind {
            ActionKind::Verbatim => false,
            ActionKind::GoComment { .. } => true,
            ActionKind::Tag {
                left,
                right,
                body_start,
                body_end,
            } => {
                if left == Trim::Go || right == Trim::Go {
                    return true;
                }
                let body = src[body_start..body_end].trim();
                if body.starts_with(['#', '/', '^', '>', '&', '*', '!']) {
                    return false;
                }
                let word = first_word(body);
                matches!(
                    word,
                    "if" | "range"
                        | "with"
                        | "end"
                        | "define"
                        | "template"
                        | "block"
                        | "break"
                        | "continue"
                ) || (word == "else" && is_go_ish(body["else".len()..].trim()))
                    || is_go_ish(body)
            }
        }
    }
}

fn first_word(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// True when an action body uses Go-only syntax: a pipe, a `$` variable, a `.field`, a raw
/// string, or a literal as the whole command.
fn is_go_ish(body: &str) -> bool {
    let chars: Vec<char> = body.chars().collect();
    // A literal alone is not valid handlebars; in Go it prints itself.
    match chars.first() {
        Some('"' | '`' | '\'') => return true,
        Some(c) if c.is_ascii_digit() => return true,
        Some('-' | '+') if chars.get(1).is_some_and(char::is_ascii_digit) => return true,
        _ => {}
    }
    let mut i = 0;
    let mut token_start = true;
    while i < chars.len() {
        let c = chars[i];
        match c {
            // Raw strings exist only in Go.
            '`' => return true,
            '"' | '\'' => {
                i = skip_quoted(&chars, i);
                token_start = false;
                continue;
            }
            '|' => return true,
            '$' if token_start => return true,
            '.' if token_start => match chars.get(i + 1) {
                None => return true,
                Some(&n) if is_space(n) || n == ')' || n == '|' => return true,
                Some(&n) if n.is_alphabetic() || n == '_' => return true,
                _ => {}
            },
            _ => {}
        }
        token_start = is_space(c) || c == '(';
        i += 1;
    }
    false
}

/// Index just past the string starting at `chars[i]` (a quote), or the end.
fn skip_quoted(chars: &[char], i: usize) -> usize {
    let q = chars[i];
    let mut j = i + 1;
    while j < chars.len() {
        if chars[j] == '\\' && q != '`' {
            j += 2;
            continue;
        }
        if chars[j] == q {
            return j + 1;
        }
        j += 1;
    }
    chars.len()
}

/// Finds the extent of the action opening at `open` (where `src` has `{{`).
fn scan(src: &str, open: usize) -> Result<Action, SyntaxError> {
    let rest = &src[open..];
    let find_from = |from: usize, pat: &str| src[from..].find(pat).map(|i| from + i);
    if rest.starts_with("{{{{") {
        // Handlebars raw block: `{{{{raw}}}} … {{{{/raw}}}}`.
        let Some(start_end) = find_from(open + 4, "}}}}") else {
            return err("unclosed raw block", open);
        };
        let name = first_word(src[open + 4..start_end].trim_start_matches([' ', '~']));
        let close = format!("{{{{{{{{/{name}}}}}}}}}");
        let Some(end) = find_from(start_end, &close) else {
            return err(format!("unclosed raw block {{{{{{{{{name}}}}}}}}}"), open);
        };
        return Ok(Action {
            open,
            end: end + close.len(),
            kind: ActionKind::Verbatim,
        });
    }
    if rest.starts_with("{{!--") {
        let Some(end) = find_from(open + 5, "--}}") else {
            return err("unclosed comment", open);
        };
        return verbatim(open, end + 4);
    }
    if rest.starts_with("{{!") {
        let Some(end) = find_from(open + 3, "}}") else {
            return err("unclosed comment", open);
        };
        return verbatim(open, end + 2);
    }
    let mut p = open + 2;
    let mut left = Trim::None;
    if src[p..].starts_with('~') {
        left = Trim::Tilde;
        p += 1;
    } else if src[p..].starts_with('-') && src[p + 1..].starts_with(is_space) {
        left = Trim::Go;
        p += 1;
    }
    let after_ws = p + (src[p..].len() - src[p..].trim_start_matches(is_space).len());
    if src[after_ws..].starts_with("/*") {
        let Some(close) = find_from(after_ws + 2, "*/") else {
            return err("unclosed comment", open);
        };
        let tail = &src[close + 2..];
        let ws = tail.len() - tail.trim_start_matches(is_space).len();
        let (right, end) = if tail.starts_with("}}") {
            (Trim::None, close + 4)
        } else if ws > 0 && tail[ws..].starts_with("-}}") {
            (Trim::Go, close + 2 + ws + 3)
        } else {
            return err("comment ends before closing delimiter", close);
        };
        return Ok(Action {
            open,
            end,
            kind: ActionKind::GoComment { left, right },
        });
    }
    if src[p..].starts_with('{') {
        // Triple-stash `{{{x}}}`: the same as `{{x}}` here, since nothing is escaped.
        let Some(end) = find_from(p, "}}}") else {
            return err("unclosed action", open);
        };
        return verbatim(open, end + 3);
    }
    let close = find_close(src, p).ok_or(SyntaxError {
        message: "unclosed action".to_owned(),
        offset: open,
    })?;
    let mut body_end = close;
    let mut right = Trim::None;
    let body = &src[p..close];
    if body.ends_with('~') {
        right = Trim::Tilde;
        body_end -= 1;
    } else if body.ends_with('-') && body[..body.len() - 1].ends_with(is_space) {
        right = Trim::Go;
        body_end -= 1;
    }
    Ok(Action {
        open,
        end: close + 2,
        kind: ActionKind::Tag {
            left,
            right,
            body_start: p,
            body_end: body_end.max(p),
        },
    })
}

fn verbatim(open: usize, end: usize) -> Result<Action, SyntaxError> {
    Ok(Action {
        open,
        end,
        kind: ActionKind::Verbatim,
    })
}

/// Offset of the `}}` closing an action body starting at `from`, skipping quoted strings.
fn find_close(src: &str, from: usize) -> Option<usize> {
    let bytes = src.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            q @ (b'"' | b'\'' | b'`') => {
                let mut j = i + 1;
                loop {
                    match bytes.get(j) {
                        None => return None,
                        Some(b'\\') if q != b'`' => j += 2,
                        Some(&c) if c == q => break,
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// An open block, Go or handlebars, to pair `{{end}}`/`{{/x}}` with.
#[derive(Debug)]
struct Block {
    /// The handlebars helper name (`if`, `each`, `with`, or a native block's name).
    name: String,
    /// How the user opened it, for messages (`if`, `range`, `#each`, ...).
    keyword: String,
    offset: usize,
    /// Opened by a Go action: its `{{else}}` is translated the Go way.
    go: bool,
    /// Go variables declared by `range $i, $e := …`.
    vars: Vec<String>,
}

struct Translator<'a> {
    src: &'a str,
    out: String,
    segments: Vec<Segment>,
    stack: Vec<Block>,
}

fn tilde(t: Trim) -> &'static str {
    if t == Trim::None { "" } else { "~" }
}

impl Translator<'_> {
    fn text(&mut self, start: usize, end: usize) {
        if start >= end {
            return;
        }
        let out_start = self.out.len();
        self.out.push_str(&self.src[start..end]);
        self.segments.push(Segment {
            out_start,
            out_end: self.out.len(),
            orig_start: start,
            orig_end: end,
            verbatim: true,
            refs: Vec::new(),
        });
    }

    fn action(&mut self, start: usize, end: usize, text: String, refs: RefList) {
        if text.is_empty() {
            return;
        }
        let out_start = self.out.len();
        self.out.push_str(&text);
        self.segments.push(Segment {
            out_start,
            out_end: self.out.len(),
            orig_start: start,
            orig_end: end,
            verbatim: false,
            refs,
        });
    }

    fn translate_action(&mut self, a: &Action) -> Result<(), SyntaxError> {
        let (left, right, body_start, body_end) = match a.kind {
            ActionKind::Verbatim => {
                let text = self.src[a.open..a.end].to_owned();
                self.action(a.open, a.end, text, Vec::new());
                return Ok(());
            }
            ActionKind::GoComment { left, right } => {
                if left != Trim::None || right != Trim::None {
                    let text = format!("{{{{{}{KEEP}{}}}}}", tilde(left), tilde(right));
                    self.action(a.open, a.end, text, Vec::new());
                }
                return Ok(());
            }
            ActionKind::Tag {
                left,
                right,
                body_start,
                body_end,
            } => (left, right, body_start, body_end),
        };
        let raw = &self.src[body_start..body_end];
        let lead = raw.len() - raw.trim_start().len();
        let body = raw.trim();
        let body_off = body_start + lead;
        let (l, r) = (tilde(left), tilde(right));
        if let Some(first) = body.chars().next().filter(|c| "#/^>&*".contains(*c)) {
            if left == Trim::Go || right == Trim::Go {
                return err(
                    "handlebars tags take handlebars trim markers: write {{~ and ~}}, not {{- and -}}",
                    a.open,
                );
            }
            return self.native_tag(a, first, body, body_off, l, r);
        }
        let word = first_word(body);
        let rest_off = body_off + word.len();
        let rest = &self.src[rest_off..body_start + lead + body.len()];
        match word {
            "if" | "range" | "with" => {
                let (decl, expr, refs) = self.parse_block_args(word, rest, rest_off)?;
                let (name, tag) = match word {
                    "if" => ("if", format!("#if {}", expr.param())),
                    "with" => ("with", format!("#with {}", expr.param())),
                    _ => ("each", each_tag(&expr, &decl)),
                };
                self.stack.push(Block {
                    name: name.to_owned(),
                    keyword: word.to_owned(),
                    offset: a.open,
                    go: true,
                    vars: decl,
                });
                self.go_tag(a, l, &tag, r, refs);
                Ok(())
            }
            "else" => {
                let Some(top) = self.stack.last() else {
                    return err("unexpected {{else}}: no open block", a.open);
                };
                let rest_t = rest.trim();
                if rest_t.is_empty() {
                    if top.go || left == Trim::Go || right == Trim::Go {
                        self.go_tag(a, l, "else", r, Vec::new());
                        return Ok(());
                    }
                    return self.copy(a);
                }
                let is_go = left == Trim::Go || right == Trim::Go || is_go_ish(rest_t);
                if first_word(rest_t) != "if" {
                    if is_go {
                        return err(
                            "only {{else}} and {{else if …}} are supported in Go-style blocks",
                            rest_off,
                        );
                    }
                    return self.copy(a);
                }
                if !is_go {
                    return self.copy(a);
                }
                let cond_off = rest_off + (rest.len() - rest.trim_start().len()) + 2;
                let cond = &self.src[cond_off..rest_off + rest.trim_end().len()];
                let (expr, refs) = self.parse_expr(cond, cond_off)?;
                self.go_tag(a, l, &format!("else if {}", expr.param()), r, refs);
                Ok(())
            }
            "end" => {
                if !rest.trim().is_empty() {
                    return err("unexpected text after end", rest_off);
                }
                let Some(block) = self.stack.pop() else {
                    return err("unexpected {{end}}: no open block", a.open);
                };
                self.go_tag(a, l, &format!("/{}", block.name), r, Vec::new());
                Ok(())
            }
            "define" | "template" | "block" | "break" | "continue" => err(
                format!("{{{{{word}}}}} is not supported in apirun templates"),
                body_off,
            ),
            _ if left == Trim::Go || right == Trim::Go || is_go_ish(body) => {
                let (expr, refs) = self.parse_expr(body, body_off)?;
                let text = format!("{{{{{l}{}{r}}}}}", expr.output());
                self.action(a.open, a.end, text, refs);
                Ok(())
            }
            _ => self.copy(a),
        }
    }

    /// Copies a native handlebars action unchanged.
    fn copy(&mut self, a: &Action) -> Result<(), SyntaxError> {
        let text = self.src[a.open..a.end].to_owned();
        self.action(a.open, a.end, text, Vec::new());
        Ok(())
    }

    /// Emits a translated Go block tag, then the empty expression that keeps handlebars from
    /// treating it as standalone; a right trim marker moves onto that expression.
    fn go_tag(&mut self, a: &Action, l: &str, tag: &str, r: &str, refs: RefList) {
        let text = format!("{{{{{l}{tag}}}}}{{{{{KEEP}{r}}}}}");
        self.action(a.open, a.end, text, refs);
    }

    /// `{{#…}}`, `{{/…}}`, `{{^}}`, partials and the like: tracked for block pairing, copied
    /// unchanged, except that `{{#each x}}` iterates `x` through the JSON-aware iterator.
    fn native_tag(
        &mut self,
        a: &Action,
        first: char,
        body: &str,
        body_off: usize,
        l: &str,
        r: &str,
    ) -> Result<(), SyntaxError> {
        let name_of = |s: &str| -> String {
            let s = s.trim_start_matches(['>', '*']).trim_start();
            s.chars()
                .take_while(|c| !is_space(*c) && *c != '~' && *c != '}')
                .collect()
        };
        match first {
            '#' => {
                let name = name_of(&body[1..]);
                self.stack.push(Block {
                    name: name.clone(),
                    keyword: format!("#{name}"),
                    offset: a.open,
                    go: false,
                    vars: Vec::new(),
                });
                if name == "each" {
                    let after = body[1 + 4..].trim_start();
                    let token: String = after.chars().take_while(|c| !is_space(*c)).collect();
                    if !token.is_empty() && !token.starts_with(['(', '"', '\'', '[']) {
                        let rest = &after[token.len()..];
                        let text = format!("{{{{{l}#each ({ITER} {token}){rest}{r}}}}}");
                        let token_off = body_off + (body.len() - after.len());
                        self.action(a.open, a.end, text, vec![(token, token_off)]);
                        return Ok(());
                    }
                }
                self.copy(a)
            }
            '/' => {
                let name = name_of(&body[1..]);
                match self.stack.last() {
                    Some(top) if top.name == name || name.is_empty() => {
                        self.stack.pop();
                        self.copy(a)
                    }
                    Some(top) => err(
                        format!(
                            "{{{{/{name}}}}} does not close the open {{{{{}}}}}",
                            top.keyword
                        ),
                        a.open,
                    ),
                    None => err(format!("unexpected {{{{/{name}}}}}: no open block"), a.open),
                }
            }
            '^' if self.stack.is_empty() => err("unexpected {{^}}: no open block", a.open),
            _ => self.copy(a),
        }
    }

    /// Arguments of `if`/`with`/`range`: optional `$i, $e :=` (range only), then a pipeline.
    fn parse_block_args(
        &self,
        word: &str,
        rest: &str,
        off: usize,
    ) -> Result<(Vec<String>, Expr, RefList), SyntaxError> {
        let toks = lex(rest, off)?;
        let decl_end = toks.iter().position(|t| t.tk == Tk::Declare);
        let mut decl = Vec::new();
        let mut start = 0;
        if let Some(d) = decl_end {
            if word != "range" {
                return err(
                    "variable declarations are only supported in range",
                    toks[d].off,
                );
            }
            for (i, t) in toks[..d].iter().enumerate() {
                match (&t.tk, i % 2) {
                    (Tk::Var(name, path), 0) if !name.is_empty() && path.is_empty() => {
                        decl.push(format!("${name}"));
                    }
                    (Tk::Comma, 1) => {}
                    _ => return err("malformed range variable declaration", t.off),
                }
            }
            if decl.is_empty() || decl.len() > 2 || d % 2 == 0 {
                return err("malformed range variable declaration", off);
            }
            start = d + 1;
        }
        // Go declares `$index, $element`; handlebars block params are `|element index|`.
        decl.reverse();
        let mut p = Parser {
            toks: &toks[start..],
            i: 0,
            end: off + rest.len(),
            stack: &self.stack,
            extra: &decl,
        };
        let expr = p.pipeline()?;
        p.finish()?;
        let mut refs = Vec::new();
        expr.collect_refs(&mut refs);
        Ok((decl, expr, refs))
    }

    fn parse_expr(&self, body: &str, off: usize) -> Result<(Expr, RefList), SyntaxError> {
        let toks = lex(body, off)?;
        if let Some(t) = toks.iter().find(|t| t.tk == Tk::Declare) {
            return err("variable declarations are only supported in range", t.off);
        }
        let mut p = Parser {
            toks: &toks,
            i: 0,
            end: off + body.len(),
            stack: &self.stack,
            extra: &[],
        };
        let expr = p.pipeline()?;
        p.finish()?;
        let mut refs = Vec::new();
        expr.collect_refs(&mut refs);
        Ok((expr, refs))
    }
}

fn each_tag(expr: &Expr, decl: &[String]) -> String {
    let mut tag = format!("#each ({ITER} {})", expr.arg());
    if !decl.is_empty() {
        tag.push_str(&format!(" as |{}|", decl.join(" ")));
    }
    tag
}

// ---------------------------------------------------------------------------------------------
// Lexer and parser for the inside of a Go action.

#[derive(Debug, Clone, PartialEq)]
enum Tk {
    /// `.a.b`; empty for `.` itself.
    Field(Vec<String>),
    /// `$name.a.b`; the name is empty for `$`.
    Var(String, Vec<String>),
    /// A bare identifier, possibly a handlebars path `env.x`.
    Ident(Vec<String>),
    Str(String),
    /// A number, already in handlebars literal form.
    Num(String),
    Bool(bool),
    Nil,
    Pipe,
    LParen,
    RParen,
    Declare,
    Comma,
}

#[derive(Debug, Clone)]
struct Token {
    tk: Tk,
    off: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(s: &str, base: usize) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|(_, c)| *c);
    let off = |i: usize| base + chars.get(i).map_or(s.len(), |(o, _)| *o);
    let mut toks = Vec::new();
    let mut i = 0;
    // Reads `.a.b.c` segments starting at a `.`; returns them and the index after.
    let segments = |mut i: usize| -> Result<(Vec<String>, usize), SyntaxError> {
        let mut segs = Vec::new();
        while at(i) == Some('.') && at(i + 1).is_some_and(is_ident_start) {
            let start = i + 1;
            i = start;
            while at(i).is_some_and(is_ident) {
                i += 1;
            }
            segs.push(chars[start..i].iter().map(|(_, c)| c).collect());
        }
        if at(i) == Some('.') {
            return err("bad field or variable reference", off(i));
        }
        Ok((segs, i))
    };
    while let Some(c) = at(i) {
        let start = i;
        let tk = match c {
            _ if is_space(c) => {
                i += 1;
                continue;
            }
            '|' => {
                i += 1;
                Tk::Pipe
            }
            '(' => {
                i += 1;
                Tk::LParen
            }
            ')' => {
                i += 1;
                Tk::RParen
            }
            ',' => {
                i += 1;
                Tk::Comma
            }
            ':' if at(i + 1) == Some('=') => {
                i += 2;
                Tk::Declare
            }
            '=' => return err("variable assignment is not supported", off(i)),
            '.' if at(i + 1).is_some_and(|n| n.is_ascii_digit()) => {
                let (n, j) = number(&chars, i, base, s.len())?;
                i = j;
                Tk::Num(n)
            }
            '.' => {
                if at(i + 1).is_some_and(is_ident_start) {
                    let (segs, j) = segments(i)?;
                    i = j;
                    Tk::Field(segs)
                } else if at(i + 1).is_none_or(|n| is_space(n) || n == ')' || n == '|') {
                    i += 1;
                    Tk::Field(Vec::new())
                } else {
                    return err("bad field reference", off(i));
                }
            }
            '$' => {
                let mut j = i + 1;
                while at(j).is_some_and(is_ident) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().map(|(_, c)| c).collect();
                let (segs, k) = segments(j)?;
                i = k;
                Tk::Var(name, segs)
            }
            '"' => {
                let (v, j) = go_string(&chars, i, base, s.len())?;
                i = j;
                Tk::Str(v)
            }
            '`' => {
                let mut j = i + 1;
                while at(j).is_some_and(|c| c != '`') {
                    j += 1;
                }
                if at(j).is_none() {
                    return err("unterminated raw string", off(i));
                }
                let v = chars[i + 1..j].iter().map(|(_, c)| c).collect();
                i = j + 1;
                Tk::Str(v)
            }
            '\'' => {
                return err(
                    "character constants are not supported; use a \"string\"",
                    off(i),
                );
            }
            _ if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && at(i + 1).is_some_and(|n| n.is_ascii_digit() || n == '.')) =>
            {
                let (n, j) = number(&chars, i, base, s.len())?;
                i = j;
                Tk::Num(n)
            }
            _ if is_ident_start(c) => {
                let mut j = i;
                while at(j).is_some_and(is_ident) {
                    j += 1;
                }
                let first: String = chars[i..j].iter().map(|(_, c)| c).collect();
                let (mut segs, k) = segments(j)?;
                i = k;
                match (first.as_str(), segs.is_empty()) {
                    ("true", true) => Tk::Bool(true),
                    ("false", true) => Tk::Bool(false),
                    ("nil", true) => Tk::Nil,
                    _ => {
                        segs.insert(0, first);
                        Tk::Ident(segs)
                    }
                }
            }
            _ => return err(format!("unexpected \"{c}\" in action"), off(i)),
        };
        toks.push(Token {
            tk,
            off: off(start),
        });
    }
    Ok(toks)
}

/// A Go number literal at `chars[i]`, converted to handlebars' literal syntax.
fn number(
    chars: &[(usize, char)],
    i: usize,
    base: usize,
    len: usize,
) -> Result<(String, usize), SyntaxError> {
    let mut j = i + 1;
    while let Some(&(_, c)) = chars.get(j) {
        let prev = chars[j - 1].1;
        let sign_ok = (c == '+' || c == '-') && matches!(prev, 'e' | 'E');
        if c.is_ascii_alphanumeric() || c == '_' || c == '.' || sign_ok {
            j += 1;
        } else {
            break;
        }
    }
    let text: String = chars[i..j]
        .iter()
        .map(|(_, c)| *c)
        .filter(|c| *c != '_')
        .collect();
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text.trim_start_matches('+')),
    };
    let radix = |p: &str, r: u32| {
        digits
            .strip_prefix(p)
            .or_else(|| digits.strip_prefix(&p.to_uppercase()))
            .and_then(|d| i64::from_str_radix(d, r).ok())
    };
    let int = radix("0x", 16)
        .or_else(|| radix("0o", 8))
        .or_else(|| radix("0b", 2))
        .or_else(|| digits.parse::<i64>().ok());
    let out = match int {
        Some(v) => (if neg { -v } else { v }).to_string(),
        None => match digits.parse::<f64>() {
            Ok(f) if f.is_finite() && !digits.contains(['x', 'X']) => {
                format!("{}", if neg { -f } else { f })
            }
            _ => {
                let at = base + chars.get(i).map_or(len, |(o, _)| *o);
                return err(format!("bad number syntax: \"{text}\""), at);
            }
        },
    };
    Ok((out, j))
}

/// A Go interpreted string literal at `chars[i]` (a `"`), decoded.
fn go_string(
    chars: &[(usize, char)],
    i: usize,
    base: usize,
    len: usize,
) -> Result<(String, usize), SyntaxError> {
    let off = |k: usize| base + chars.get(k).map_or(len, |(o, _)| *o);
    let mut out = String::new();
    let mut j = i + 1;
    loop {
        let Some(&(_, c)) = chars.get(j) else {
            return err("unterminated quoted string", off(i));
        };
        match c {
            '"' => return Ok((out, j + 1)),
            '\n' => return err("unterminated quoted string", off(i)),
            '\\' => {
                let Some(&(_, e)) = chars.get(j + 1) else {
                    return err("unterminated quoted string", off(i));
                };
                let simple = match e {
                    'a' => Some('\u{7}'),
                    'b' => Some('\u{8}'),
                    'f' => Some('\u{c}'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\u{b}'),
                    '\\' => Some('\\'),
                    '"' => Some('"'),
                    '\'' => Some('\''),
                    _ => None,
                };
                if let Some(ch) = simple {
                    out.push(ch);
                    j += 2;
                    continue;
                }
                let (n, r) = match e {
                    'x' => (2, 16),
                    'u' => (4, 16),
                    'U' => (8, 16),
                    '0'..='7' => (3, 8),
                    _ => return err(format!("unknown escape sequence \\{e}"), off(j)),
                };
                let from = if r == 8 { j + 1 } else { j + 2 };
                let digits: String = chars.iter().skip(from).take(n).map(|(_, c)| c).collect();
                let ch = (digits.chars().count() == n)
                    .then(|| u32::from_str_radix(&digits, r).ok())
                    .flatten()
                    .and_then(char::from_u32);
                let Some(ch) = ch else {
                    return err(format!("bad escape sequence \\{e}{digits}"), off(j));
                };
                out.push(ch);
                j = from + n;
            }
            _ => {
                out.push(c);
                j += 1;
            }
        }
    }
}

/// A translated Go expression.
#[derive(Debug, Clone)]
enum Expr {
    /// A data reference in handlebars path syntax, with its original offset.
    Path { hb: String, off: usize },
    /// A literal in handlebars syntax.
    Lit(String),
    /// A helper call.
    Call {
        helper: &'static str,
        args: Vec<Expr>,
    },
}

/// Handlebars path syntax for segments, bracketing the ones handlebars would misread.
fn hb_segments(segs: &[String]) -> String {
    segs.iter()
        .map(|s| {
            let plain = s.chars().next().is_some_and(is_ident_start)
                && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !matches!(
                    s.as_str(),
                    "as" | "else" | "this" | "true" | "false" | "null"
                );
            if plain { s.clone() } else { format!("[{s}]") }
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Expr {
    /// As a helper argument.
    fn arg(&self) -> String {
        match self {
            Expr::Path { hb, .. } => hb.clone(),
            Expr::Lit(l) => l.clone(),
            Expr::Call { helper, args } if args.is_empty() => {
                // Only `print` takes no arguments; handlebars needs one inside parentheses.
                let _ = helper;
                "\"\"".to_owned()
            }
            Expr::Call { helper, args } => format!("({helper} {})", join_args(args)),
        }
    }

    /// As the parameter of a block helper (`#if`, `#with`).
    fn param(&self) -> String {
        self.arg()
    }

    /// As the whole content of an output action `{{…}}`. Values go through `print`, which
    /// writes structures (elements of a ranged JSON array) as JSON, and makes a variable named
    /// like a helper (`{{.upper}}`) read as the variable.
    fn output(&self) -> String {
        match self {
            Expr::Path { hb, .. } => format!("print {hb}"),
            Expr::Lit(l) => format!("print {l}"),
            Expr::Call { helper, args } if args.is_empty() => format!("{helper} \"\""),
            Expr::Call { helper, args } => format!("{helper} {}", join_args(args)),
        }
    }

    fn collect_refs(&self, refs: &mut RefList) {
        match self {
            Expr::Path { hb, off, .. } => refs.push((hb.clone(), *off)),
            Expr::Lit(_) => {}
            Expr::Call { args, .. } => args.iter().for_each(|a| a.collect_refs(refs)),
        }
    }
}

fn join_args(args: &[Expr]) -> String {
    args.iter().map(Expr::arg).collect::<Vec<_>>().join(" ")
}

struct Parser<'a> {
    toks: &'a [Token],
    i: usize,
    /// Offset just past the action body, for errors at its end.
    end: usize,
    stack: &'a [Block],
    /// Variables declared by the action being parsed (`range $e := …`), not yet on the stack.
    extra: &'a [String],
}

/// A command's first word: a function to call, or a value.
enum Head {
    Func(&'static str, &'static str, usize, Option<usize>, usize),
    Value(Expr),
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.toks.get(self.i)
    }

    fn off(&self) -> usize {
        self.peek().map_or(self.end, |t| t.off)
    }

    fn finish(&self) -> Result<(), SyntaxError> {
        match self.peek() {
            None => Ok(()),
            Some(t) if t.tk == Tk::RParen => err("unexpected right paren", t.off),
            Some(t) => err("unexpected text in action", t.off),
        }
    }

    /// `command ('|' command)*`: each stage receives the previous value as its last argument.
    fn pipeline(&mut self) -> Result<Expr, SyntaxError> {
        if self.peek().is_none() {
            return err("missing value in action", self.off());
        }
        let mut value = self.command(None)?;
        while self.peek().is_some_and(|t| t.tk == Tk::Pipe) {
            self.i += 1;
            value = self.command(Some(value))?;
        }
        Ok(value)
    }

    fn command(&mut self, piped: Option<Expr>) -> Result<Expr, SyntaxError> {
        let head_off = self.off();
        let head = self.head(piped.is_some())?;
        let mut args = Vec::new();
        while let Some(t) = self.peek() {
            if matches!(t.tk, Tk::Pipe | Tk::RParen) {
                break;
            }
            args.push(self.operand()?);
        }
        match head {
            Head::Func(name, helper, min, max, off) => {
                if let Some(p) = piped {
                    args.push(p);
                }
                let n = args.len();
                if n < min || max.is_some_and(|m| n > m) {
                    let want = match max {
                        Some(m) if m == min => format!("{min}"),
                        Some(m) => format!("{min} to {m}"),
                        None => format!("at least {min}"),
                    };
                    return err(
                        format!("wrong number of args for {name}: want {want} got {n}"),
                        off,
                    );
                }
                Ok(Expr::Call { helper, args })
            }
            Head::Value(v) => {
                if piped.is_some() {
                    return err("a pipeline stage must be a function call", head_off);
                }
                if !args.is_empty() {
                    return err("can't give arguments to a non-function", head_off);
                }
                Ok(v)
            }
        }
    }

    fn head(&mut self, in_pipe: bool) -> Result<Head, SyntaxError> {
        let Some(t) = self.peek().cloned() else {
            return err("missing command in pipeline", self.off());
        };
        if let Tk::Ident(segs) = &t.tk {
            let more = self
                .toks
                .get(self.i + 1)
                .is_some_and(|n| !matches!(n.tk, Tk::Pipe | Tk::RParen));
            if segs.len() == 1 {
                if let Some((name, helper, min, max)) = function(&segs[0]) {
                    self.i += 1;
                    return Ok(Head::Func(name, helper, min, max, t.off));
                }
                if more || in_pipe {
                    return err(format!("function \"{}\" not defined", segs[0]), t.off);
                }
            }
        }
        Ok(Head::Value(self.operand()?))
    }

    fn operand(&mut self) -> Result<Expr, SyntaxError> {
        let Some(t) = self.peek().cloned() else {
            return err("missing operand", self.off());
        };
        self.i += 1;
        Ok(match t.tk {
            Tk::Field(segs) => {
                if segs.is_empty() {
                    Expr::Path {
                        hb: "this".to_owned(),
                        off: t.off,
                    }
                } else {
                    Expr::Path {
                        hb: hb_segments(&segs),
                        off: t.off,
                    }
                }
            }
            Tk::Ident(segs) => Expr::Path {
                hb: hb_segments(&segs),
                off: t.off,
            },
            Tk::Var(name, segs) => {
                let base = if name.is_empty() {
                    "@root".to_owned()
                } else {
                    let var = format!("${name}");
                    let declared = self.extra.contains(&var)
                        || self.stack.iter().any(|b| b.vars.contains(&var));
                    if !declared {
                        return err(format!("undefined variable \"{var}\""), t.off);
                    }
                    var
                };
                let hb = if segs.is_empty() {
                    base
                } else {
                    format!("{base}.{}", hb_segments(&segs))
                };
                Expr::Path { hb, off: t.off }
            }
            Tk::Str(s) => Expr::Lit(serde_json::Value::String(s).to_string()),
            Tk::Num(n) => Expr::Lit(n),
            Tk::Bool(b) => Expr::Lit(b.to_string()),
            Tk::Nil => Expr::Lit("null".to_owned()),
            Tk::LParen => {
                let inner = self.pipeline()?;
                match self.peek() {
                    Some(c) if c.tk == Tk::RParen => self.i += 1,
                    _ => return err("unclosed left paren", t.off),
                }
                inner
            }
            Tk::RParen => return err("unexpected right paren", t.off),
            Tk::Pipe => return err("missing value for command", t.off),
            Tk::Comma | Tk::Declare => {
                return err("variable declarations are only supported in range", t.off);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hb(src: &str) -> String {
        match translate(src) {
            Ok(t) => t.source,
            Err(e) => panic!("translate {src:?}: {e:?}"),
        }
    }

    #[test]
    fn go_actions_become_handlebars() {
        assert_eq!(hb("a {{.x}} b"), "a {{print x}} b");
        assert_eq!(hb("{{- .env.x -}}"), "{{~print env.x~}}");
        assert_eq!(
            hb(r#"{{.x | default "a" | upper}}"#),
            r#"{{upper (gotmpl_default "a" x)}}"#
        );
        assert_eq!(hb(r#"{{default "y" .x}}"#), r#"{{gotmpl_default "y" x}}"#);
        assert_eq!(
            hb(r#"{{if eq .a "b"}}1{{else if .c}}2{{end}}"#),
            r#"{{#if (eq a "b")}}{{gotmpl_keep}}1{{else if c}}{{gotmpl_keep}}2{{/if}}{{gotmpl_keep}}"#
        );
        assert_eq!(
            hb("{{range $i, $e := .l}}{{$e}}{{end}}"),
            "{{#each (gotmpl_iter l) as |$e $i|}}{{gotmpl_keep}}{{print $e}}{{/each}}{{gotmpl_keep}}"
        );
        assert_eq!(hb("{{$.x}}"), "{{print @root.x}}");
        assert_eq!(hb("{{.null}}"), "{{print [null]}}");
    }

    #[test]
    fn native_actions_are_copied() {
        assert_eq!(
            hb("{{x}} {{#if y}}{{upper x}}{{/if}}"),
            "{{x}} {{#if y}}{{upper x}}{{/if}}"
        );
        assert_eq!(
            hb("{{#each l as |e|}}{{e}}{{/each}}"),
            "{{#each (gotmpl_iter l) as |e|}}{{e}}{{/each}}"
        );
        assert_eq!(
            hb("{{../x}} {{this.y}} {{@index}}"),
            "{{../x}} {{this.y}} {{@index}}"
        );
    }

    #[test]
    fn segments_map_back_to_the_original() {
        let src = "ab {{.x}} cd";
        let t = match translate(src) {
            Ok(t) => t,
            Err(e) => panic!("{e:?}"),
        };
        // "ab " is copied, the action becomes "{{print x}}", " cd" is copied
        assert_eq!(t.original_offset(1, src.len()), 1);
        assert_eq!(t.original_offset(5, src.len()), 3);
        let cd = t.source.find("cd").unwrap_or_default();
        assert_eq!(
            t.original_offset(cd, src.len()),
            src.find("cd").unwrap_or_default()
        );
    }

    #[test]
    fn go_detection() {
        assert!(is_go_ish(".x"));
        assert!(is_go_ish("default \"y\" .x"));
        assert!(is_go_ish("x | upper"));
        assert!(is_go_ish("$x"));
        assert!(is_go_ish("\"lit\""));
        assert!(!is_go_ish("x"));
        assert!(!is_go_ish("../x"));
        assert!(!is_go_ish("this.x"));
        assert!(!is_go_ish("default x \"a.b | c\""));
    }
}
