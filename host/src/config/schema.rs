//! The declared shape of apirun's YAML files: one table per mapping, used both by the loaders
//! (to refuse unknown keys, and in debug builds to check each key is read as the type it is
//! declared with) and by `apirun schema KIND` (to print a JSON Schema for editors).
//!
//! Why one table for both: a schema written by hand next to a hand-written decoder drifts the
//! first time someone adds a key to one and not the other. Here [`super::yaml::Fields`] can
//! only be built from a [`Section`], so a key the loader accepts is a key of the schema; the
//! schema is generated from the same sections, so a key of the schema is a key the loader
//! accepts; and `Fields`' typed readers assert (in debug builds, so in every test) that a key
//! is read as the [`Shape`] it declares, and that the words of a `one_of` are the words the
//! schema lists.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// One mapping of a file with a fixed set of keys (`store`, `request`, a stage).
#[derive(Debug)]
pub struct Section {
    /// The name of its definition in the JSON Schema (`$defs/<name>`); unique per file.
    pub name: &'static str,
    /// What the mapping is for.
    pub doc: &'static str,
    /// Its keys, in the order the docs list them.
    pub keys: &'static [Key],
}

/// One key of a [`Section`].
#[derive(Debug)]
pub struct Key {
    /// The key as written in YAML.
    pub name: &'static str,
    /// What its value may be.
    pub shape: Shape,
    /// What it does (shown by editors on hover).
    pub doc: &'static str,
    /// Whether the loader refuses the mapping without it.
    pub required: bool,
}

impl Key {
    /// An optional key.
    pub const fn new(name: &'static str, shape: Shape, doc: &'static str) -> Self {
        Self {
            name,
            shape,
            doc,
            required: false,
        }
    }

    /// A key the loader requires.
    pub const fn required(name: &'static str, shape: Shape, doc: &'static str) -> Self {
        Self {
            name,
            shape,
            doc,
            required: true,
        }
    }
}

/// What a value may be, as the loader reads it.
#[derive(Debug)]
pub enum Shape {
    /// Any scalar, read as the text written (`3` is `"3"`, as in the Go original).
    Text,
    /// One of these words, compared case-insensitively (the first is the canonical form).
    Word(&'static [&'static str]),
    /// `true`/`false` (also `yes`/`no`/`on`/`off`).
    Bool,
    /// A whole number ≥ 0 (a quoted number is accepted too).
    Count,
    /// A Go-style duration: `500ms`, `30s`, `1m30s`, `2h`; `0` is zero.
    Duration,
    /// A size: `64MiB`, `512KiB`, or a number of bytes.
    Size,
    /// A mapping with the keys of a section.
    Section(&'static Section),
    /// A list of values of one shape.
    List(&'static Shape),
    /// A list of scalars, or (when `one_allowed`) a single scalar meaning a list of one.
    Texts {
        /// Whether a single scalar is accepted as a one-element list.
        one_allowed: bool,
    },
    /// A list of `{name, value}` entries (headers, queries).
    Pairs,
    /// A mapping of names to scalars (`env`, `env_from`).
    Vars,
    /// A free-form mapping handed on as JSON (`auth.config`, `params`).
    Object,
    /// Anything: a string, or a mapping or list sent as its JSON text (`body`).
    Json,
    /// Any one of these.
    AnyOf(&'static [Shape]),
}

impl Shape {
    /// Whether this shape, or one of its alternatives, satisfies `test`.
    pub fn admits(&self, test: &dyn Fn(&Shape) -> bool) -> bool {
        match self {
            Shape::AnyOf(alternatives) => alternatives.iter().any(|a| a.admits(test)),
            other => test(other),
        }
    }
}

/// `{name, value}`: one header, query parameter or `wait` header.
pub static PAIR: Section = Section {
    name: "pair",
    doc: "A name and a templated value (a header or a query parameter).",
    keys: &[
        Key::required("name", Shape::Text, "The header or parameter name."),
        Key::new(
            "value",
            Shape::Text,
            "Its value; a template. Absent means empty.",
        ),
    ],
};

impl Section {
    /// The names of its keys, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + Clone + use<> {
        self.keys.iter().map(|k| k.name)
    }

    /// The key named `name`.
    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// Every section reachable from this one (itself first), each once, depth-first in key
    /// order, with the key path that leads to it (`store.postgres`, `up[].request`).
    pub fn walk(&'static self) -> Vec<(String, &'static Section)> {
        fn visit(
            path: &str,
            shape: &'static Shape,
            out: &mut Vec<(String, &'static Section)>,
            seen: &mut Vec<*const Section>,
        ) {
            match shape {
                Shape::Section(s) if !seen.contains(&(*s as *const Section)) => {
                    seen.push(*s);
                    out.push((path.to_string(), s));
                    for k in s.keys {
                        visit(&join(path, k.name), &k.shape, out, seen);
                    }
                }
                Shape::List(item) => visit(&format!("{path}[]"), item, out, seen),
                Shape::AnyOf(alternatives) => {
                    for a in *alternatives {
                        visit(path, a, out, seen);
                    }
                }
                Shape::Pairs => visit(&format!("{path}[]"), &PAIR_SHAPE, out, seen),
                _ => {}
            }
        }
        let mut out = vec![(String::new(), self)];
        let mut seen: Vec<*const Section> = vec![self];
        for k in self.keys {
            visit(k.name, &k.shape, &mut out, &mut seen);
        }
        out
    }
}

static PAIR_SHAPE: Shape = Shape::Section(&PAIR);

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The words YAML 1.1 reads as booleans, which the loader accepts for boolean keys.
const BOOL_WORDS: &[&str] = &[
    "yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF",
];

/// A JSON Schema (draft 2020-12) for a whole file whose top-level mapping is `root`.
pub fn json_schema(root: &'static Section, id: &str, title: &str) -> Value {
    let mut defs = BTreeMap::new();
    let body = section_schema(root, &mut defs);
    let mut out = Map::new();
    out.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    out.insert("$id".into(), json!(id));
    out.insert("title".into(), json!(title));
    if let Value::Object(body) = body {
        out.extend(body);
    }
    defs.remove(root.name);
    if !defs.is_empty() {
        out.insert(
            "$defs".into(),
            Value::Object(defs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        );
    }
    Value::Object(out)
}

fn section_schema(section: &'static Section, defs: &mut BTreeMap<&'static str, Value>) -> Value {
    let mut properties = Map::new();
    for key in section.keys {
        let mut schema = shape_schema(&key.shape, defs);
        if let Value::Object(map) = &mut schema {
            map.insert("description".into(), json!(key.doc));
        }
        properties.insert(key.name.into(), schema);
    }
    let required: Vec<&str> = section
        .keys
        .iter()
        .filter(|k| k.required)
        .map(|k| k.name)
        .collect();
    let mut out = Map::new();
    out.insert("description".into(), json!(section.doc));
    // An empty or fully commented-out section reads as null, which the loader accepts.
    out.insert("type".into(), json!(["object", "null"]));
    out.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        out.insert("required".into(), json!(required));
    }
    out.insert("additionalProperties".into(), json!(false));
    Value::Object(out)
}

fn reference(section: &'static Section, defs: &mut BTreeMap<&'static str, Value>) -> Value {
    if !defs.contains_key(section.name) {
        // Reserve the name first: sections may refer to each other.
        defs.insert(section.name, Value::Null);
        let schema = section_schema(section, defs);
        defs.insert(section.name, schema);
    }
    json!({ "$ref": format!("#/$defs/{}", section.name) })
}

const SCALAR: [&str; 4] = ["string", "number", "boolean", "null"];

fn shape_schema(shape: &'static Shape, defs: &mut BTreeMap<&'static str, Value>) -> Value {
    match shape {
        Shape::Text => json!({ "type": SCALAR }),
        Shape::Word(words) => {
            let mut values: Vec<Value> = Vec::new();
            for w in *words {
                for form in [w.to_string(), w.to_ascii_uppercase()] {
                    let v = json!(form);
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
                // `min_tls_version: 1.2` is a number to an editor, and text to the loader.
                if let Ok(n) = w.parse::<f64>()
                    && let Some(n) = serde_json::Number::from_f64(n)
                {
                    let v = Value::Number(n);
                    if !values.contains(&v) {
                        values.push(v);
                    }
                }
            }
            json!({ "enum": values })
        }
        Shape::Bool => {
            let mut values = vec![json!(true), json!(false)];
            values.extend(BOOL_WORDS.iter().map(|w| json!(w)));
            json!({ "enum": values })
        }
        Shape::Count => json!({
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+$" }
            ]
        }),
        Shape::Duration => json!({
            "anyOf": [
                {
                    "type": "string",
                    "pattern": "^\\s*[+]?(0|([0-9]*\\.?[0-9]+(ns|us|µs|μs|ms|s|m|h))+)\\s*$"
                },
                { "const": 0 }
            ],
            "examples": ["500ms", "30s", "1m30s", "2h"]
        }),
        Shape::Size => json!({
            "anyOf": [
                { "type": "string" },
                { "type": "integer", "minimum": 1 }
            ],
            "examples": ["64MiB", "512KiB", 1048576]
        }),
        Shape::Section(s) => reference(s, defs),
        Shape::List(item) => json!({
            "type": ["array", "null"],
            "items": shape_schema(item, defs)
        }),
        Shape::Texts { one_allowed } => {
            let list = json!({ "type": ["array", "null"], "items": { "type": SCALAR } });
            if *one_allowed {
                json!({ "anyOf": [list, { "type": SCALAR }] })
            } else {
                list
            }
        }
        Shape::Pairs => json!({
            "type": ["array", "null"],
            "items": reference(&PAIR, defs)
        }),
        Shape::Vars => json!({
            "type": ["object", "null"],
            "additionalProperties": { "type": SCALAR }
        }),
        Shape::Object => json!({ "type": ["object", "null"] }),
        Shape::Json => json!({}),
        Shape::AnyOf(alternatives) => json!({
            "anyOf": alternatives.iter().map(|a| shape_schema(a, defs)).collect::<Vec<_>>()
        }),
    }
}

/// A value of `shape` that the loader reads without a type error, for tests that feed every
/// declared key to the loader.
pub fn sample(shape: &Shape) -> Value {
    match shape {
        Shape::Text => json!("x"),
        Shape::Word(words) => json!(words.first().copied().unwrap_or("")),
        Shape::Bool => json!(true),
        Shape::Count => json!(1),
        Shape::Duration => json!("1s"),
        Shape::Size => json!("1MiB"),
        Shape::Section(_) | Shape::Vars | Shape::Object => json!({}),
        Shape::List(_) | Shape::Texts { .. } | Shape::Pairs => json!([]),
        Shape::Json => json!("x"),
        Shape::AnyOf(alternatives) => alternatives.first().map_or(Value::Null, sample),
    }
}

#[cfg(test)]
mod tests {
    //! The tables are the single source of the loaders' key checks and of the JSON Schema;
    //! these tests feed every declared key (and an undeclared one) to the real loaders.

    use super::*;
    use crate::report::Diagnostic;

    /// `{key: value}` placed at `path` (`store.postgres`, `env[]`, `up.request`).
    fn place(path: &str, key: &str, value: Value) -> Value {
        let mut doc = json!({ key: value });
        if path.is_empty() {
            return doc;
        }
        for segment in path.rsplit('.') {
            doc = match segment.strip_suffix("[]") {
                Some(name) => json!({ name: [doc] }),
                None => json!({ segment: doc }),
            };
        }
        doc
    }

    /// Sibling values without which a loader stops reading a section early (a `wait` without
    /// `url` is off; a postgres store without `dsn` or `host` is refused), so the keys beside
    /// them are really read.
    const CONTEXT: &[(&str, &str)] = &[("wait", "url"), ("store.postgres", "host")];

    fn with_context(mut doc: Value, path: &str) -> Value {
        for (at, key) in CONTEXT {
            if path != *at && !path.starts_with(&format!("{at}.")) {
                continue;
            }
            let mut node = &mut doc;
            for segment in at.split('.') {
                node = &mut node[segment];
            }
            if let Value::Object(map) = node {
                map.entry(key.to_string()).or_insert(json!("x"));
            }
        }
        doc
    }

    fn yaml(doc: &Value) -> String {
        // JSON is YAML: the loaders read it as written.
        serde_json::to_string_pretty(doc).expect("serializes")
    }

    /// Every problem the loader of `root` reports for `text`.
    fn problems(root: &'static Section, text: &str) -> Vec<Diagnostic> {
        let dir = tempfile::tempdir().expect("tempdir");
        if std::ptr::eq(root, &crate::config::CONFIG) {
            let path = dir.path().join("config.yaml");
            std::fs::write(&path, text).expect("write");
            crate::config::load_with_env(&path, &|_| Some("set".into()))
                .err()
                .map(|e| e.diagnostics())
                .unwrap_or_default()
        } else if std::ptr::eq(root, &crate::migration::MIGRATION) {
            let path = dir.path().join("001_x.yaml");
            std::fs::write(&path, text).expect("write");
            let src = crate::migration::MigrationSource {
                version: 1,
                name: "x".into(),
                path,
            };
            crate::migration::load_file(&src)
                .err()
                .map(|e| e.diagnostics())
                .unwrap_or_default()
        } else {
            let path = dir.path().join("stages.yaml");
            std::fs::write(&path, text).expect("write");
            match crate::stages::decode(&path) {
                Ok((_, found)) => found,
                Err(e) => e.diagnostics(),
            }
        }
    }

    fn roots() -> [&'static Section; 3] {
        [
            &crate::config::CONFIG,
            &crate::migration::MIGRATION,
            &crate::stages::STAGES,
        ]
    }

    #[test]
    fn every_declared_key_is_accepted_with_its_declared_type() {
        let mut checked = 0;
        for root in roots() {
            for (path, section) in root.walk() {
                for key in section.keys {
                    let text = yaml(&with_context(
                        place(&path, key.name, sample(&key.shape)),
                        &path,
                    ));
                    for d in problems(root, &text) {
                        let m = &d.message;
                        assert!(
                            !(m.contains("unknown key")
                                || (m.contains(" must be ") && m.contains(", found "))),
                            "{}: `{path}.{}` declared as {:?} but the loader says: {m}\n{text}",
                            root.name,
                            key.name,
                            key.shape
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 80, "only {checked} keys checked");
    }

    #[test]
    fn a_key_not_declared_is_refused_everywhere() {
        for root in roots() {
            for (path, _) in root.walk() {
                let text = yaml(&with_context(
                    place(&path, "zz_not_a_key", json!("x")),
                    &path,
                ));
                let found = problems(root, &text);
                assert!(
                    found
                        .iter()
                        .any(|d| d.message.starts_with("unknown key `zz_not_a_key`")),
                    "{}: an undeclared key at `{path}` was not refused: {found:?}",
                    root.name
                );
            }
        }
    }

    #[test]
    fn every_section_is_in_the_schema_with_every_key() {
        for (root, schema) in [
            (&crate::config::CONFIG, crate::config::json_schema()),
            (
                &crate::migration::MIGRATION,
                crate::migration::json_schema(),
            ),
            (&crate::stages::STAGES, crate::stages::json_schema()),
        ] {
            assert_eq!(
                schema["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            for (path, section) in root.walk() {
                let def = if std::ptr::eq(section, root) {
                    &schema
                } else {
                    &schema["$defs"][section.name]
                };
                let properties = def["properties"]
                    .as_object()
                    .unwrap_or_else(|| panic!("no definition for `{path}` ({})", section.name));
                let in_schema: Vec<&str> = properties.keys().map(String::as_str).collect();
                let declared: Vec<&str> = section.names().collect();
                assert_eq!(in_schema, declared, "`{path}`");
                assert_eq!(def["additionalProperties"], json!(false), "`{path}`");
                for key in section.keys {
                    assert!(
                        properties[key.name]["description"].is_string(),
                        "`{path}.{}` has no description",
                        key.name
                    );
                }
            }
        }
    }

    #[test]
    fn section_names_are_unique_within_a_file() {
        for root in roots() {
            let mut names: Vec<&str> = root.walk().iter().map(|(_, s)| s.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}: {names:?}", root.name);
        }
    }
}
