//! Outbound HTTP on behalf of plugins: reqwest with timeouts, a response-size cap, TLS
//! settings from config, a host allowlist checked on every redirect hop, and a log line for
//! every request with secrets masked.

mod outbound;
mod policy;

pub use outbound::{Observed, StepOutbound};
pub use policy::{HostPolicy, HostRule, PolicyError};

use std::io::Read;
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, LOCATION};
use reqwest::{Method, Url};

use crate::plugin::TransportError;
use crate::report::mask;

/// TLS versions a config may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    V1_0,
    V1_1,
    V1_2,
    V1_3,
}

impl TlsVersion {
    fn to_reqwest(self) -> reqwest::tls::Version {
        match self {
            Self::V1_0 => reqwest::tls::Version::TLS_1_0,
            Self::V1_1 => reqwest::tls::Version::TLS_1_1,
            Self::V1_2 => reqwest::tls::Version::TLS_1_2,
            Self::V1_3 => reqwest::tls::Version::TLS_1_3,
        }
    }
}

/// How the HTTP client behaves; defaults are safe for unattended runs.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    /// Accept any TLS certificate (`client.insecure`).
    pub insecure: bool,
    pub min_tls_version: Option<TlsVersion>,
    pub max_tls_version: Option<TlsVersion>,
    pub connect_timeout: Duration,
    /// Bound for one request, headers and body included, unless a step asks for less.
    pub request_timeout: Duration,
    /// Responses larger than this are refused.
    pub max_response_bytes: usize,
    /// Redirect hops followed (each re-checked against the policy).
    pub max_redirects: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            insecure: false,
            min_tls_version: None,
            max_tls_version: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_response_bytes: 16 * 1024 * 1024,
            max_redirects: 10,
        }
    }
}

/// Why the client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientError(String);

/// A request as the host sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub timeout: Option<Duration>,
}

/// A response as the host received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The shared HTTP client of a run.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Client,
    settings: ClientSettings,
}

impl HttpClient {
    pub fn new(settings: ClientSettings) -> Result<Self, ClientError> {
        let mut builder = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(None::<Duration>)
            .danger_accept_invalid_certs(settings.insecure)
            .user_agent(concat!("apirun/", env!("CARGO_PKG_VERSION")));
        if let Some(v) = settings.min_tls_version {
            builder = builder.min_tls_version(v.to_reqwest());
        }
        if let Some(v) = settings.max_tls_version {
            builder = builder.max_tls_version(v.to_reqwest());
        }
        let client = builder.build().map_err(|e| ClientError(format!("{e:#}")))?;
        Ok(Self { client, settings })
    }

    pub fn settings(&self) -> &ClientSettings {
        &self.settings
    }

    /// Send a request, following redirects; every hop must be allowed by `policy`.
    pub fn execute(
        &self,
        request: Request,
        policy: &HostPolicy,
    ) -> Result<Response, TransportError> {
        let mut method = Method::from_bytes(request.method.trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| {
                TransportError::InvalidRequest(format!("invalid method `{}`", request.method))
            })?;
        let mut url = Url::parse(request.url.trim()).map_err(|e| {
            TransportError::InvalidRequest(format!(
                "invalid url `{}`: {e}",
                mask::url(&request.url)
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TransportError::InvalidRequest(format!(
                "unsupported url scheme `{}` in `{}`: only http and https",
                url.scheme(),
                mask::url(url.as_str())
            )));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                TransportError::InvalidRequest(format!("invalid header name `{name}`"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                TransportError::InvalidRequest(format!("invalid value for header `{name}`"))
            })?;
            headers.append(name, value);
        }
        let mut body = request.body;
        let timeout = request
            .timeout
            .map(|t| t.min(self.settings.request_timeout))
            .unwrap_or(self.settings.request_timeout);
        let started = Instant::now();
        for _hop in 0..=self.settings.max_redirects {
            policy
                .check(&url)
                .map_err(|e| TransportError::Denied(e.to_string()))?;
            let remaining = timeout.checked_sub(started.elapsed()).unwrap_or_default();
            let mut builder = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers.clone())
                .timeout(remaining.max(Duration::from_millis(1)));
            if let Some(b) = &body {
                builder = builder.body(b.clone());
            }
            let hop_started = Instant::now();
            let result = builder.send();
            let elapsed = hop_started.elapsed();
            let response = match result {
                Ok(r) => r,
                Err(err) => {
                    tracing::debug!(
                        method = %method,
                        url = %mask::url(url.as_str()),
                        duration_ms = elapsed.as_millis() as u64,
                        error = %err,
                        "http request failed"
                    );
                    return Err(transport_error(&err, &url));
                }
            };
            let status = response.status().as_u16();
            tracing::debug!(
                method = %method,
                url = %mask::url(url.as_str()),
                status,
                duration_ms = elapsed.as_millis() as u64,
                "http request"
            );
            if response.status().is_redirection()
                && let Some(location) = response.headers().get(LOCATION)
            {
                let location = location.to_str().map_err(|_| {
                    TransportError::InvalidRequest(
                        "redirect with a non-text Location header".into(),
                    )
                })?;
                let next = url.join(location).map_err(|e| {
                    TransportError::InvalidRequest(format!(
                        "redirect to invalid location `{location}`: {e}"
                    ))
                })?;
                if next.host_str() != url.host_str()
                    || next.port_or_known_default() != url.port_or_known_default()
                {
                    // Credentials are for the origin that was asked, never for where it points.
                    headers.remove(AUTHORIZATION);
                }
                if status == 303 || ((status == 301 || status == 302) && method == Method::POST) {
                    method = Method::GET;
                    body = None;
                    headers.remove(reqwest::header::CONTENT_TYPE);
                    headers.remove(reqwest::header::CONTENT_LENGTH);
                }
                url = next;
                continue;
            }
            let response_headers = response
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let cap = self.settings.max_response_bytes;
            let mut buf = Vec::new();
            response
                .take(cap as u64 + 1)
                .read_to_end(&mut buf)
                .map_err(|e| {
                    TransportError::Other(format!(
                        "reading the response of {}: {e}",
                        mask::url(url.as_str())
                    ))
                })?;
            if buf.len() > cap {
                return Err(TransportError::TooLarge(format!(
                    "the response of {} exceeds {cap} bytes",
                    mask::url(url.as_str())
                )));
            }
            return Ok(Response {
                status,
                headers: response_headers,
                body: buf,
            });
        }
        Err(TransportError::Other(format!(
            "more than {} redirects, last to {}",
            self.settings.max_redirects,
            mask::url(url.as_str())
        )))
    }
}

fn transport_error(err: &reqwest::Error, url: &Url) -> TransportError {
    let shown = mask::url(url.as_str());
    let mut detail = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    if err.is_timeout() {
        TransportError::Timeout(format!("{shown}: {detail}"))
    } else if err.is_connect() {
        TransportError::Connect(format!("{shown}: {detail}"))
    } else if err.is_builder() {
        TransportError::InvalidRequest(format!("{shown}: {detail}"))
    } else {
        TransportError::Other(format!("{shown}: {detail}"))
    }
}
