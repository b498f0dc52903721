//! Reading one migration file into its steps.
//!
//! Formats accepted (all from the Go original's files and docs):
//! - `up:` one step (a mapping) or a list of steps;
//! - `down:` the flat form (`method`, `url`, ... with an optional `find: {request, response}`
//!   that runs first), the nested form (`request:`/`response:` like an up step), or a list of
//!   steps.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::model::*;
use crate::config::LoadError;
use crate::config::schema::{Key, Section, Shape};
use crate::config::yaml::{self, Fields, Node, NodeKind, Problems, item_path, type_error};
use crate::report::{Diagnostic, Located, Location};

/// A migration file, the top level.
pub(crate) static MIGRATION: Section = Section {
    name: "migration",
    doc: "One apirun migration (`NNN_name.yaml`): the HTTP calls of `up`, and of `down` to undo them.",
    keys: &[
        Key::required(
            "up",
            Shape::AnyOf(&[Shape::Section(&UP_STEP), Shape::List(&UP_STEP_SHAPE)]),
            "What applying the migration does: a step, or a list of steps run in order.",
        ),
        Key::new(
            "down",
            Shape::AnyOf(&[
                Shape::Section(&NESTED_DOWN),
                Shape::Section(&FLAT_DOWN),
                Shape::List(&DOWN_STEP_SHAPE),
            ]),
            "How to undo it: a step like `up`'s, the Go original's flat form (`method`, `url`, optional `find`), or a list of steps.",
        ),
    ],
};

static UP_STEP_SHAPE: Shape = Shape::Section(&UP_STEP);
static DOWN_STEP_SHAPE: Shape =
    Shape::AnyOf(&[Shape::Section(&NESTED_DOWN), Shape::Section(&FLAT_DOWN)]);

const STEP_NAME: Key = Key::new(
    "name",
    Shape::Text,
    "What the step does, for messages and logs.",
);
const STEP_TYPE: Key = Key::new(
    "type",
    Shape::Text,
    "The step type: `http` (default) or the name of a plugin from config `plugins`.",
);
const STEP_PARAMS: Key = Key::new(
    "params",
    Shape::Object,
    "Parameters of a custom step type (templated strings).",
);
const STEP_ENV: Key = Key::new(
    "env",
    Shape::Vars,
    "Variables of this step (highest precedence), templated.",
);
const STEP_AUTH: Key = Key::new(
    "auth",
    Shape::Text,
    "The auth entry whose credential the host injects (the same as `request.auth_name`).",
);
const STEP_REQUEST: Key = Key::new(
    "request",
    Shape::Section(&REQUEST),
    "The HTTP call (required for `http` steps).",
);
const STEP_RESPONSE: Key = Key::new(
    "response",
    Shape::Section(&RESPONSE),
    "What the response must be, and what to extract from it.",
);
const STEP_RETRY: Key = Key::new(
    "retry",
    Shape::Section(&RETRY),
    "Try again on a transport error or a listed status (nothing is retried without it).",
);
const STEP_TIMEOUT: Key = Key::new("timeout", Shape::Duration, "Longest time for the step.");

static UP_STEP: Section = Section {
    name: "step",
    doc: "A step: one HTTP call (or one call of a custom step type).",
    keys: &[
        STEP_NAME,
        STEP_TYPE,
        STEP_PARAMS,
        STEP_ENV,
        STEP_REQUEST,
        STEP_RESPONSE,
        STEP_RETRY,
        STEP_TIMEOUT,
    ],
};

static NESTED_DOWN: Section = Section {
    name: "down_step",
    doc: "A down step written like an up step (`request:`/`response:`).",
    keys: &[
        STEP_NAME,
        STEP_TYPE,
        STEP_PARAMS,
        STEP_ENV,
        STEP_AUTH,
        STEP_REQUEST,
        STEP_RESPONSE,
        STEP_RETRY,
        STEP_TIMEOUT,
    ],
};

static FLAT_DOWN: Section = Section {
    name: "flat_down_step",
    doc: "The Go original's down form: the call's fields at the top, an optional `find` lookup first; any 2xx is accepted.",
    keys: &[
        STEP_NAME,
        STEP_ENV,
        STEP_AUTH,
        Key::new("method", Shape::Text, "The HTTP method (any case)."),
        Key::new("url", Shape::Text, "The URL (a template)."),
        Key::new(
            "headers",
            Shape::Pairs,
            "Headers: `{name, value}` entries, templated.",
        ),
        Key::new(
            "queries",
            Shape::Pairs,
            "Query parameters: `{name, value}` entries, templated.",
        ),
        Key::new(
            "body",
            Shape::Json,
            "The body (a template); a mapping or list is sent as its JSON text.",
        ),
        Key::new(
            "find",
            Shape::Section(&FIND),
            "A lookup that runs first; the values it extracts are visible to the down call.",
        ),
        STEP_RETRY,
        STEP_TIMEOUT,
    ],
};

/// Keys that only make sense in the flat down form.
const FLAT_ONLY_KEYS: &[&str] = &["method", "url", "headers", "queries", "body", "find"];

static FIND: Section = Section {
    name: "find",
    doc: "The lookup a flat down step runs before its call.",
    keys: &[
        Key::required("request", Shape::Section(&REQUEST), "The lookup call."),
        Key::new(
            "response",
            Shape::Section(&RESPONSE),
            "Its accepted statuses and extracted values.",
        ),
    ],
};

static REQUEST: Section = Section {
    name: "request",
    doc: "An HTTP request; every string is a template.",
    keys: &[
        Key::new(
            "method",
            Shape::Text,
            "The HTTP method (any case; HEAD and OPTIONS included).",
        ),
        Key::new("url", Shape::Text, "The URL (a template)."),
        Key::new(
            "headers",
            Shape::Pairs,
            "Headers: `{name, value}` entries, templated.",
        ),
        Key::new(
            "queries",
            Shape::Pairs,
            "Query parameters: `{name, value}` entries, templated.",
        ),
        Key::new(
            "body",
            Shape::Json,
            "The body (a template); a mapping or list is sent as its JSON text.",
        ),
        Key::new(
            "body_file",
            Shape::Text,
            "Read the body from this file, relative to the migration file; templated like `body`.",
        ),
        Key::new(
            "render_body",
            Shape::Bool,
            "Render the body as a template (default: config `render_body`).",
        ),
        Key::new(
            "auth_name",
            Shape::Text,
            "The auth entry whose credential the host injects as `Authorization`.",
        ),
    ],
};

static RESPONSE: Section = Section {
    name: "response",
    doc: "What a response must be, and what to extract from it.",
    keys: &[
        Key::new(
            "result_code",
            Shape::Texts { one_allowed: true },
            "Accepted statuses (`\"201\"`, classes like `\"2xx\"`); absent: any status.",
        ),
        Key::new(
            "env_from",
            Shape::Vars,
            "Variables to extract: name → gjson path into the response body.",
        ),
        Key::new(
            "env_missing",
            Shape::Word(&["skip", "fail"]),
            "A path with no value: skip (default) or fail the step.",
        ),
    ],
};

static RETRY: Section = Section {
    name: "retry",
    doc: "Retrying a step: transport errors and listed statuses, for repeatable methods.",
    keys: &[
        Key::new(
            "attempts",
            Shape::Count,
            "The total number of tries (at least 1).",
        ),
        Key::new(
            "backoff",
            Shape::Duration,
            "The first pause, doubled after each try (default 1s).",
        ),
        Key::new(
            "statuses",
            Shape::Texts { one_allowed: true },
            "Statuses to retry (`503`, `\"5xx\"`).",
        ),
        Key::new(
            "methods",
            Shape::Texts { one_allowed: true },
            "Methods that may be retried (default GET, HEAD, OPTIONS, PUT, DELETE).",
        ),
    ],
};

/// Read and validate one migration file.
pub fn load_file(src: &MigrationSource) -> Result<Migration, LoadError> {
    let bytes = std::fs::read(&src.path).map_err(|source| LoadError::Io {
        path: src.path.clone(),
        source,
    })?;
    let checksum = hex::encode(Sha256::digest(&bytes));
    let text = String::from_utf8(bytes).map_err(|_| {
        LoadError::diagnostic(Diagnostic::at(
            Location::file_start(&src.path),
            "migration file is not valid UTF-8",
        ))
    })?;
    let Some(root) = yaml::parse(&src.path, &text).map_err(LoadError::diagnostic)? else {
        return Err(LoadError::diagnostic(
            Diagnostic::at(Location::file_start(&src.path), "migration file is empty").with_hint(
                "a migration needs an `up:` section; `apirun create NAME` writes an example",
            ),
        ));
    };
    let dir = match src.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut p = Problems::new();
    let Some(f) = Fields::new(&root, "", &MIGRATION, &mut p) else {
        return Err(p.into_error());
    };
    let ctx = Ctx { dir: &dir };
    let up = match f.present("up") {
        Some(node) => ctx.up(node, &mut p),
        None => {
            f.require("up", Some("add an `up:` step with a `request`"), &mut p);
            Vec::new()
        }
    };
    let down = f
        .present("down")
        .map(|n| ctx.down(n, &mut p))
        .unwrap_or_default();
    p.finish(Migration {
        version: src.version,
        name: src.name.clone(),
        path: src.path.clone(),
        checksum,
        up,
        down,
    })
}

/// Load every file, collecting the problems of all of them (for `validate`, and so `up` reports
/// everything wrong at once rather than one file per run).
pub fn load_all(sources: &[MigrationSource]) -> Result<Vec<Migration>, LoadError> {
    let mut migrations = Vec::with_capacity(sources.len());
    let mut errors = Vec::new();
    for src in sources {
        match load_file(src) {
            Ok(m) => migrations.push(m),
            Err(e) => errors.push(e),
        }
    }
    match LoadError::combine(errors) {
        Some(e) => Err(e),
        None => Ok(migrations),
    }
}

/// [`super::discover`] then [`load_all`]: every migration of a directory.
pub fn load_dir(dir: &Path) -> Result<Vec<Migration>, LoadError> {
    load_all(&super::discover(dir)?)
}

struct Ctx<'a> {
    /// The migration file's directory, for `body_file`.
    dir: &'a Path,
}

impl Ctx<'_> {
    fn up(&self, node: &Node, p: &mut Problems) -> Vec<Step> {
        match &node.kind {
            NodeKind::Map(_) => self
                .step(node, "up", &UP_STEP, &[], p)
                .into_iter()
                .collect(),
            NodeKind::Seq(items) if items.is_empty() => {
                p.push(Diagnostic::at(node.location.clone(), "`up` has no steps"));
                Vec::new()
            }
            NodeKind::Seq(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| self.step(item, &item_path("up", i), &UP_STEP, &[], p))
                .collect(),
            NodeKind::Scalar(_) => {
                p.push(type_error(
                    node,
                    "up",
                    "a step (a mapping) or a list of steps",
                ));
                Vec::new()
            }
        }
    }

    fn down(&self, node: &Node, p: &mut Problems) -> Vec<Step> {
        match &node.kind {
            NodeKind::Map(_) => self.down_step(node, "down", p),
            NodeKind::Seq(items) => items
                .iter()
                .enumerate()
                .flat_map(|(i, item)| self.down_step(item, &item_path("down", i), p))
                .collect(),
            NodeKind::Scalar(_) => {
                p.push(type_error(
                    node,
                    "down",
                    "a step (a mapping) or a list of steps",
                ));
                Vec::new()
            }
        }
    }

    /// A down step in either form: nested when it has `request`, `response`, `type` or `params`,
    /// flat otherwise.
    fn down_step(&self, node: &Node, path: &str, p: &mut Problems) -> Vec<Step> {
        let NodeKind::Map(entries) = &node.kind else {
            p.push(type_error(node, path, "a step (a mapping)"));
            return Vec::new();
        };
        let nested = entries
            .iter()
            .any(|e| matches!(e.key.as_str(), "request" | "response" | "type" | "params"));
        if !nested {
            return self.flat_down(node, path, p);
        }
        let mut extra = Vec::new();
        for e in entries
            .iter()
            .filter(|e| FLAT_ONLY_KEYS.contains(&e.key.as_str()))
        {
            p.push(
                Diagnostic::at(
                    e.key_location.clone(),
                    format!("`{path}.{}` belongs to the flat down form, but this step has `request:`", e.key),
                )
                .with_hint(format!(
                    "move it under `{path}.request` (`find` has no nested equivalent: use a separate step), or drop `request:`/`response:`"
                )),
            );
            extra.push(e.key.as_str());
        }
        self.step(node, path, &NESTED_DOWN, &extra, p)
            .into_iter()
            .collect()
    }

    /// An up step, a nested down step, or an item of a step list.
    fn step(
        &self,
        node: &Node,
        path: &str,
        section: &'static Section,
        extra: &[&str],
        p: &mut Problems,
    ) -> Option<Step> {
        let f = Fields::with_extra(node, path, section, extra, p)?;
        let step_type = step_type(&f, p);
        let is_http = step_type.value == HTTP_STEP_TYPE;
        let mut request = match f.fields("request", &REQUEST, p) {
            Some(r) => self.request(&r, is_http, p),
            None if is_http => {
                f.require(
                    "request",
                    Some("give the call to make: `request:` with `method:` and `url:`"),
                    p,
                );
                empty_request(f.location())
            }
            None => empty_request(f.location()),
        };
        if let Some(auth) = f.string("auth", p).filter(|a| !a.value.trim().is_empty()) {
            if request.auth_name.is_some() {
                p.push(
                    Diagnostic::at(
                        auth.location,
                        format!("`{path}.auth` and `{path}.request.auth_name` are both set"),
                    )
                    .with_hint("keep one of them"),
                );
            } else {
                request.auth_name =
                    Some(Located::new(auth.value.trim().to_string(), auth.location));
            }
        }
        let response = f
            .fields("response", &RESPONSE, p)
            .map(|r| response(&r, p))
            .unwrap_or_else(empty_response);
        let params = f.json_object("params", p);
        if is_http && let Some(params) = &params {
            p.push(
                Diagnostic::at(params.location.clone(), format!("`{path}.params` has no effect on an `http` step"))
                    .with_hint("`params` configures a custom step type (`type: <plugin>`); for http use `request`"),
            );
        }
        Some(Step {
            name: step_name(&f, p),
            location: f.location().clone(),
            kind: StepKind::Main,
            step_type,
            env: f.scalar_map("env", p),
            request,
            response,
            params,
            retry: f.fields("retry", &RETRY, p).map(|r| retry(&r, p)),
            timeout: step_timeout(&f, p),
        })
    }

    /// The Go original's only down form: the call's fields at the top, `auth` for its auth name,
    /// an optional `find` lookup first, and any 2xx accepted.
    fn flat_down(&self, node: &Node, path: &str, p: &mut Problems) -> Vec<Step> {
        let Some(f) = Fields::new(node, path, &FLAT_DOWN, p) else {
            return Vec::new();
        };
        let env = f.scalar_map("env", p);
        let name = step_name(&f, p);
        let http = Located::new(HTTP_STEP_TYPE.to_string(), f.location().clone());
        let mut steps = Vec::new();
        if let Some(find) = f.fields("find", &FIND, p) {
            let request = match find.fields("request", &REQUEST, p) {
                Some(r) => self.request(&r, true, p),
                None => {
                    p.push(
                        Diagnostic::at(find.location().clone(), format!("`{path}.find.request` is required"))
                            .with_hint("the lookup to run before the down call: `request:` with `method:` and `url:`"),
                    );
                    empty_request(find.location())
                }
            };
            let response = find
                .fields("response", &RESPONSE, p)
                .map(|r| response(&r, p))
                .unwrap_or_else(empty_response);
            steps.push(Step {
                name: name.clone(),
                location: find.location().clone(),
                kind: StepKind::Find,
                step_type: http.clone(),
                env: env.clone(),
                request,
                response,
                params: None,
                retry: None,
                timeout: None,
            });
        }
        let mut request = self.request(&f, true, p);
        request.auth_name = f
            .string("auth", p)
            .filter(|a| !a.value.trim().is_empty())
            .map(|a| Located::new(a.value.trim().to_string(), a.location));
        steps.push(Step {
            name,
            location: f.location().clone(),
            kind: StepKind::Main,
            step_type: http,
            env,
            request,
            response: Response {
                result_code: vec![Located::new("2xx".to_string(), f.location().clone())],
                env_from: Vec::new(),
                env_missing: EnvMissing::Skip,
            },
            params: None,
            retry: f.fields("retry", &RETRY, p).map(|r| retry(&r, p)),
            timeout: step_timeout(&f, p),
        });
        steps
    }

    /// `method`, `url`, `headers`, `queries`, `body`, `body_file`, `render_body`, `auth_name`
    /// read from `f` (a `request:` mapping, or the flat down step itself).
    fn request(&self, f: &Fields<'_>, require_call: bool, p: &mut Problems) -> Request {
        let method = match f.present("method") {
            Some(n) => yaml::string(n, &f.child("method"), p)
                .and_then(|m| method(m, &f.child("method"), p)),
            None => None,
        };
        let method = method.unwrap_or_else(|| {
            if require_call && f.present("method").is_none() {
                f.require("method", Some("e.g. `method: POST`"), p);
            }
            Located::new(String::new(), f.location().clone())
        });
        let url = match f.present("url") {
            Some(n) => yaml::string(n, &f.child("url"), p)
                .map(|u| Located::new(u.value.trim().to_string(), u.location))
                .filter(|u| {
                    let blank = u.value.is_empty();
                    if blank && require_call {
                        p.push(Diagnostic::at(
                            u.location.clone(),
                            format!("`{}` must not be empty", f.child("url")),
                        ));
                    }
                    !blank
                }),
            None => {
                if require_call {
                    f.require("url", Some("e.g. `url: \"{{.api_base}}/users\"`"), p);
                }
                None
            }
        }
        .unwrap_or_else(|| Located::new(String::new(), f.location().clone()));
        let body = f.present("body").and_then(|n| body(n, &f.child("body"), p));
        let body_file = f
            .string("body_file", p)
            .filter(|b| !b.value.trim().is_empty())
            .and_then(|b| self.body_file(b, p));
        if let (Some(_), Some(file)) = (&body, &body_file) {
            p.push(
                Diagnostic::at(
                    file.location.clone(),
                    format!(
                        "`{}` and `{}` are both set",
                        f.child("body"),
                        f.child("body_file")
                    ),
                )
                .with_hint("keep one of them"),
            );
        }
        Request {
            method,
            url,
            headers: f.pairs("headers", p),
            queries: f.pairs("queries", p),
            body,
            body_file,
            render_body: f.bool("render_body", p),
            auth_name: f
                .string("auth_name", p)
                .filter(|a| !a.value.trim().is_empty())
                .map(|a| Located::new(a.value.trim().to_string(), a.location)),
        }
    }

    fn body_file(&self, file: Located<String>, p: &mut Problems) -> Option<Located<PathBuf>> {
        let raw = file.value.trim();
        let resolved = crate::config::resolve_path(self.dir, raw);
        // A templated path can only be checked once rendered.
        if !raw.contains("{{") && !resolved.is_file() {
            p.push(
                Diagnostic::at(file.location.clone(), format!("body file not found: {}", resolved.display())).with_hint(format!(
                    "`body_file` is relative to the migration file's directory ({}), not the working directory",
                    self.dir.display()
                )),
            );
            return None;
        }
        Some(Located::new(resolved, file.location))
    }
}

fn empty_request(at: &Location) -> Request {
    Request {
        method: Located::new(String::new(), at.clone()),
        url: Located::new(String::new(), at.clone()),
        headers: Vec::new(),
        queries: Vec::new(),
        body: None,
        body_file: None,
        render_body: None,
        auth_name: None,
    }
}

fn empty_response() -> Response {
    Response {
        result_code: Vec::new(),
        env_from: Vec::new(),
        env_missing: EnvMissing::Skip,
    }
}

fn step_name(f: &Fields<'_>, p: &mut Problems) -> Option<String> {
    f.string("name", p)
        .map(|n| n.value.trim().to_string())
        .filter(|n| !n.is_empty())
}

fn step_type(f: &Fields<'_>, p: &mut Problems) -> Located<String> {
    match f.string("type", p).filter(|t| !t.value.trim().is_empty()) {
        Some(t) => {
            let name = t.value.trim();
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
            {
                p.push(
                    Diagnostic::at(t.location.clone(), format!("invalid step type `{name}`"))
                        .with_hint("`http`, or the name of a plugin from config `plugins`"),
                );
            }
            Located::new(name.to_string(), t.location)
        }
        None => Located::new(HTTP_STEP_TYPE.to_string(), f.location().clone()),
    }
}

fn step_timeout(f: &Fields<'_>, p: &mut Problems) -> Option<std::time::Duration> {
    let d = f.duration("timeout", p)?;
    if d.value.is_zero() {
        p.push(Diagnostic::at(
            d.location,
            format!("`{}` must be greater than 0", f.child("timeout")),
        ));
        return None;
    }
    Some(d.value)
}

/// An HTTP method token, upper-cased (`get` → `GET`; HEAD, OPTIONS and others are fine).
fn method(m: Located<String>, path: &str, p: &mut Problems) -> Option<Located<String>> {
    let word = m.value.trim();
    if word.is_empty() {
        p.push(
            Diagnostic::at(m.location, format!("`{path}` must not be empty"))
                .with_hint("e.g. `method: POST`"),
        );
        return None;
    }
    if !word
        .chars()
        .all(|c| c.is_ascii_alphabetic() || c == '-' || c == '_')
    {
        p.push(
            Diagnostic::at(m.location, format!("invalid HTTP method `{word}`"))
                .with_hint("e.g. GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS"),
        );
        return None;
    }
    Some(Located::new(word.to_ascii_uppercase(), m.location))
}

/// A string body as written; a mapping or list body becomes its JSON text.
fn body(node: &Node, path: &str, p: &mut Problems) -> Option<Located<String>> {
    match &node.kind {
        NodeKind::Map(_) | NodeKind::Seq(_) => Some(Located::new(
            node.to_json().to_string(),
            node.location.clone(),
        )),
        NodeKind::Scalar(_) => yaml::string(node, path, p).filter(|b| !b.value.is_empty()),
    }
}

fn response(f: &Fields<'_>, p: &mut Problems) -> Response {
    let result_code = f
        .string_list("result_code", true, p)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|code| {
            let t = code.value.trim();
            if t.contains("{{") {
                return Some(Located::new(t.to_string(), code.location));
            }
            match StatusPattern::parse(t) {
                Some(pattern) => Some(Located::new(pattern.to_string(), code.location)),
                None => {
                    p.push(
                        Diagnostic::at(
                            code.location,
                            format!("invalid status `{t}` in `{}`", f.child("result_code")),
                        )
                        .with_hint("a code such as \"201\" or a class such as \"2xx\""),
                    );
                    None
                }
            }
        })
        .collect();
    let env_from = f
        .scalar_map("env_from", p)
        .into_iter()
        .filter_map(|(name, path)| {
            let trimmed = path.value.trim().to_string();
            if trimmed.is_empty() {
                p.push(
                    Diagnostic::at(
                        path.location,
                        format!("`{}.{name}` has no path", f.child("env_from")),
                    )
                    .with_hint("give the JSON path of the value, e.g. `id` or `items.0.id`"),
                );
                return None;
            }
            Some((name, Located::new(trimmed, path.location)))
        })
        .collect();
    let env_missing = f
        .one_of(
            "env_missing",
            &[("skip", EnvMissing::Skip), ("fail", EnvMissing::Fail)],
            p,
        )
        .unwrap_or_default();
    Response {
        result_code,
        env_from,
        env_missing,
    }
}

fn retry(f: &Fields<'_>, p: &mut Problems) -> Retry {
    let attempts = match f.unsigned("attempts", p) {
        None => 1,
        Some(a) => match u32::try_from(a.value).ok().filter(|v| *v >= 1) {
            Some(v) => v,
            None => {
                p.push(
                    Diagnostic::at(
                        a.location,
                        format!("invalid `{}`: {}", f.child("attempts"), a.value),
                    )
                    .with_hint("the total number of tries, at least 1"),
                );
                1
            }
        },
    };
    let backoff = f
        .duration("backoff", p)
        .map_or(std::time::Duration::from_secs(1), |d| d.value);
    let statuses = f
        .string_list("statuses", true, p)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| {
            StatusPattern::parse(&s.value).or_else(|| {
                p.push(
                    Diagnostic::at(
                        s.location,
                        format!(
                            "invalid status `{}` in `{}`",
                            s.value.trim(),
                            f.child("statuses")
                        ),
                    )
                    .with_hint("a code such as 503 or a class such as \"5xx\""),
                );
                None
            })
        })
        .collect();
    let methods = f.string_list("methods", true, p).map(|list| {
        list.into_iter()
            .filter_map(|m| method(m, &f.child("methods"), p).map(|m| m.value))
            .collect()
    });
    Retry {
        attempts,
        backoff,
        statuses,
        methods,
        location: f.location().clone(),
    }
}
