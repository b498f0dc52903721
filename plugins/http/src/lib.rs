//! The built-in `http` step type of apirun: send one request, check its status, extract
//! values from the response.
//!
//! The host renders the migration's `request`/`response` sections and hands this component
//! the result as JSON params:
//!
//! ```json
//! {"method": "POST", "url": "http://127.0.0.1:8080/x",
//!  "headers": [{"name": "A", "value": "b"}], "queries": [{"name": "q", "value": "1"}],
//!  "body": "{\"k\": 1}", "auth": null, "timeout_ms": null,
//!  "response": {"result_code": ["200", "2xx"],
//!               "env_from": [{"name": "vpc_id", "path": "vpc.id"}],
//!               "env_missing": "skip"}}
//! ```
//!
//! Only `method` and `url` are required; `null` means absent everywhere. What differs from
//! the Go original, on purpose: any method is accepted (HEAD, OPTIONS, ...); `result_code`
//! entries may be classes (`2xx`) and an entry that is neither a code nor a class is an
//! error instead of being dropped; an `env_missing` other than `skip`/`fail` is an error;
//! duplicate header and query names are all sent; numbers are extracted exactly as written.

#![warn(missing_docs)]

use apirun_sdk::{Context, Outputs, Request, StatusSet, StepError, extract};
use serde::{Deserialize, Deserializer};

/// The params of an `http` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpParams {
    /// Any HTTP method; upper-cased.
    pub method: String,
    /// Absolute URL; `queries` are appended to its query.
    pub url: String,
    /// Request headers, in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub headers: Vec<Pair>,
    /// Query parameters appended to the URL (percent-encoded), in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub queries: Vec<Pair>,
    /// The body, sent as is for every method; empty means none.
    #[serde(default)]
    pub body: Option<String>,
    /// Name of a configured auth entry whose header the host injects.
    #[serde(default)]
    pub auth: Option<String>,
    /// Per-request timeout in milliseconds (the host caps it).
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// How to judge the response and what to extract from it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub response: ResponseSpec,
}

/// One header or query parameter.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pair {
    /// Name (must not be blank).
    pub name: String,
    /// Value.
    pub value: String,
}

/// The `response` section.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// Accepted statuses: codes (`"200"`, or the number `200`) or classes (`"2xx"`);
    /// empty accepts any.
    #[serde(default, deserialize_with = "status_list")]
    pub result_code: Vec<String>,
    /// Values to extract, in order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub env_from: Vec<EnvFrom>,
    /// What a value not found means.
    #[serde(default, deserialize_with = "null_as_default")]
    pub env_missing: EnvMissing,
}

/// One value to extract: variable `name` from gjson `path`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvFrom {
    /// Variable name.
    pub name: String,
    /// gjson path into the response body.
    pub path: String,
}

/// What an `env_from` path that finds nothing means.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EnvMissing {
    /// Leave the variable out of the outputs.
    #[default]
    Skip,
    /// Fail the step with `missing-value`.
    Fail,
}

impl<'de> Deserialize<'de> for EnvMissing {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "skip" => Ok(Self::Skip),
            "fail" => Ok(Self::Fail),
            _ => Err(serde::de::Error::custom(format!(
                "unknown env_missing `{text}`, expected `skip` or `fail`"
            ))),
        }
    }
}

/// `null` deserializes like an absent field.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A list of statuses written as strings or integers (`null` is empty).
fn status_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    /// One entry: YAML `200` arrives as a number, `"2xx"` as a string.
    struct Status(String);

    impl<'de> Deserialize<'de> for Status {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = Status;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a status code or class such as \"200\" or \"2xx\"")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Status, E> {
                    Ok(Status(v.to_owned()))
                }
                fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Status, E> {
                    Ok(Status(v.to_string()))
                }
                fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Status, E> {
                    Ok(Status(v.to_string()))
                }
            }
            deserializer.deserialize_any(Visitor)
        }
    }

    let list: Option<Vec<Status>> = Option::deserialize(deserializer)?;
    Ok(list.unwrap_or_default().into_iter().map(|s| s.0).collect())
}

/// Checks beyond deserialization, shared by `validate` and `run`: a usable method and URL,
/// named headers, queries and variables, and a valid `result_code`.
pub fn validate(params: &HttpParams) -> Result<(), StepError> {
    let method = params.method.trim();
    if method.is_empty() {
        return Err(StepError::invalid_params("method: must not be empty"));
    }
    if !method.bytes().all(is_token_byte) {
        return Err(StepError::invalid_params(format!(
            "method: `{method}` is not an HTTP method"
        )));
    }
    if params.url.trim().is_empty() {
        return Err(StepError::invalid_params("url: must not be empty"));
    }
    for (field, pairs) in [("headers", &params.headers), ("queries", &params.queries)] {
        if let Some(at) = pairs.iter().position(|p| p.name.trim().is_empty()) {
            return Err(StepError::invalid_params(format!(
                "{field}[{at}].name: must not be empty"
            )));
        }
    }
    for (at, entry) in params.response.env_from.iter().enumerate() {
        if entry.name.trim().is_empty() {
            return Err(StepError::invalid_params(format!(
                "response.env_from[{at}].name: must not be empty"
            )));
        }
        if entry.path.trim().is_empty() {
            return Err(StepError::invalid_params(format!(
                "response.env_from[{at}].path: must not be empty (variable `{}`)",
                entry.name
            )));
        }
    }
    StatusSet::parse(&params.response.result_code).map_err(|e| match e {
        StepError::InvalidParams(m) => {
            StepError::invalid_params(format!("response.result_code: {m}"))
        }
        other => other,
    })?;
    Ok(())
}

/// RFC 9110 `tchar`: what a method name may contain.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// The request `params` describe.
pub fn build_request(params: &HttpParams) -> Request {
    let mut request = Request::new(&params.method, params.url.trim());
    for q in &params.queries {
        request = request.query(&q.name, &q.value);
    }
    for h in &params.headers {
        request = request.header(&h.name, &h.value);
    }
    if let Some(body) = params.body.as_deref().filter(|b| !b.is_empty()) {
        if !request.has_header("content-type") && is_json(body) {
            request = request.header("Content-Type", "application/json");
        }
        request = request.body(body);
    }
    request.auth = params.auth.clone();
    request.timeout_ms = params.timeout_ms;
    request
}

fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Send the request, check its status, extract `env_from` in order.
#[apirun_sdk::step(name = "http", validate = validate)]
pub fn run(ctx: &Context, params: HttpParams) -> Result<Outputs, StepError> {
    let accepted = StatusSet::parse(&params.response.result_code)?;
    let response = ctx.send(build_request(&params))?;
    accepted.check(response.status, &response.body)?;

    let mut outputs = Outputs::new();
    for entry in &params.response.env_from {
        match extract(&response.body, &entry.path) {
            Some(value) => outputs.insert(entry.name.as_str(), value),
            None if params.response.env_missing == EnvMissing::Fail => {
                return Err(StepError::missing_value(&entry.name, &entry.path));
            }
            None => ctx.debug(format!(
                "no value for `{}` at path `{}`, skipped",
                entry.name, entry.path
            )),
        }
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests;
