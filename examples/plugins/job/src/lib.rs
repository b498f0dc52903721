//! `job`: an apirun step that starts an asynchronous job, polls until it is done and extracts
//! its result. An example of a custom step plugin written with `apirun-sdk`; see
//! docs/plugins.md.
//!
//! Many APIs answer a long operation (an export, a provisioning, a report) with `202 Accepted`
//! and a job to poll. With the built-in `http` step a migration cannot wait for it; with this
//! step it reads:
//!
//! ```yaml
//! up:
//!   name: export the realm
//!   type: job
//!   params:
//!     url: "{{.base}}/exports"          # POST here starts the job
//!     body: {realm: "{{.realm}}"}       # JSON body of the start request (optional)
//!     auth: admin                       # auth entry of config.yaml (optional)
//!     id_path: job.id                   # where the job id is in the start response
//!     status_url: "{{.base}}/exports/{id}"  # optional: default Location, else url/{id}
//!     state_path: state                 # where the job's state is in a poll response
//!     done: [finished]                  # states meaning success
//!     failed: [failed, cancelled]       # states meaning failure
//!     interval_ms: 2000                 # pause between polls
//!     max_polls: 30                     # then give up
//!     id_output: export_job             # optional: also output the job id
//!     outputs:                          # name -> path into the final poll response
//!       export_url: result.url
//! ```
//!
//! How it waits: a component has no clock of its own that the host does not control, so the
//! pause between polls is the host's `sleep` (WIT `apirun:step@0.1.1`, [`Context::sleep`]).
//! The host bounds it by the plugin's time limit: size `limits.timeout` in config.yaml for
//! `interval_ms × max_polls` plus the requests. In native tests a [`MockHost`] records the
//! pauses without waiting.
//!
//! [`MockHost`]: apirun_sdk::MockHost

#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use apirun_sdk::{Context, Outputs, Request, Response, StatusSet, StepError, body_excerpt};
use serde::Deserialize;

/// The most polls a step may ask for.
pub const MAX_POLLS: u32 = 1000;
/// The longest pause between two polls.
pub const MAX_INTERVAL_MS: u32 = 10 * 60 * 1000;

/// The params of a `job` step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Where to start the job: a POST to this URL.
    pub url: String,
    /// JSON body of the start request; none when absent.
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// Auth entry of config.yaml for every request of the step (the host injects the header).
    #[serde(default)]
    pub auth: Option<String>,
    /// Accepted statuses of the start request.
    #[serde(default = "default_accept")]
    pub accept: Vec<String>,
    /// Where the job id is in the start response (a gjson path).
    #[serde(default = "default_id_path")]
    pub id_path: String,
    /// Where to poll, `{id}` replaced by the (percent-encoded) job id. Default: the start
    /// response's `Location` header, else `url/{id}`.
    #[serde(default)]
    pub status_url: Option<String>,
    /// Where the job's state is in a poll response (a gjson path).
    #[serde(default = "default_state_path")]
    pub state_path: String,
    /// States that mean the job finished well.
    #[serde(default = "default_done")]
    pub done: Vec<String>,
    /// States that mean the job failed.
    #[serde(default = "default_failed")]
    pub failed: Vec<String>,
    /// Pause between polls, in milliseconds.
    #[serde(default = "default_interval_ms")]
    pub interval_ms: u32,
    /// How many polls before giving up.
    #[serde(default = "default_max_polls")]
    pub max_polls: u32,
    /// Also return the job id under this name.
    #[serde(default)]
    pub id_output: Option<String>,
    /// Values to return: output name → path into the final poll response. Each must be there.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

fn default_accept() -> Vec<String> {
    vec!["200".into(), "201".into(), "202".into()]
}
fn default_id_path() -> String {
    "id".into()
}
fn default_state_path() -> String {
    "status".into()
}
fn default_done() -> Vec<String> {
    vec!["done".into(), "succeeded".into(), "completed".into()]
}
fn default_failed() -> Vec<String> {
    vec!["failed".into(), "error".into(), "cancelled".into()]
}
fn default_interval_ms() -> u32 {
    1000
}
fn default_max_polls() -> u32 {
    30
}

/// Whether `url` can be sent, or stands for a value the host only knows at run time (at
/// validate time such values are placeholders like `<base>`).
fn url_ok(url: &str) -> bool {
    let url = url.trim();
    url.starts_with('<') || url.starts_with("http://") || url.starts_with("https://")
}

/// Checks beyond the types, run by `apirun validate` and before every run.
pub fn check(p: &Params) -> Result<(), StepError> {
    let invalid = |m: String| Err(StepError::invalid_params(m));
    if !url_ok(&p.url) {
        return invalid(format!(
            "url: `{}` is not an absolute http or https URL",
            p.url
        ));
    }
    if let Some(s) = &p.status_url
        && !url_ok(s)
    {
        return invalid(format!(
            "status_url: `{s}` is not an absolute http or https URL"
        ));
    }
    StatusSet::parse(&p.accept).map_err(|e| match e {
        StepError::InvalidParams(m) => StepError::invalid_params(format!("accept: {m}")),
        other => other,
    })?;
    for (key, path) in [("id_path", &p.id_path), ("state_path", &p.state_path)] {
        if path.trim().is_empty() {
            return invalid(format!("{key}: must not be empty"));
        }
    }
    if p.done.is_empty() {
        return invalid("done: list at least one state that means the job succeeded".into());
    }
    if let Some(both) = p.done.iter().find(|s| p.failed.contains(s)) {
        return invalid(format!("state `{both}` is in both `done` and `failed`"));
    }
    if p.max_polls == 0 || p.max_polls > MAX_POLLS {
        return invalid(format!(
            "max_polls: {} is not between 1 and {MAX_POLLS}",
            p.max_polls
        ));
    }
    if p.interval_ms > MAX_INTERVAL_MS {
        return invalid(format!(
            "interval_ms: {} is more than {MAX_INTERVAL_MS}",
            p.interval_ms
        ));
    }
    for (name, path) in &p.outputs {
        if name.trim().is_empty() || path.trim().is_empty() {
            return invalid(format!("outputs: `{name}: {path}` needs a name and a path"));
        }
    }
    if p.id_output.as_deref().is_some_and(|n| n.trim().is_empty()) {
        return invalid("id_output: must not be empty".into());
    }
    Ok(())
}

/// Start the job, poll it until it is done, return its outputs.
#[apirun_sdk::step(name = "job", validate = check)]
pub fn run(ctx: &Context, p: Params) -> Result<Outputs, StepError> {
    let authed = |request: Request| match &p.auth {
        Some(auth) => request.auth(auth),
        None => request,
    };

    let mut start = Request::post(&p.url);
    if let Some(body) = &p.body {
        start = start.json(body)?;
    }
    let started = ctx.send(authed(start))?;
    started.check_status(&p.accept)?;
    let id = started
        .extract(&p.id_path)
        .ok_or_else(|| StepError::missing_value("job id", &p.id_path))?;
    let status_url = status_url(&p, &started, &id);
    ctx.info(format!("started job {id}; polling {status_url}"));

    let mut last_state = String::new();
    for poll in 1..=p.max_polls {
        let response = ctx.send(authed(Request::get(&status_url)))?;
        response.check_status(&["2xx"])?;
        let state = response.extract(&p.state_path).ok_or_else(|| {
            StepError::failed(format!(
                "job {id}: the poll response has no state at `{}`: {}",
                p.state_path,
                body_excerpt(&response.body)
            ))
        })?;
        ctx.debug(format!(
            "job {id}: `{state}` (poll {poll} of {})",
            p.max_polls
        ));
        if p.done.contains(&state) {
            return outputs(&p, &id, &response);
        }
        if p.failed.contains(&state) {
            return Err(StepError::failed(format!(
                "job {id} ended in state `{state}`: {}",
                body_excerpt(&response.body)
            )));
        }
        last_state = state;
        if poll < p.max_polls {
            ctx.sleep(Duration::from_millis(u64::from(p.interval_ms)));
        }
    }
    Err(StepError::failed(format!(
        "job {id} was still `{last_state}` after {} polls {} ms apart; raise max_polls or interval_ms \
         (and the plugin's limits.timeout)",
        p.max_polls, p.interval_ms
    )))
}

/// Where to poll: `status_url` with `{id}`, else the `Location` of the start response, else
/// `url/{id}`.
fn status_url(p: &Params, started: &Response, id: &str) -> String {
    let id = apirun_sdk::percent_encode(id);
    if let Some(template) = &p.status_url {
        return template.replace("{id}", &id);
    }
    if let Some(location) = started.header("location").filter(|l| !l.trim().is_empty()) {
        return resolve(&p.url, location.trim());
    }
    format!("{}/{id}", p.url.trim_end_matches('/'))
}

/// `location` relative to `base`, as a browser resolves a `Location` header (enough of
/// RFC 3986 for APIs: absolute URLs, absolute paths and relative paths; any query in `base` is
/// dropped).
pub fn resolve(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let base = base.split(['?', '#']).next().unwrap_or(base);
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    if location.starts_with('/') {
        return format!("{}{location}", &base[..path_start]);
    }
    let dir_end = base[path_start..]
        .rfind('/')
        .map_or(base.len(), |i| path_start + i);
    format!("{}/{location}", &base[..dir_end])
}

fn outputs(p: &Params, id: &str, response: &Response) -> Result<Outputs, StepError> {
    let mut out = Outputs::new();
    if let Some(name) = &p.id_output {
        out.insert(name.trim(), id);
    }
    for (name, path) in &p.outputs {
        let value = response
            .extract(path)
            .ok_or_else(|| StepError::missing_value(name, path))?;
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apirun_sdk::{MockHost, TransportError};
    use serde_json::json;

    fn params(extra: serde_json::Value) -> String {
        let mut p = json!({
            "url": "http://api.local/jobs",
            "body": {"kind": "export"},
            "interval_ms": 250,
            "max_polls": 5,
            "outputs": {"result_id": "result.id"},
        });
        if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                p.insert(k.clone(), v.clone());
            }
        }
        p.to_string()
    }

    fn state(s: &str) -> Response {
        Response::new(200).with_body(json!({"status": s, "result": {"id": "r-9"}}).to_string())
    }

    #[test]
    fn starts_polls_until_done_and_extracts() {
        let mock = MockHost::new()
            .respond(Response::new(202).with_body(r#"{"id":"j 1"}"#))
            .respond(state("queued"))
            .respond(state("running"))
            .respond(state("done"));
        let out = STEP
            .run_json(
                &mock.context(),
                &params(json!({"auth": "admin", "id_output": "job_id"})),
            )
            .expect("the job finishes");
        assert_eq!(out.get("result_id"), Some("r-9"));
        assert_eq!(out.get("job_id"), Some("j 1"));

        let sent = mock.requests();
        assert_eq!(sent.len(), 4);
        assert_eq!(
            (sent[0].method.as_str(), sent[0].url.as_str()),
            ("POST", "http://api.local/jobs")
        );
        assert_eq!(sent[0].body_text().as_deref(), Some(r#"{"kind":"export"}"#));
        for poll in &sent[1..] {
            assert_eq!(
                (poll.method.as_str(), poll.url.as_str()),
                ("GET", "http://api.local/jobs/j%201")
            );
            assert_eq!(poll.auth.as_deref(), Some("admin"));
        }
        // a pause between polls, none after the last
        assert_eq!(mock.sleeps(), vec![Duration::from_millis(250); 2]);
    }

    #[test]
    fn polls_the_location_of_the_start_response() {
        let mock = MockHost::new()
            .respond(
                Response::new(202)
                    .with_header("Location", "/queue/7")
                    .with_body(r#"{"id":"7"}"#),
            )
            .respond(state("done"));
        STEP.run_json(&mock.context(), &params(json!({})))
            .expect("done at once");
        assert_eq!(mock.requests()[1].url, "http://api.local/queue/7");
        assert!(mock.sleeps().is_empty());
    }

    #[test]
    fn status_url_template_wins() {
        let mock = MockHost::new()
            .respond(
                Response::new(201)
                    .with_header("Location", "/ignored")
                    .with_body(r#"{"job":{"id":3}}"#),
            )
            .respond(state("done"));
        let p =
            params(json!({"id_path": "job.id", "status_url": "http://api.local/status?job={id}"}));
        STEP.run_json(&mock.context(), &p).expect("done");
        assert_eq!(mock.requests()[1].url, "http://api.local/status?job=3");
    }

    #[test]
    fn a_failed_job_is_a_step_error_with_its_state() {
        let mock = MockHost::new()
            .respond(Response::new(202).with_body(r#"{"id":"j"}"#))
            .respond(state("failed"));
        let err = STEP
            .run_json(&mock.context(), &params(json!({})))
            .expect_err("failed job");
        assert!(
            matches!(&err, StepError::Failed(m) if m.starts_with("job j ended in state `failed`")),
            "{err}"
        );
    }

    #[test]
    fn gives_up_after_max_polls() {
        let mock = MockHost::with_handler(|_| Ok(state("running")));
        mock.push_response(Response::new(202).with_body(r#"{"id":"j"}"#));
        let err = STEP
            .run_json(&mock.context(), &params(json!({"max_polls": 3})))
            .expect_err("never done");
        assert!(
            matches!(&err, StepError::Failed(m) if m.contains("still `running` after 3 polls")),
            "{err}"
        );
        assert_eq!(mock.requests().len(), 4);
        assert_eq!(mock.sleeps().len(), 2);
    }

    #[test]
    fn start_errors_and_missing_values_are_data() {
        let mock = MockHost::new().respond(Response::new(409).with_body("busy"));
        let err = STEP
            .run_json(&mock.context(), &params(json!({})))
            .expect_err("409");
        assert!(matches!(err, StepError::RejectedStatus { status: 409, .. }));

        let mock = MockHost::new().respond(Response::new(202).with_body("{}"));
        let err = STEP
            .run_json(&mock.context(), &params(json!({})))
            .expect_err("no id");
        assert_eq!(err, StepError::missing_value("job id", "id"));

        let mock = MockHost::new()
            .respond(Response::new(202).with_body(r#"{"id":"j"}"#))
            .respond(Response::new(200).with_body(r#"{"status":"done"}"#));
        let err = STEP
            .run_json(&mock.context(), &params(json!({})))
            .expect_err("no result");
        assert_eq!(err, StepError::missing_value("result_id", "result.id"));

        let mock = MockHost::new().fail(TransportError::Denied("not allowed".into()));
        let err = STEP
            .run_json(&mock.context(), &params(json!({})))
            .expect_err("denied");
        assert!(matches!(
            err,
            StepError::Transport(TransportError::Denied(_))
        ));
    }

    #[test]
    fn params_are_checked_before_anything_is_sent() {
        let bad = [
            (
                json!({"url": "ftp://x"}),
                "url: `ftp://x` is not an absolute http or https URL",
            ),
            (
                json!({"max_polls": 0}),
                "max_polls: 0 is not between 1 and 1000",
            ),
            (
                json!({"done": []}),
                "done: list at least one state that means the job succeeded",
            ),
            (
                json!({"done": ["x"], "failed": ["x"]}),
                "state `x` is in both `done` and `failed`",
            ),
            (
                json!({"accept": ["2x"]}),
                "accept: accepted status `2x` is neither a status code like `200` nor a class like `2xx`",
            ),
            (
                json!({"outputs": {"a": ""}}),
                "outputs: `a: ` needs a name and a path",
            ),
            (json!({"max_pols": 3}), "unknown field `max_pols`"),
        ];
        for (extra, message) in bad {
            match STEP.validate_json(&params(extra.clone())) {
                Err(StepError::InvalidParams(m)) => assert!(m.contains(message), "{extra}: {m}"),
                other => panic!("{extra}: expected invalid params, got {other:?}"),
            }
        }
        // placeholders stand for values only known at run time
        assert!(
            STEP.validate_json(&params(json!({"url": "<base>/jobs"})))
                .is_ok()
        );
    }

    #[test]
    fn locations_resolve_like_a_browser() {
        assert_eq!(resolve("http://h:1/a/b?x=1", "/c"), "http://h:1/c");
        assert_eq!(resolve("http://h:1/a/b", "c/d"), "http://h:1/a/c/d");
        assert_eq!(resolve("http://h:1", "c"), "http://h:1/c");
        assert_eq!(resolve("http://h/a", "https://o/x"), "https://o/x");
    }
}
