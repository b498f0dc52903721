//! `wait`: poll a URL until the API is up, before anything runs.

use std::time::{Duration, Instant};

use crate::config::{Config, WaitConfig};
use crate::http::{HostPolicy, HttpClient, Request};
use crate::report::{Diagnostic, Located, mask};
use crate::template::{Renderer, Vars, is_template};

use super::ExecError;

fn render(
    renderer: &Renderer,
    vars: &Vars,
    text: &Located<String>,
    field: &str,
) -> Result<String, ExecError> {
    if !is_template(&text.value) {
        return Ok(text.value.clone());
    }
    renderer.render(&text.value, vars).map_err(|e| {
        ExecError::Input(Diagnostic::at(
            text.location.clone(),
            format!("wait.{field}: {e}"),
        ))
    })
}

/// Poll `wait.url` until it answers with `wait.status`, or fail after `wait.timeout`.
/// Does nothing when the config has no `wait` section.
pub fn wait_for(
    config: &Config,
    client: &HttpClient,
    policy: &HostPolicy,
) -> Result<(), ExecError> {
    let Some(wait) = &config.wait else {
        return Ok(());
    };
    run(wait, config, client, policy)
}

fn run(
    wait: &WaitConfig,
    config: &Config,
    client: &HttpClient,
    policy: &HostPolicy,
) -> Result<(), ExecError> {
    let renderer = Renderer::new();
    let mut vars = Vars::new();
    for (k, v) in crate::config::env_pairs(config) {
        vars.insert(k, v);
    }
    let url = render(&renderer, &vars, &wait.url, "url")?;
    let mut headers = Vec::new();
    for h in &wait.headers {
        headers.push((
            h.name.clone(),
            render(&renderer, &vars, &h.value, &format!("headers.{}", h.name))?,
        ));
    }
    let policy = policy.clone().with_subject("wait");
    let started = Instant::now();
    tracing::info!(url = %mask::url(&url), status = wait.status, timeout_s = wait.timeout.as_secs(), "waiting for the API");
    loop {
        let remaining = wait.timeout.saturating_sub(started.elapsed());
        let request = Request {
            method: wait.method.as_str().to_string(),
            url: url.clone(),
            headers: headers.clone(),
            body: None,
            timeout: Some(remaining.clamp(Duration::from_millis(100), Duration::from_secs(10))),
        };
        let last = match client.execute(request, &policy) {
            Ok(r) if r.status == wait.status => {
                tracing::info!(url = %mask::url(&url), waited_ms = started.elapsed().as_millis() as u64, "API is up");
                return Ok(());
            }
            Ok(r) => format!("last={}", r.status),
            Err(crate::plugin::TransportError::Denied(m)) => {
                return Err(ExecError::Setup(format!("wait: {m}")));
            }
            Err(e) => format!("last=0: {}", crate::plugin::describe_transport_error(&e)),
        };
        if started.elapsed() + wait.interval > wait.timeout {
            return Err(ExecError::Wait(format!(
                "wait: timeout waiting for {} to return {} ({last}) after {:?}",
                mask::url(&url),
                wait.status,
                wait.timeout
            )));
        }
        std::thread::sleep(wait.interval);
    }
}
