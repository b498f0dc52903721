//! Rendering a step: every templated field, against the variables the step sees, into the
//! params the plugin receives. Nothing is sent from here, so `validate` and `--dry-run` use
//! exactly what a real run would send.

use serde_json::{Value, json};

use crate::migration::{Migration, Step};
use crate::report::{Diagnostic, Located, Location, mask};
use crate::template::{Renderer, TemplateError, Vars, is_template};

/// A step with every template rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedStep {
    /// The step type that runs it (`http`, or a custom plugin).
    pub step_type: String,
    pub name: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub queries: Vec<(String, String)>,
    pub body: Option<String>,
    pub auth: Option<String>,
    /// The JSON handed to the plugin.
    pub params: String,
}

impl RenderedStep {
    /// The request as it may be shown: secrets masked.
    pub fn describe_masked(&self) -> String {
        if self.method.is_empty() {
            return format!(
                "step `{}` with params {}",
                self.step_type,
                mask::text(&self.params)
            );
        }
        let mut out = format!("{} {}", self.method, mask::url(&self.url_with_queries()));
        for (k, v) in &self.headers {
            out.push_str(&format!("\n    {k}: {}", mask::header(k, v)));
        }
        if let Some(auth) = &self.auth {
            out.push_str(&format!("\n    Authorization: <from auth `{auth}`>"));
        }
        if let Some(body) = &self.body {
            out.push_str("\n    body: ");
            out.push_str(&mask::text(body.trim_end()).replace('\n', "\n          "));
        }
        out
    }

    /// The URL with the step's queries appended, for people to read (not percent-encoded).
    pub fn url_with_queries(&self) -> String {
        let mut url = self.url.clone();
        for (i, (name, value)) in self.queries.iter().enumerate() {
            let sep = if i == 0 && !self.url.contains('?') {
                '?'
            } else {
                '&'
            };
            url.push_str(&format!("{sep}{name}={value}"));
        }
        url
    }
}

/// Every templated text of a step with the field it belongs to, in file order: what auth
/// entries and variables the step reads is found from these.
pub fn templated_fields(step: &Step) -> Vec<(String, Located<String>)> {
    let mut out = Vec::new();
    for (name, value) in &step.env {
        out.push((format!("env.{name}"), value.clone()));
    }
    let req = &step.request;
    out.push(("request.url".into(), req.url.clone()));
    for h in &req.headers {
        out.push((format!("header {}", h.name), h.value.clone()));
    }
    for q in &req.queries {
        out.push((format!("query {}", q.name), q.value.clone()));
    }
    if let Some(b) = &req.body {
        out.push(("request.body".into(), b.clone()));
    }
    for code in &step.response.result_code {
        out.push(("response.result_code".into(), code.clone()));
    }
    fn strings(value: &Value, at: &Location, path: &str, out: &mut Vec<(String, Located<String>)>) {
        match value {
            Value::String(s) => out.push((path.to_string(), Located::new(s.clone(), at.clone()))),
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    strings(v, at, &format!("{path}[{i}]"), out);
                }
            }
            Value::Object(map) => {
                for (k, v) in map {
                    strings(v, at, &format!("{path}.{k}"), out);
                }
            }
            _ => {}
        }
    }
    if let Some(p) = &step.params {
        strings(&p.value, &p.location, "params", &mut out);
    }
    out.retain(|(_, text)| is_template(&text.value));
    out
}

/// The auth entries a step uses: read by its templates (`{{.auth.kc}}`) or named by
/// `auth_name`, with where each is used. A body file's templates count too.
pub fn auth_references(
    renderer: &Renderer,
    migration: &Migration,
    step: &Step,
) -> Result<Vec<(String, Location)>, Diagnostic> {
    let mut out: Vec<(String, Location)> = Vec::new();
    let mut fields = templated_fields(step);
    if let Some(file) = &step.request.body_file
        && let Ok(text) = std::fs::read_to_string(&file.value)
    {
        fields.push((
            "body_file".into(),
            Located::new(text, Location::new(&file.value, 1, 1)),
        ));
    }
    for (field, text) in &fields {
        // A reference to a credential names `auth` in the template text; most fields don't,
        // and parsing a template costs more than the whole request on a fast network.
        if !text.value.contains("auth") {
            continue;
        }
        let names = renderer
            .auth_references(&text.value)
            .map_err(|e| template_diagnostic(&e, &text.location, field, migration))?;
        for name in names {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, text.location.clone()));
            }
        }
    }
    if let Some(a) = &step.request.auth_name {
        let name = a.value.trim().to_string();
        if !name.is_empty() && !out.iter().any(|(n, _)| *n == name) {
            out.push((name, a.location.clone()));
        }
    }
    Ok(out)
}

/// A position inside a template (1-based line and column; 0 = unknown) as a place in the file
/// that holds the template, starting at `at`.
pub(crate) fn template_location(at: &Location, line: usize, column: usize) -> Location {
    let (line, column) = match (line, column) {
        (0, _) => (at.line, at.column),
        (l, c) if l > 1 => (at.line + l - 1, c.max(1)),
        (_, c) => (at.line, at.column + c.saturating_sub(1)),
    };
    Location::new(&at.file, line, column)
}

/// Where a template error points: the field's location moved by the error's line and column
/// inside the template.
fn template_diagnostic(
    err: &TemplateError,
    at: &Location,
    field: &str,
    file: &Migration,
) -> Diagnostic {
    let mut d = Diagnostic::at(
        template_location(at, err.line(), err.column()),
        format!("{}: {field}: {err}", file.path.display()),
    );
    if let Some(hint) = err.hint() {
        d = d.with_hint(hint);
    }
    d
}

fn render_text(
    renderer: &Renderer,
    vars: &Vars,
    text: &Located<String>,
    field: &str,
    migration: &Migration,
) -> Result<String, Diagnostic> {
    if !is_template(&text.value) {
        return Ok(text.value.clone());
    }
    renderer
        .render(&text.value, vars)
        .map_err(|e| template_diagnostic(&e, &text.location, field, migration))
}

/// Render one step against `vars`; the step's own `env` is rendered first and takes
/// precedence over everything else. `placeholders` says that `vars` holds dry-run stand-ins
/// for values not extracted yet.
pub fn render_step(
    renderer: &Renderer,
    migration: &Migration,
    step: &Step,
    vars: &Vars,
    render_body_default: bool,
    placeholders: bool,
) -> Result<RenderedStep, Diagnostic> {
    // A step's own `env` needs a copy of the variables to add to; most steps have none.
    let with_env;
    let vars = if step.env.is_empty() {
        vars
    } else {
        let mut own = vars.clone();
        for (name, value) in &step.env {
            let v = render_text(renderer, &own, value, &format!("env.{name}"), migration)?;
            own.insert(name.clone(), v);
        }
        with_env = own;
        &with_env
    };
    if !step.is_http() {
        return render_custom(renderer, migration, step, vars);
    }
    let req = &step.request;
    let method = req.method.value.trim().to_ascii_uppercase();
    let url = render_text(renderer, vars, &req.url, "request.url", migration)?;
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in &req.headers {
        let v = render_text(
            renderer,
            vars,
            &h.value,
            &format!("header {}", h.name),
            migration,
        )?;
        headers.push((h.name.clone(), v));
    }
    let mut queries = Vec::with_capacity(req.queries.len());
    for q in &req.queries {
        let v = render_text(
            renderer,
            vars,
            &q.value,
            &format!("query {}", q.name),
            migration,
        )?;
        queries.push((q.name.clone(), v));
    }
    let render_body = req.render_body.unwrap_or(render_body_default);
    let raw_body: Option<Located<String>> = match (&req.body_file, &req.body) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(&file.value).map_err(|e| {
                Diagnostic::at(
                    file.location.clone(),
                    format!("cannot read body_file {}: {e}", file.value.display()),
                )
                .with_hint("body_file is relative to the migration file's folder")
            })?;
            Some(Located::new(text, Location::new(&file.value, 1, 1)))
        }
        (None, Some(b)) => Some(b.clone()),
        (None, None) => None,
    };
    let body = match raw_body {
        None => None,
        Some(b) if !render_body => Some(b.value),
        Some(b) => {
            let rendered = render_text(renderer, vars, &b, "request.body", migration)?;
            // Dry-run placeholders (`<id from 001_x.yaml>`) are not JSON values; a body that
            // holds one is checked in the real run.
            if is_template(&b.value) && !(placeholders && rendered.contains(" from ")) {
                check_json_body(&rendered, &b, migration)?;
            }
            Some(rendered)
        }
    };
    let mut result_code = Vec::with_capacity(step.response.result_code.len());
    for code in &step.response.result_code {
        let text = Located::new(code.value.replace("${{", "{{"), code.location.clone());
        result_code.push(render_text(
            renderer,
            vars,
            &text,
            "response.result_code",
            migration,
        )?);
    }
    let env_from: Vec<Value> = step
        .response
        .env_from
        .iter()
        .map(|(name, path)| json!({"name": name, "path": path.value}))
        .collect();
    let auth = req
        .auth_name
        .as_ref()
        .map(|a| a.value.trim().to_string())
        .filter(|a| !a.is_empty());
    let params = json!({
        "method": method,
        "url": url,
        "headers": headers.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "queries": queries.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
        "body": body,
        "auth": auth,
        "timeout_ms": step.timeout.map(|t| t.as_millis().min(u128::from(u32::MAX)) as u64),
        "response": {
            "result_code": result_code,
            "env_from": env_from,
            "env_missing": step.response.env_missing.as_str(),
        },
    });
    Ok(RenderedStep {
        step_type: step.step_type.value.clone(),
        name: step.name.clone().unwrap_or_else(|| migration.name.clone()),
        method,
        url,
        headers,
        queries,
        body,
        auth,
        params: params.to_string(),
    })
}

/// A custom step type's `params`: every string in the tree rendered, the structure kept.
fn render_custom(
    renderer: &Renderer,
    migration: &Migration,
    step: &Step,
    vars: &Vars,
) -> Result<RenderedStep, Diagnostic> {
    fn walk(
        renderer: &Renderer,
        migration: &Migration,
        vars: &Vars,
        value: &Value,
        at: &Location,
        path: &str,
    ) -> Result<Value, Diagnostic> {
        Ok(match value {
            Value::String(text) => {
                let located = Located::new(text.clone(), at.clone());
                Value::String(render_text(renderer, vars, &located, path, migration)?)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, v)| walk(renderer, migration, vars, v, at, &format!("{path}[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        Ok((
                            k.clone(),
                            walk(renderer, migration, vars, v, at, &format!("{path}.{k}"))?,
                        ))
                    })
                    .collect::<Result<_, Diagnostic>>()?,
            ),
            other => other.clone(),
        })
    }
    let params = match &step.params {
        Some(p) => walk(renderer, migration, vars, &p.value, &p.location, "params")?,
        None => Value::Object(Default::default()),
    };
    Ok(RenderedStep {
        step_type: step.step_type.value.clone(),
        name: step.name.clone().unwrap_or_else(|| migration.name.clone()),
        method: String::new(),
        url: String::new(),
        headers: Vec::new(),
        queries: Vec::new(),
        body: None,
        auth: step
            .request
            .auth_name
            .as_ref()
            .map(|a| a.value.trim().to_string())
            .filter(|a| !a.is_empty()),
        params: params.to_string(),
    })
}

/// A body that was JSON before rendering must still be JSON after: a value with a quote or a
/// newline inserted verbatim breaks it, and the API would answer with a confusing 400.
fn check_json_body(
    rendered: &str,
    template: &Located<String>,
    migration: &Migration,
) -> Result<(), Diagnostic> {
    let trimmed = template.value.trim_start();
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return Ok(());
    }
    let Err(err) = serde_json::from_str::<Value>(rendered) else {
        return Ok(());
    };
    let line_text = rendered
        .lines()
        .nth(err.line().saturating_sub(1))
        .unwrap_or("")
        .trim();
    Err(Diagnostic::at(
        Location::new(
            &template.location.file,
            template.location.line + err.line().saturating_sub(1),
            err.column().max(1),
        ),
        format!(
            "{}: the request body is not valid JSON after rendering ({err}); rendered line: {}",
            migration.path.display(),
            mask::text(line_text)
        ),
    )
    .with_hint("a value inserted into a JSON string must not contain quotes or newlines: use {{json name}} or {{.name | toJson}} to insert it as a JSON value"))
}
