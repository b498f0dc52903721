//! Where a step may send requests: deny by default for custom plugins, an optional top-level
//! allowlist for every step. Rules are parsed once into scheme, host and port.

use std::fmt;

use reqwest::Url;

/// One allowed destination: `[scheme://]host[:port]`, host may be `*` or start with `*.`,
/// port may be `*`. Without a scheme both http and https match; without a port, a rule with a
/// scheme matches only that scheme's default port and a rule without one matches any port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRule {
    scheme: Option<String>,
    host: String,
    port: PortRule,
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortRule {
    Any,
    Exact(u16),
}

/// A rule that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid allowed host `{rule}`: {reason}")]
    InvalidRule { rule: String, reason: String },
    #[error("host `{host}` is not in the allowed hosts of {subject} (allowed: {allowed})")]
    Denied {
        host: String,
        subject: String,
        allowed: String,
    },
}

impl HostRule {
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let bad = |reason: &str| PolicyError::InvalidRule {
            rule: text.to_string(),
            reason: reason.to_string(),
        };
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(bad("empty"));
        }
        let (scheme, rest) = match trimmed.split_once("://") {
            Some((s, r)) => {
                let s = s.to_ascii_lowercase();
                if s != "http" && s != "https" {
                    return Err(bad("the scheme must be http or https"));
                }
                (Some(s), r)
            }
            None => (None, trimmed),
        };
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(bad("give a host, not a path"));
        }
        let (host, port) = if let Some(stripped) = rest.strip_prefix('[') {
            let (h, after) = stripped
                .split_once(']')
                .ok_or_else(|| bad("unclosed `[`"))?;
            (format!("[{h}]"), after.strip_prefix(':'))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (rest.to_string(), None),
            }
        };
        let port = match (port, &scheme) {
            (Some("*"), _) => PortRule::Any,
            (Some(p), _) => PortRule::Exact(
                p.parse()
                    .map_err(|_| bad("the port must be a number or *"))?,
            ),
            (None, Some(s)) => PortRule::Exact(if s == "https" { 443 } else { 80 }),
            (None, None) => PortRule::Any,
        };
        let host = host.to_ascii_lowercase();
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let wildcard_ok = match host.strip_prefix("*.") {
            _ if host == "*" => true,
            Some(rest) => !rest.contains('*'),
            None => !host.contains('*'),
        };
        if !wildcard_ok {
            return Err(bad("a wildcard may only be `*` or a leading `*.`"));
        }
        Ok(Self {
            scheme,
            host,
            port,
            text: trimmed.to_string(),
        })
    }

    fn matches(&self, url: &Url) -> bool {
        if let Some(s) = &self.scheme
            && s != url.scheme()
        {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host_ok = if self.host == "*" {
            true
        } else if let Some(suffix) = self.host.strip_prefix("*.") {
            host.len() > suffix.len() + 1
                && host.ends_with(suffix)
                && host[..host.len() - suffix.len()].ends_with('.')
        } else {
            host == self.host
        };
        host_ok
            && match self.port {
                PortRule::Any => true,
                PortRule::Exact(p) => url.port_or_known_default() == Some(p),
            }
    }
}

impl fmt::Display for HostRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The destinations one step may reach. Built from the top-level `allowed_hosts` and, for a
/// custom plugin, the plugin's own list: a request must satisfy both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPolicy {
    /// Who the policy is for, in messages (`plugin "job" in step "start job"`).
    subject: String,
    /// Each layer must allow the URL; an empty list of layers allows everything.
    layers: Vec<Vec<HostRule>>,
}

impl HostPolicy {
    /// Everything allowed (the built-in http step without a top-level allowlist).
    pub fn allow_all(subject: impl Into<String>) -> Self {
        Self {
            subject: subject.into(),
            layers: Vec::new(),
        }
    }

    /// Add a layer: from now on a URL must also match one of `rules` (an empty list denies all).
    pub fn restrict(mut self, rules: Vec<HostRule>) -> Self {
        self.layers.push(rules);
        self
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }

    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Whether a request to `url` may be sent.
    pub fn check(&self, url: &Url) -> Result<(), PolicyError> {
        for layer in &self.layers {
            if !layer.iter().any(|r| r.matches(url)) {
                let host = match (url.host_str(), url.port()) {
                    (Some(h), Some(p)) => format!("{h}:{p}"),
                    (Some(h), None) => h.to_string(),
                    (None, _) => url.as_str().to_string(),
                };
                let allowed = if layer.is_empty() {
                    "none".to_string()
                } else {
                    layer
                        .iter()
                        .map(|r| r.text.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(PolicyError::Denied {
                    host,
                    subject: self.subject.clone(),
                    allowed,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("test url")
    }

    fn policy(rules: &[&str]) -> HostPolicy {
        HostPolicy::allow_all("test").restrict(
            rules
                .iter()
                .map(|r| HostRule::parse(r).expect("rule"))
                .collect(),
        )
    }

    #[test]
    fn exact_host_any_port_without_scheme() {
        let p = policy(&["api.example.com"]);
        assert!(p.check(&url("https://api.example.com/x")).is_ok());
        assert!(p.check(&url("http://api.example.com:8080/x")).is_ok());
        assert!(p.check(&url("https://evil.example.com/x")).is_err());
    }

    #[test]
    fn scheme_implies_default_port() {
        let p = policy(&["https://api.example.com"]);
        assert!(p.check(&url("https://api.example.com/x")).is_ok());
        assert!(p.check(&url("http://api.example.com/x")).is_err());
        assert!(p.check(&url("https://api.example.com:8443/x")).is_err());
    }

    #[test]
    fn wildcards_and_ports() {
        let p = policy(&["*.example.com", "127.0.0.1:8080", "http://localhost:*"]);
        assert!(p.check(&url("https://a.example.com")).is_ok());
        assert!(p.check(&url("https://a.b.example.com")).is_ok());
        assert!(p.check(&url("https://example.com")).is_err());
        assert!(p.check(&url("https://badexample.com")).is_err());
        assert!(p.check(&url("http://127.0.0.1:8080/")).is_ok());
        assert!(p.check(&url("http://127.0.0.1:8081/")).is_err());
        assert!(p.check(&url("http://localhost:1234/")).is_ok());
    }

    #[test]
    fn empty_layer_denies_everything_and_names_the_subject() {
        let p = HostPolicy::allow_all("plugin \"job\"").restrict(vec![]);
        let err = p.check(&url("http://127.0.0.1:9/")).expect_err("denied");
        assert_eq!(
            err.to_string(),
            "host `127.0.0.1:9` is not in the allowed hosts of plugin \"job\" (allowed: none)"
        );
    }

    #[test]
    fn layers_must_all_allow() {
        let p = policy(&["*"]).restrict(vec![HostRule::parse("127.0.0.1").expect("rule")]);
        assert!(p.check(&url("http://127.0.0.1:1/")).is_ok());
        assert!(p.check(&url("http://10.0.0.1/")).is_err());
    }

    #[test]
    fn invalid_rules() {
        for bad in ["", "ftp://x", "a/b", "x:port", "a*.b"] {
            assert!(HostRule::parse(bad).is_err(), "{bad}");
        }
    }
}
