//! YAML with a location on every node, and the strict decoding helpers built on it.
//!
//! Why not `serde` straight into structs: users need *every* problem of a file at once, each
//! with file:line:col, a did-you-mean for unknown keys, and messages that name the key path
//! (`up.request.headers`). serde stops at the first error and knows no key paths, so instead the
//! file is parsed with the event parser that `serde-saphyr` re-exports (`granit_parser`) into a
//! small tree of [`Node`]s, and the config and migration loaders walk that tree with the helpers
//! below, pushing [`Diagnostic`]s into [`Problems`] and carrying on.
//!
//! Scalars keep their source text: a string field accepts any scalar as written (`3` → `"3"`,
//! `true` → `"true"`, like the Go original), and free-form values (`auth.config`, `params`, a
//! mapping `body`) are converted to JSON with YAML 1.2 core-schema typing.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

use super::duration::parse_duration;
use super::error::LoadError;
use super::model::Pair;
use super::schema::{PAIR, Section, Shape};
use crate::report::{Diagnostic, Located, Location, did_you_mean};

/// One YAML value with the place it starts in the file.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) location: Location,
    pub(crate) kind: NodeKind,
}

/// The three shapes a YAML value can take.
#[derive(Debug, Clone)]
pub(crate) enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

/// A scalar as written. `resolvable` is false for quoted, block and `!!str` scalars: those are
/// always strings, while a plain `3` or `true` may be a number or a boolean where one is wanted.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) text: String,
    pub(crate) resolvable: bool,
}

/// One `key: value` of a mapping; keys are always strings here.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_location: Location,
    pub(crate) value: Node,
}

/// What a plain scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved<'a> {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(&'a str),
}

impl Scalar {
    pub(crate) fn resolve(&self) -> Resolved<'_> {
        if !self.resolvable {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Resolved::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        if let Some(i) = parse_int(t) {
            return Resolved::Int(i);
        }
        if looks_like_float(t)
            && let Ok(f) = t.parse::<f64>()
        {
            return Resolved::Float(f);
        }
        Resolved::Str(t)
    }
}

fn parse_int(t: &str) -> Option<i128> {
    let (neg, body) = match t.as_bytes().first()? {
        b'-' => (true, &t[1..]),
        b'+' => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(h) = body.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = body.strip_prefix("0o") {
        (8, o)
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -v } else { v })
}

fn looks_like_float(t: &str) -> bool {
    let body = t.strip_prefix(['-', '+']).unwrap_or(t);
    body.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && body.chars().any(|c| c.is_ascii_digit())
        && body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
}

impl Node {
    /// A null value at `location`: what an empty file reads as.
    pub(crate) fn null(location: Location) -> Node {
        Node {
            location,
            kind: NodeKind::Scalar(Scalar {
                text: String::new(),
                resolvable: true,
            }),
        }
    }

    /// "a mapping", "a list", ...: how messages name what was found.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Map(_) => "a mapping",
            NodeKind::Seq(_) => "a list",
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Null => "nothing (null)",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) | Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
        }
    }

    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar(s) if s.resolve() == Resolved::Null)
    }

    /// The value as JSON: the form free-form sections (`auth.config`, `params`, a mapping
    /// `body`) are handed on in. Numbers too large for JSON and `.inf`/`.nan` stay strings.
    pub(crate) fn to_json(&self) -> Value {
        match &self.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => i64::try_from(i)
                    .map(Value::from)
                    .or_else(|_| u64::try_from(i).map(Value::from))
                    .unwrap_or_else(|_| Value::String(s.text.clone())),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(s.text.clone())),
                Resolved::Str(t) => Value::String(t.to_string()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Parse `text` (the contents of `file`) into its single document. `Ok(None)` for a file with no
/// content at all (only comments or whitespace).
pub(crate) fn parse(file: &Path, text: &str) -> Result<Option<Node>, Diagnostic> {
    let mut builder = Builder {
        file,
        stack: Vec::new(),
        anchors: Vec::new(),
        root: None,
        documents: 0,
    };
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| {
            let m = e.marker();
            Diagnostic::at(
                Location::new(file, m.line(), m.col() + 1),
                format!("invalid YAML: {}", e.info()),
            )
            .with_hint("check the indentation and quoting on this line and the one before it")
        })?;
        builder.event(event, span)?;
    }
    Ok(builder.root)
}

enum Frame {
    Seq {
        location: Location,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        location: Location,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<(String, Location)>,
        merges: Vec<Node>,
    },
}

struct Builder<'a> {
    file: &'a Path,
    stack: Vec<Frame>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn loc(&self, span: &Span) -> Location {
        Location::new(self.file, span.start.line(), span.start.col() + 1)
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Result<(), Diagnostic> {
        match event {
            Event::DocumentStart(..) => {
                self.documents += 1;
            }
            Event::Scalar(text, style, anchor, tag) => {
                let location = self.loc(&span);
                let mut resolvable = matches!(style, ScalarStyle::Plain);
                if let Some(tag) = tag {
                    match (tag.handle(), tag.suffix()) {
                        ("tag:yaml.org,2002:", "str") => resolvable = false,
                        ("tag:yaml.org,2002:", "int" | "float" | "bool" | "null") => {}
                        (handle, suffix) => {
                            return Err(Diagnostic::at(
                                location,
                                format!("unsupported YAML tag `{handle}{suffix}`"),
                            )
                            .with_hint("remove the tag: apirun files use plain YAML values"));
                        }
                    }
                }
                let node = Node {
                    location,
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        resolvable,
                    }),
                };
                self.finish_node(node, anchor)?;
            }
            Event::SequenceStart(_, anchor, _) => {
                let location = self.loc(&span);
                self.stack.push(Frame::Seq {
                    location,
                    anchor,
                    items: Vec::new(),
                });
            }
            Event::MappingStart(_, anchor, _) => {
                let location = self.loc(&span);
                self.stack.push(Frame::Map {
                    location,
                    anchor,
                    entries: Vec::new(),
                    key: None,
                    merges: Vec::new(),
                });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq {
                    location,
                    anchor,
                    items,
                }) = self.stack.pop()
                {
                    self.finish_node(
                        Node {
                            location,
                            kind: NodeKind::Seq(items),
                        },
                        anchor,
                    )?;
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map {
                    location,
                    anchor,
                    mut entries,
                    merges,
                    ..
                }) = self.stack.pop()
                {
                    apply_merges(&mut entries, merges)?;
                    self.finish_node(
                        Node {
                            location,
                            kind: NodeKind::Map(entries),
                        },
                        anchor,
                    )?;
                }
            }
            Event::Alias(id) => {
                let location = self.loc(&span);
                let target = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone())
                    .ok_or_else(|| {
                        Diagnostic::at(
                            location,
                            "alias refers to an anchor that is not defined before it",
                        )
                    })?;
                self.finish_node(target, 0)?;
            }
            _ => {}
        }
        Ok(())
    }

    fn finish_node(&mut self, node: Node, anchor: usize) -> Result<(), Diagnostic> {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            None => {
                if self.documents > 1 && !node.is_null() {
                    return Err(Diagnostic::at(
                        node.location,
                        "a second YAML document (after `---`) in the same file",
                    )
                    .with_hint("an apirun file holds one document: remove the `---` line and what follows it, or merge it into the first"));
                }
                if self.root.is_none() || self.root.as_ref().is_some_and(Node::is_null) {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                key,
                merges,
                ..
            }) => match key.take() {
                None => {
                    let what = node.describe();
                    match node.kind {
                        NodeKind::Scalar(s) => *key = Some((s.text, node.location)),
                        _ => {
                            return Err(Diagnostic::at(
                                node.location,
                                format!("a mapping key must be a plain string, found {what}"),
                            ));
                        }
                    }
                }
                Some((k, key_location)) => {
                    if k == "<<" {
                        merges.push(node);
                    } else if let Some(first) = entries.iter().find(|e| e.key == k) {
                        return Err(Diagnostic::at(key_location, format!("duplicate key `{k}`"))
                            .with_hint(format!(
                                "`{k}` is already set on line {}; keep one of them",
                                first.key_location.line
                            )));
                    } else {
                        entries.push(Entry {
                            key: k,
                            key_location,
                            value: node,
                        });
                    }
                }
            },
        }
        Ok(())
    }
}

/// YAML merge keys (`<<: *defaults`): entries of the merged mappings that the mapping does not
/// set itself are added after its own entries.
fn apply_merges(entries: &mut Vec<Entry>, merges: Vec<Node>) -> Result<(), Diagnostic> {
    for merge in merges {
        let sources = match merge.kind {
            NodeKind::Map(m) => vec![m],
            NodeKind::Seq(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item.kind {
                        NodeKind::Map(m) => maps.push(m),
                        _ => return Err(merge_error(&item)),
                    }
                }
                maps
            }
            NodeKind::Scalar(_) => return Err(merge_error(&merge)),
        };
        for source in sources {
            for entry in source {
                if !entries.iter().any(|e| e.key == entry.key) {
                    entries.push(entry);
                }
            }
        }
    }
    Ok(())
}

fn merge_error(node: &Node) -> Diagnostic {
    Diagnostic::at(
        node.location.clone(),
        format!(
            "a merge key `<<` needs a mapping or a list of mappings, found {}",
            node.describe()
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Collecting problems

/// Every problem found while decoding one or more files, so `validate` can show them all.
#[derive(Debug, Default)]
pub(crate) struct Problems {
    list: Vec<Diagnostic>,
}

impl Problems {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn push(&mut self, diagnostic: Diagnostic) {
        self.list.push(diagnostic);
    }

    /// Every problem so far as an error, for decoders that cannot go on.
    pub(crate) fn into_error(self) -> LoadError {
        LoadError::Invalid(sorted(self.list))
    }

    /// `value` if nothing went wrong, else every problem in file order.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, LoadError> {
        if self.list.is_empty() {
            Ok(value)
        } else {
            Err(LoadError::Invalid(sorted(self.list)))
        }
    }
}

/// Diagnostics in a stable order: by file, line and column; those without a place first.
pub(crate) fn sorted(mut list: Vec<Diagnostic>) -> Vec<Diagnostic> {
    list.sort_by(|a, b| a.location.cmp(&b.location));
    list
}

/// "`store.type` must be a string, found a mapping".
pub(crate) fn type_error(node: &Node, path: &str, expected: &str) -> Diagnostic {
    Diagnostic::at(
        node.location.clone(),
        format!("`{path}` must be {expected}, found {}", node.describe()),
    )
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `path[i]`: how messages name a list item.
pub(crate) fn item_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Backtick-quoted, comma-separated: how messages list valid keys or values.
pub(crate) fn list_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Decoding single values

/// Any scalar as its text (`3` → "3"); `None` (and a problem) for a mapping or a list. Null
/// becomes "" (as in the Go original).
pub(crate) fn string(node: &Node, path: &str, p: &mut Problems) -> Option<Located<String>> {
    match &node.kind {
        NodeKind::Scalar(s) => {
            let text = if s.resolve() == Resolved::Null {
                String::new()
            } else {
                s.text.clone()
            };
            Some(Located::new(text, node.location.clone()))
        }
        _ => {
            p.push(type_error(node, path, "a string"));
            None
        }
    }
}

/// A non-empty string (trimmed); null and blank are reported as missing.
pub(crate) fn required_string(
    node: &Node,
    path: &str,
    p: &mut Problems,
) -> Option<Located<String>> {
    let s = string(node, path, p)?;
    if s.value.trim().is_empty() {
        p.push(Diagnostic::at(
            s.location,
            format!("`{path}` must not be empty"),
        ));
        return None;
    }
    Some(Located::new(s.value.trim().to_string(), s.location))
}

/// `true`/`false` (also `yes`/`no`/`on`/`off`, which yaml.v3 accepted for boolean fields).
pub(crate) fn boolean(node: &Node, path: &str, p: &mut Problems) -> Option<bool> {
    if let NodeKind::Scalar(s) = &node.kind
        && s.resolvable
    {
        match s.text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => return Some(true),
            "false" | "no" | "off" | "n" => return Some(false),
            _ => {}
        }
    }
    p.push(type_error(node, path, "`true` or `false`"));
    None
}

/// A non-negative integer; a quoted number (`"200"`) is accepted too.
pub(crate) fn unsigned(node: &Node, path: &str, p: &mut Problems) -> Option<u64> {
    if let NodeKind::Scalar(s) = &node.kind {
        let t = s.text.trim();
        if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
            if let Ok(v) = t.parse::<u64>() {
                return Some(v);
            }
            p.push(Diagnostic::at(
                node.location.clone(),
                format!("`{path}` is too large: {t}"),
            ));
            return None;
        }
    }
    p.push(type_error(node, path, "a whole number"));
    None
}

/// A Go-style duration (`30s`, `1m30s`, `500ms`); `0` means zero.
pub(crate) fn duration(node: &Node, path: &str, p: &mut Problems) -> Option<Located<Duration>> {
    let text = string(node, path, p)?;
    match parse_duration(&text.value) {
        Ok(d) => Some(Located::new(d, text.location)),
        Err(e) => {
            p.push(
                Diagnostic::at(text.location, format!("invalid duration for `{path}`: {e}"))
                    .with_hint("write a number with a unit, e.g. `500ms`, `30s`, `1m30s` or `2h` (units: ns, us, ms, s, m, h)"),
            );
            None
        }
    }
}

/// One of a fixed set of words, compared case-insensitively after trimming; otherwise a problem
/// listing the valid words (with a did-you-mean when one is close).
pub(crate) fn one_of<T: Copy>(
    node: &Node,
    path: &str,
    choices: &[(&str, T)],
    p: &mut Problems,
) -> Option<T> {
    let text = string(node, path, p)?;
    let word = text.value.trim().to_ascii_lowercase();
    if let Some((_, v)) = choices.iter().find(|(name, _)| *name == word) {
        return Some(*v);
    }
    let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
    let hint = match did_you_mean(&word, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("valid values: {}", list_names(names.iter().copied())),
    };
    p.push(
        Diagnostic::at(text.location, format!("invalid `{path}`: `{}`", text.value))
            .with_hint(hint),
    );
    None
}

/// A list of strings; a single scalar is accepted as a one-element list when `allow_scalar`.
pub(crate) fn string_list(
    node: &Node,
    path: &str,
    allow_scalar: bool,
    p: &mut Problems,
) -> Vec<Located<String>> {
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| string(item, &item_path(path, i), p))
            .collect(),
        NodeKind::Scalar(_) if node.is_null() => Vec::new(),
        NodeKind::Scalar(_) if allow_scalar => string(node, path, p).into_iter().collect(),
        _ => {
            p.push(type_error(node, path, "a list of strings"));
            Vec::new()
        }
    }
}

/// A mapping of names to scalars, in file order (`env`, `env_from`): values become strings.
pub(crate) fn scalar_map(
    node: &Node,
    path: &str,
    p: &mut Problems,
) -> Vec<(String, Located<String>)> {
    match &node.kind {
        NodeKind::Map(entries) => entries
            .iter()
            .filter_map(|e| string(&e.value, &join(path, &e.key), p).map(|v| (e.key.clone(), v)))
            .collect(),
        _ if node.is_null() => Vec::new(),
        _ => {
            p.push(type_error(node, path, "a mapping of names to values"));
            Vec::new()
        }
    }
}

/// A list of `{name, value}` entries (headers, queries). A mapping is refused, as the Go original
/// refused it, with a hint showing the list form of the user's own first entry.
pub(crate) fn pairs(node: &Node, path: &str, p: &mut Problems) -> Vec<Pair> {
    match &node.kind {
        NodeKind::Seq(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let ipath = item_path(path, i);
                let Some(f) = Fields::new(item, &ipath, &PAIR, p) else {
                    continue;
                };
                let name = f.required_string("name", p);
                let value = match f.get("value") {
                    Some(v) => string(v, &f.child("value"), p),
                    None => Some(Located::new(String::new(), f.location().clone())),
                };
                if let (Some(name), Some(value)) = (name, value) {
                    out.push(Pair {
                        name: name.value,
                        value,
                    });
                }
            }
            out
        }
        _ if node.is_null() => Vec::new(),
        NodeKind::Map(entries) => {
            let (name, value) = entries
                .first()
                .map(|e| {
                    let v = match &e.value.kind {
                        NodeKind::Scalar(s) => s.text.clone(),
                        _ => "...".to_string(),
                    };
                    (e.key.clone(), v)
                })
                .unwrap_or_else(|| ("X".to_string(), "Y".to_string()));
            p.push(
                type_error(node, path, "a list of `{name, value}` entries").with_hint(format!(
                    "write it as a list:\n       - name: {name}\n         value: {value}"
                )),
            );
            Vec::new()
        }
        NodeKind::Scalar(_) => {
            p.push(type_error(node, path, "a list of `{name, value}` entries"));
            Vec::new()
        }
    }
}

/// A sequence's items, or a problem; null is an empty list.
pub(crate) fn seq<'n>(
    node: &'n Node,
    path: &str,
    expected: &str,
    p: &mut Problems,
) -> Option<&'n [Node]> {
    match &node.kind {
        NodeKind::Seq(items) => Some(items),
        _ if node.is_null() => Some(&[]),
        _ => {
            p.push(type_error(node, path, expected));
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Decoding mappings with a fixed set of keys

/// Shapes read as text.
fn is_text(s: &Shape) -> bool {
    matches!(s, Shape::Text | Shape::Word(_) | Shape::Size)
}

/// A mapping whose keys were checked against its [`Section`] (unknown keys are reported with a
/// did-you-mean). Null reads as an empty mapping, so `wait:` with everything commented out works.
///
/// Only a declared key can be read (an undeclared one reads as absent), and in debug builds
/// each reader asserts that the key is declared with the shape it reads: the section is the
/// single source of what the loader accepts and of the JSON Schema (see [`super::schema`]).
pub(crate) struct Fields<'n> {
    path: String,
    location: Location,
    entries: &'n [Entry],
    section: &'static Section,
    /// Keys accepted beyond the section's, because the caller reported them already.
    extra: Vec<String>,
    /// Allowed keys that an unknown key was reported as a likely typo of: a "required" error
    /// for them would only repeat the problem.
    misspelled: Vec<String>,
}

impl<'n> Fields<'n> {
    pub(crate) fn new(
        node: &'n Node,
        path: &str,
        section: &'static Section,
        p: &mut Problems,
    ) -> Option<Self> {
        Self::with_extra(node, path, section, &[], p)
    }

    /// [`Fields::new`], also accepting `extra` keys that the caller has reported itself.
    pub(crate) fn with_extra(
        node: &'n Node,
        path: &str,
        section: &'static Section,
        extra: &[&str],
        p: &mut Problems,
    ) -> Option<Self> {
        let entries: &'n [Entry] = match &node.kind {
            NodeKind::Map(entries) => entries,
            _ if node.is_null() => &[],
            _ => {
                let what = if path.is_empty() { "the file" } else { path };
                p.push(Diagnostic::at(
                    node.location.clone(),
                    format!("`{what}` must be a mapping, found {}", node.describe()),
                ));
                return None;
            }
        };
        let mut misspelled = Vec::new();
        for e in entries {
            if section.key(&e.key).is_none() && !extra.contains(&e.key.as_str()) {
                let message = if path.is_empty() {
                    format!("unknown key `{}`", e.key)
                } else {
                    format!("unknown key `{}` in `{path}`", e.key)
                };
                let hint = match did_you_mean(&e.key, section.names()) {
                    Some(close) => {
                        misspelled.push(close.to_string());
                        format!("did you mean `{close}`?")
                    }
                    None => format!("valid keys: {}", list_names(section.names())),
                };
                p.push(Diagnostic::at(e.key_location.clone(), message).with_hint(hint));
            }
        }
        Some(Self {
            path: path.to_string(),
            location: node.location.clone(),
            entries,
            section,
            extra: extra.iter().map(|k| k.to_string()).collect(),
            misspelled,
        })
    }

    /// In debug builds: `key` must be declared with a shape `test` admits (it is read so).
    fn expect(&self, key: &str, what: &str, test: &dyn Fn(&Shape) -> bool) {
        if cfg!(debug_assertions)
            && let Some(k) = self.section.key(key)
        {
            assert!(
                k.shape.admits(test),
                "`{}` is read as {what}, but section `{}` declares it as {:?}",
                self.child(key),
                self.section.name,
                k.shape
            );
        }
    }

    fn declared(&self, key: &str) -> bool {
        self.section.key(key).is_some() || self.extra.iter().any(|k| k == key)
    }

    /// Report `key` as required, unless a misspelling of it was already reported.
    pub(crate) fn require(&self, key: &str, hint: Option<&str>, p: &mut Problems) {
        if self.misspelled.iter().any(|k| k == key) {
            return;
        }
        let at = self
            .entry(key)
            .map_or(&self.location, |e| &e.key_location)
            .clone();
        let mut d = Diagnostic::at(at, format!("`{}` is required", self.child(key)));
        if let Some(hint) = hint {
            d = d.with_hint(hint);
        }
        p.push(d);
    }

    /// Where the mapping starts.
    pub(crate) fn location(&self) -> &Location {
        &self.location
    }

    /// The key path of a child, for messages.
    pub(crate) fn child(&self, key: &str) -> String {
        join(&self.path, key)
    }

    pub(crate) fn entry(&self, key: &str) -> Option<&'n Entry> {
        if !self.declared(key) {
            return None;
        }
        self.entries.iter().find(|e| e.key == key)
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'n Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The value of `key` unless it is absent or null.
    pub(crate) fn present(&self, key: &str) -> Option<&'n Node> {
        self.get(key).filter(|n| !n.is_null())
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.present(key).is_some()
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &'n Entry> {
        self.entries.iter()
    }

    pub(crate) fn string(&self, key: &str, p: &mut Problems) -> Option<Located<String>> {
        self.expect(key, "text", &is_text);
        self.present(key)
            .and_then(|n| string(n, &self.child(key), p))
    }

    pub(crate) fn required_string(&self, key: &str, p: &mut Problems) -> Option<Located<String>> {
        self.expect(key, "text", &is_text);
        match self.present(key) {
            Some(n) => required_string(n, &self.child(key), p),
            None => {
                self.require(key, None, p);
                None
            }
        }
    }

    pub(crate) fn bool(&self, key: &str, p: &mut Problems) -> Option<bool> {
        self.expect(key, "a boolean", &|s| matches!(s, Shape::Bool));
        self.present(key)
            .and_then(|n| boolean(n, &self.child(key), p))
    }

    pub(crate) fn unsigned(&self, key: &str, p: &mut Problems) -> Option<Located<u64>> {
        self.expect(key, "a count", &|s| matches!(s, Shape::Count));
        let n = self.present(key)?;
        unsigned(n, &self.child(key), p).map(|v| Located::new(v, n.location.clone()))
    }

    pub(crate) fn duration(&self, key: &str, p: &mut Problems) -> Option<Located<Duration>> {
        self.expect(key, "a duration", &|s| matches!(s, Shape::Duration));
        self.present(key)
            .and_then(|n| duration(n, &self.child(key), p))
    }

    pub(crate) fn one_of<T: Copy>(
        &self,
        key: &str,
        choices: &[(&str, T)],
        p: &mut Problems,
    ) -> Option<T> {
        self.expect(key, "one of fixed words", &|s| {
            matches!(s, Shape::Word(words)
                if words.len() == choices.len()
                    && words.iter().zip(choices).all(|(w, (c, _))| w == c))
        });
        let n = self.present(key)?;
        if matches!(&n.kind, NodeKind::Scalar(s) if s.text.trim().is_empty()) {
            return None;
        }
        one_of(n, &self.child(key), choices, p)
    }

    pub(crate) fn fields(
        &self,
        key: &str,
        section: &'static Section,
        p: &mut Problems,
    ) -> Option<Fields<'n>> {
        self.expect(
            key,
            section.name,
            &|s| matches!(s, Shape::Section(d) if std::ptr::eq(*d, section)),
        );
        self.get(key)
            .and_then(|n| Fields::new(n, &self.child(key), section, p))
    }

    pub(crate) fn pairs(&self, key: &str, p: &mut Problems) -> Vec<Pair> {
        self.expect(key, "a list of name/value pairs", &|s| {
            matches!(s, Shape::Pairs)
        });
        self.get(key)
            .map(|n| pairs(n, &self.child(key), p))
            .unwrap_or_default()
    }

    pub(crate) fn scalar_map(&self, key: &str, p: &mut Problems) -> Vec<(String, Located<String>)> {
        self.expect(key, "a mapping of names to values", &|s| {
            matches!(s, Shape::Vars)
        });
        self.get(key)
            .map(|n| scalar_map(n, &self.child(key), p))
            .unwrap_or_default()
    }

    pub(crate) fn string_list(
        &self,
        key: &str,
        allow_scalar: bool,
        p: &mut Problems,
    ) -> Option<Vec<Located<String>>> {
        self.expect(
            key,
            "a list of strings",
            &|s| matches!(s, Shape::Texts { one_allowed } if *one_allowed == allow_scalar),
        );
        self.get(key)
            .map(|n| string_list(n, &self.child(key), allow_scalar, p))
    }

    /// A free-form mapping kept as JSON (`auth.config`, `params`).
    pub(crate) fn json_object(&self, key: &str, p: &mut Problems) -> Option<Located<Value>> {
        self.expect(key, "a mapping", &|s| matches!(s, Shape::Object));
        let n = self.present(key)?;
        match &n.kind {
            NodeKind::Map(_) => Some(Located::new(n.to_json(), n.location.clone())),
            _ => {
                p.push(type_error(n, &self.child(key), "a mapping"));
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn tree(text: &str) -> Node {
        parse(Path::new("t.yaml"), text)
            .expect("parses")
            .expect("has a document")
    }

    fn map_entries(node: &Node) -> &[Entry] {
        match &node.kind {
            NodeKind::Map(e) => e,
            _ => panic!("not a map"),
        }
    }

    #[test]
    fn locations_are_one_based_and_block_scalars_point_at_their_first_content_line() {
        let n = tree("# c\nup:\n  name: x\n  body: |\n    {\"a\": 1}\n  folded: >-\n\n    text\n");
        let up = &map_entries(&n)[0];
        assert_eq!((up.key_location.line, up.key_location.column), (2, 1));
        let inner = map_entries(&up.value);
        assert_eq!(
            (inner[0].value.location.line, inner[0].value.location.column),
            (3, 9)
        );
        assert_eq!(
            (inner[1].value.location.line, inner[1].value.location.column),
            (5, 5)
        );
        assert_eq!(
            (inner[2].value.location.line, inner[2].value.location.column),
            (8, 5)
        );
        assert_eq!(inner[2].value.location.file, PathBuf::from("t.yaml"));
    }

    #[test]
    fn scalars_resolve_with_the_core_schema() {
        let n = tree(
            "a: 3\nb: '3'\nc: true\nd: ~\ne:\nf: 1.5\ng: 0x10\nh: text\ni: !!str 7\nj: .inf\nk: 1_0\n",
        );
        let json = n.to_json();
        assert_eq!(
            json.to_string(),
            r#"{"a":3,"b":"3","c":true,"d":null,"e":null,"f":1.5,"g":16,"h":"text","i":"7","j":".inf","k":"1_0"}"#
        );
    }

    #[test]
    fn anchors_aliases_and_merge_keys_are_expanded() {
        let n = tree("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\nlist: [*b]\n");
        assert_eq!(
            n.to_json().to_string(),
            r#"{"base":{"x":1,"y":2},"other":{"y":3,"x":1},"list":[{"x":1,"y":2}]}"#
        );
    }

    #[test]
    fn duplicate_keys_are_an_error_naming_both_lines() {
        let err = parse(Path::new("t.yaml"), "a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(
            err.location.as_ref().map(|l| (l.line, l.column)),
            Some((3, 1))
        );
        assert_eq!(
            err.hint.as_deref(),
            Some("`a` is already set on line 1; keep one of them")
        );
    }

    #[test]
    fn syntax_errors_carry_the_parser_location() {
        let err = parse(Path::new("t.yaml"), "up:\n  name: x\n  - bad\n").expect_err("syntax");
        assert!(err.message.starts_with("invalid YAML: "), "{}", err.message);
        assert_eq!(
            err.location.as_ref().map(|l| (l.line, l.column)),
            Some((3, 5))
        );
    }

    #[test]
    fn empty_file_and_comment_only_file_have_no_document() {
        assert!(parse(Path::new("t.yaml"), "").expect("ok").is_none());
        assert!(
            parse(Path::new("t.yaml"), "# only\n")
                .expect("ok")
                .is_none()
        );
    }

    #[test]
    fn a_second_document_is_refused_but_leading_marker_is_fine() {
        assert!(
            parse(Path::new("t.yaml"), "---\na: 1\n")
                .expect("ok")
                .is_some()
        );
        let err = parse(Path::new("t.yaml"), "a: 1\n---\nb: 2\n").expect_err("two docs");
        assert_eq!(err.location.as_ref().map(|l| l.line), Some(3));
        let trailing =
            parse(Path::new("t.yaml"), "a: 1\n---\n").expect("an empty second document is fine");
        assert_eq!(
            trailing.map(|n| n.to_json().to_string()),
            Some(r#"{"a":1}"#.to_string())
        );
        let crlf = parse(Path::new("t.yaml"), "a: 1\r\nb:\r\n  - x\r\n").expect("crlf");
        assert_eq!(
            crlf.map(|n| n.to_json().to_string()),
            Some(r#"{"a":1,"b":["x"]}"#.to_string())
        );
    }

    #[test]
    fn unknown_tags_are_refused() {
        let err = parse(Path::new("t.yaml"), "a: !Ref x\n").expect_err("tag");
        assert_eq!(err.message, "unsupported YAML tag `!Ref`");
    }

    use crate::config::schema::Key;

    static NAME_REQUEST: Section = Section {
        name: "t",
        doc: "",
        keys: &[
            Key::new("name", Shape::Text, ""),
            Key::new("request", Shape::Object, ""),
        ],
    };
    static HEADERS: Section = Section {
        name: "t",
        doc: "",
        keys: &[Key::new("headers", Shape::Pairs, "")],
    };
    static ABCD: Section = Section {
        name: "t",
        doc: "",
        keys: &[
            Key::new("a", Shape::Text, ""),
            Key::new("b", Shape::Text, ""),
            Key::new("c", Shape::Text, ""),
            Key::new("d", Shape::Text, ""),
        ],
    };

    #[test]
    fn fields_report_unknown_keys_with_suggestion_or_list() {
        let n = tree("nme: x\nzzzzzz: 1\n");
        let mut p = Problems::new();
        let f = Fields::new(&n, "up", &NAME_REQUEST, &mut p).expect("map");
        assert!(f.get("name").is_none());
        let list = p.list;
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].message, "unknown key `nme` in `up`");
        assert_eq!(list[0].hint.as_deref(), Some("did you mean `name`?"));
        assert_eq!(
            list[1].hint.as_deref(),
            Some("valid keys: `name`, `request`")
        );
    }

    #[test]
    fn pairs_refuse_a_mapping_with_a_list_hint() {
        let n = tree("headers:\n  Content-Type: application/json\n");
        let mut p = Problems::new();
        let f = Fields::new(&n, "", &HEADERS, &mut p).expect("map");
        assert!(f.pairs("headers", &mut p).is_empty());
        let d = &p.list[0];
        assert_eq!(
            d.message,
            "`headers` must be a list of `{name, value}` entries, found a mapping"
        );
        assert_eq!((d.location.as_ref().map(|l| l.line)), Some(2));
        assert_eq!(
            d.hint.as_deref(),
            Some(
                "write it as a list:\n       - name: Content-Type\n         value: application/json"
            )
        );
    }

    #[test]
    fn strings_accept_any_scalar_as_written() {
        let n = tree("a: 3.0\nb: true\nc:\nd: [1]\n");
        let mut p = Problems::new();
        let f = Fields::new(&n, "", &ABCD, &mut p).expect("map");
        assert_eq!(
            f.string("a", &mut p).map(|s| s.value),
            Some("3.0".to_string())
        );
        assert_eq!(
            f.string("b", &mut p).map(|s| s.value),
            Some("true".to_string())
        );
        assert_eq!(f.string("c", &mut p), None);
        assert_eq!(f.string("d", &mut p), None);
        assert_eq!(p.list[0].message, "`d` must be a string, found a list");
    }
}
