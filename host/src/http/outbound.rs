//! The `send` capability handed to a plugin for one step.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{HostPolicy, HttpClient, Request};
use crate::plugin::bindings::{HttpRequest, HttpResponse, LogLevel, Pair};
use crate::plugin::{Outbound, TransportError, log_guest};

/// What the host saw of a step's requests: the last response (recorded in `migration_runs`)
/// and how many requests were sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub requests: u32,
    pub last_status: Option<u16>,
    pub last_body: Option<Vec<u8>>,
}

/// Performs a plugin's requests under the step's policy, injecting auth headers the plugin
/// never sees.
#[derive(Debug, Clone)]
pub struct StepOutbound {
    client: HttpClient,
    policy: HostPolicy,
    /// Auth entry name → full `Authorization` header value.
    auth_headers: BTreeMap<String, String>,
    /// Who is running, for log lines (`plugin http, step 001 create realm`).
    label: String,
    observed: Arc<Mutex<Observed>>,
}

impl StepOutbound {
    pub fn new(
        client: HttpClient,
        policy: HostPolicy,
        auth_headers: BTreeMap<String, String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            client,
            policy,
            auth_headers,
            label: label.into(),
            observed: Arc::new(Mutex::new(Observed::default())),
        }
    }

    /// A handle on what this step's requests returned; readable after the plugin finished.
    pub fn observed(&self) -> Arc<Mutex<Observed>> {
        self.observed.clone()
    }
}

impl Outbound for StepOutbound {
    fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let mut headers: Vec<(String, String)> = request
            .headers
            .into_iter()
            .map(|p| (p.name, p.value))
            .collect();
        if let Some(name) = request.auth.as_deref().filter(|n| !n.trim().is_empty()) {
            let value = self.auth_headers.get(name.trim()).ok_or_else(|| {
                TransportError::Denied(format!(
                    "auth `{name}` is not available to this step (known: {})",
                    if self.auth_headers.is_empty() {
                        "none".to_string()
                    } else {
                        self.auth_headers
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                ))
            })?;
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
            {
                headers.push(("Authorization".to_string(), value.clone()));
            }
        }
        let req = Request {
            method: request.method,
            url: request.url,
            headers,
            body: request.body,
            timeout: request
                .timeout_ms
                .map(|ms| Duration::from_millis(u64::from(ms))),
        };
        let result = self.client.execute(req, &self.policy);
        let mut observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        observed.requests += 1;
        let response = result?;
        observed.last_status = Some(response.status);
        observed.last_body = Some(response.body.clone());
        Ok(HttpResponse {
            status: response.status,
            headers: response
                .headers
                .into_iter()
                .map(|(name, value)| Pair { name, value })
                .collect(),
            body: response.body,
        })
    }

    fn log(&mut self, level: LogLevel, message: &str) {
        log_guest(level, &self.label, message);
    }

    fn step_label(&self) -> Option<&str> {
        Some(&self.label)
    }
}
