//! Credentials for steps: basic, OAuth2 (client credentials and password grants) and
//! PocketBase, acquired lazily — only when a step uses them — and at most once per run.
//!
//! A token is used two ways: a template may read it (`{{.auth.kc}}`, the bare token as the Go
//! original provides it), and a step with `auth_name: kc` gets the `Authorization` header
//! injected by the host (`Basic …` or `Bearer …`) unless it sets one itself, so the secret
//! never enters the plugin. A failed acquisition is an error naming the entry and the cause;
//! it is never an empty token.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::Value;

use crate::config::{AuthConfig, AuthKind, Config};
use crate::http::{HostPolicy, HttpClient, Request};
use crate::plugin::describe_transport_error;
use crate::report::{Diagnostic, Location, mask};
use crate::template::{Renderer, Vars, is_template};

/// An acquired credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What `{{.auth.NAME}}` renders to: the base64 pair for basic, the access token otherwise.
    pub value: String,
    /// The full `Authorization` header value injected for `auth_name`.
    pub header: String,
}

/// Why a credential could not be acquired.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    /// No auth entry has this name.
    #[error("{0}")]
    Unknown(Diagnostic),
    /// The entry's config is incomplete or invalid.
    #[error("{0}")]
    Config(Diagnostic),
    /// The provider refused or could not be reached.
    #[error("auth `{name}` ({kind}): {message}")]
    Acquire {
        name: String,
        kind: &'static str,
        message: String,
    },
}

/// The credentials of one run.
pub struct Credentials {
    entries: BTreeMap<String, AuthConfig>,
    client: HttpClient,
    policy: HostPolicy,
    renderer: Renderer,
    /// Config env, for templates inside auth configs (`password: "{{.env.admin_pw}}"`).
    vars: Vars,
    acquired: Mutex<BTreeMap<String, Result<Token, AuthError>>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("entries", &self.entries.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Credentials {
    /// The auth entries of a config; nothing is acquired yet.
    pub fn new(config: &Config, client: HttpClient, policy: HostPolicy) -> Self {
        let mut vars = Vars::new();
        for (name, value) in crate::config::env_pairs(config) {
            vars.insert(name, value);
        }
        Self {
            entries: config
                .auth
                .iter()
                .map(|a| (a.name.value.clone(), a.clone()))
                .collect(),
            client,
            policy,
            renderer: Renderer::new(),
            vars,
            acquired: Mutex::new(BTreeMap::new()),
        }
    }

    /// No auth entries (for runners built without a config).
    pub fn none(client: HttpClient) -> Self {
        Self {
            entries: BTreeMap::new(),
            client,
            policy: HostPolicy::allow_all("auth"),
            renderer: Renderer::new(),
            vars: Vars::new(),
            acquired: Mutex::new(BTreeMap::new()),
        }
    }

    /// Names of the configured entries.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The credential `name`, acquiring it on first use; the result (success or failure) is
    /// kept for the rest of the run, so a provider is asked once.
    pub fn get(&self, name: &str, used_at: &Location) -> Result<Token, AuthError> {
        let mut acquired = self.acquired.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(result) = acquired.get(name) {
            return result.clone();
        }
        let result = match self.entries.get(name) {
            None => Err(AuthError::Unknown(
                Diagnostic::at(used_at.clone(), format!("unknown auth `{name}`")).with_hint(
                    match crate::report::did_you_mean(name, self.entries.keys().map(String::as_str))
                    {
                        Some(close) => format!("did you mean `{close}`?"),
                        None => {
                            "add an entry with this name under `auth:` in config.yaml".to_string()
                        }
                    },
                ),
            )),
            Some(entry) => self.acquire(entry),
        };
        if let Ok(token) = &result {
            mask::register_secret(&token.value);
            mask::register_secret(&token.header);
        }
        acquired.insert(name.to_string(), result.clone());
        result
    }

    fn acquire(&self, entry: &AuthConfig) -> Result<Token, AuthError> {
        let cfg = Fields {
            entry,
            renderer: &self.renderer,
            vars: &self.vars,
        };
        let started = std::time::Instant::now();
        let token = match entry.kind {
            AuthKind::Basic => basic(&cfg),
            AuthKind::OAuth2 => self.oauth2(&cfg),
            AuthKind::PocketBase => self.pocketbase(&cfg),
        }?;
        tracing::info!(
            auth = %entry.name.value,
            kind = entry.kind.as_str(),
            duration_ms = started.elapsed().as_millis() as u64,
            "credential acquired"
        );
        Ok(token)
    }

    fn post(
        &self,
        entry: &AuthConfig,
        url: &str,
        content_type: &str,
        body: String,
    ) -> Result<(u16, Value), AuthError> {
        let failed = |message: String| AuthError::Acquire {
            name: entry.name.value.clone(),
            kind: entry.kind.as_str(),
            message,
        };
        let request = Request {
            method: "POST".into(),
            url: url.to_string(),
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("Accept".into(), "application/json".into()),
            ],
            body: Some(body.into_bytes()),
            timeout: None,
        };
        let policy = self
            .policy
            .clone()
            .with_subject(format!("auth `{}`", entry.name.value));
        let response = self
            .client
            .execute(request, &policy)
            .map_err(|e| failed(describe_transport_error(&e)))?;
        let text = String::from_utf8_lossy(&response.body).into_owned();
        if !(200..300).contains(&response.status) {
            let excerpt: String = text.chars().take(300).collect();
            return Err(failed(format!(
                "{} answered {}: {}",
                mask::url(url),
                response.status,
                mask::text(excerpt.trim())
            )));
        }
        let json = serde_json::from_str(&text).map_err(|e| {
            failed(format!(
                "{} answered with invalid JSON: {e}",
                mask::url(url)
            ))
        })?;
        Ok((response.status, json))
    }

    fn oauth2(&self, cfg: &Fields<'_>) -> Result<Token, AuthError> {
        // Real files use `grant_type` + `grant_config: {...}`; the docs show the keys flat.
        let nested = cfg.entry.config.value.get("grant_config").is_some();
        let field = |key: &str| -> Result<Option<String>, AuthError> {
            if nested && key != "grant_type" {
                cfg.get_in(&["grant_config", key])
            } else {
                cfg.get_in(&[key])
            }
        };
        let grant = field("grant_type")?
            .unwrap_or_else(|| "client_credentials".into())
            .trim()
            .to_ascii_lowercase()
            .replace('-', "_");
        let token_url = field("token_url")?.ok_or_else(|| cfg.missing("token_url", "the token endpoint, e.g. https://sso.example.com/realms/master/protocol/openid-connect/token"))?;
        let client_id =
            field("client_id")?.ok_or_else(|| cfg.missing("client_id", "the OAuth2 client id"))?;
        let client_secret = field("client_secret")?;
        let scopes = cfg.scopes(nested)?;
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        match grant.as_str() {
            "client_credentials" => {
                let secret = client_secret.clone().ok_or_else(|| {
                    cfg.missing(
                        "client_secret",
                        "client_credentials needs the client secret",
                    )
                })?;
                form.append_pair("grant_type", "client_credentials")
                    .append_pair("client_id", &client_id)
                    .append_pair("client_secret", &secret);
            }
            "password" => {
                let username = field("username")?.ok_or_else(|| {
                    cfg.missing("username", "the password grant needs a username")
                })?;
                let password = field("password")?.ok_or_else(|| {
                    cfg.missing("password", "the password grant needs a password")
                })?;
                form.append_pair("grant_type", "password")
                    .append_pair("client_id", &client_id)
                    .append_pair("username", &username)
                    .append_pair("password", &password);
                if let Some(secret) = &client_secret {
                    form.append_pair("client_secret", secret);
                }
            }
            other => {
                return Err(AuthError::Config(
                    Diagnostic::at(
                        cfg.entry.location.clone(),
                        format!(
                            "auth `{}`: unsupported oauth2 grant_type `{other}`",
                            cfg.entry.name.value
                        ),
                    )
                    .with_hint("use `client_credentials` or `password`"),
                ));
            }
        }
        if !scopes.is_empty() {
            form.append_pair("scope", &scopes.join(" "));
        }
        let (_, json) = self.post(
            cfg.entry,
            &token_url,
            "application/x-www-form-urlencoded",
            form.finish(),
        )?;
        let token = json
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| AuthError::Acquire {
                name: cfg.entry.name.value.clone(),
                kind: "oauth2",
                message: format!("{} returned no access_token", mask::url(&token_url)),
            })?;
        Ok(Token {
            value: token.to_string(),
            header: format!("Bearer {token}"),
        })
    }

    fn pocketbase(&self, cfg: &Fields<'_>) -> Result<Token, AuthError> {
        let base = cfg.get_in(&["base_url"])?.ok_or_else(|| {
            cfg.missing(
                "base_url",
                "the PocketBase address, e.g. http://127.0.0.1:8090",
            )
        })?;
        let identity = match cfg.get_in(&["email"])? {
            Some(e) => e,
            None => cfg
                .get_in(&["identity"])?
                .or(cfg.get_in(&["username"])?)
                .ok_or_else(|| cfg.missing("email", "the superuser (admin) email"))?,
        };
        let password = cfg
            .get_in(&["password"])?
            .ok_or_else(|| cfg.missing("password", "the superuser (admin) password"))?;
        let base = base.trim_end_matches('/');
        let body = serde_json::json!({"identity": identity, "password": password}).to_string();
        // PocketBase 0.23+ authenticates superusers through a collection; older servers have
        // the admins endpoint. A `collection` key selects a users collection instead.
        let collection = cfg.get_in(&["collection"])?;
        let endpoints: Vec<String> = match &collection {
            Some(c) => vec![format!("{base}/api/collections/{c}/auth-with-password")],
            None => vec![
                format!("{base}/api/collections/_superusers/auth-with-password"),
                format!("{base}/api/admins/auth-with-password"),
            ],
        };
        let mut last_err = None;
        for url in &endpoints {
            match self.post(cfg.entry, url, "application/json", body.clone()) {
                Ok((_, json)) => {
                    let token = json
                        .get("token")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .ok_or_else(|| AuthError::Acquire {
                            name: cfg.entry.name.value.clone(),
                            kind: "pocketbase",
                            message: format!("{} returned no token", mask::url(url)),
                        })?;
                    return Ok(Token {
                        value: token.to_string(),
                        header: format!("Bearer {token}"),
                    });
                }
                Err(e @ AuthError::Acquire { .. }) if e.to_string().contains(" answered 404") => {
                    last_err = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| AuthError::Acquire {
            name: cfg.entry.name.value.clone(),
            kind: "pocketbase",
            message: "no login endpoint answered".into(),
        }))
    }
}

fn basic(cfg: &Fields<'_>) -> Result<Token, AuthError> {
    let username = cfg
        .get_in(&["username"])?
        .ok_or_else(|| cfg.missing("username", "basic auth needs a username"))?;
    let password = cfg
        .get_in(&["password"])?
        .ok_or_else(|| cfg.missing("password", "basic auth needs a password"))?;
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    Ok(Token {
        header: format!("Basic {encoded}"),
        value: encoded,
    })
}

/// Reads an entry's `config`, rendering templates against the config env.
struct Fields<'a> {
    entry: &'a AuthConfig,
    renderer: &'a Renderer,
    vars: &'a Vars,
}

impl Fields<'_> {
    fn get_in(&self, path: &[&str]) -> Result<Option<String>, AuthError> {
        let mut value = &self.entry.config.value;
        for key in path {
            match value.get(key) {
                Some(v) => value = v,
                None => return Ok(None),
            }
        }
        let text = match value {
            Value::Null => return Ok(None),
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        };
        let text = if is_template(&text) {
            self.renderer.render(&text, self.vars).map_err(|e| {
                AuthError::Config(
                    Diagnostic::at(
                        self.entry.config.location.clone(),
                        format!(
                            "auth `{}`: config.{}: {e}",
                            self.entry.name.value,
                            path.join(".")
                        ),
                    )
                    .with_hint("auth configs can use the variables of config.yaml `env`"),
                )
            })?
        } else {
            text
        };
        if path.last().is_some_and(|k| mask::is_sensitive_key(k)) {
            mask::register_secret(&text);
        }
        Ok(Some(text).filter(|t| !t.is_empty()))
    }

    fn scopes(&self, nested: bool) -> Result<Vec<String>, AuthError> {
        let node = if nested {
            self.entry
                .config
                .value
                .get("grant_config")
                .and_then(|g| g.get("scopes"))
        } else {
            self.entry.config.value.get("scopes")
        };
        Ok(match node {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(|s| s.trim().to_string()))
                .filter(|s| !s.is_empty())
                .collect(),
            Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
            _ => Vec::new(),
        })
    }

    fn missing(&self, key: &str, what: &str) -> AuthError {
        AuthError::Config(
            Diagnostic::at(
                self.entry.config.location.clone(),
                format!(
                    "auth `{}` ({}): `{key}` is required",
                    self.entry.name.value,
                    self.entry.kind.as_str()
                ),
            )
            .with_hint(what.to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_token_is_the_base64_pair_and_header_adds_the_scheme() {
        let entry = AuthConfig {
            kind: AuthKind::Basic,
            name: crate::report::Located::new("b".into(), Location::file_start("c.yaml")),
            config: crate::report::Located::new(
                serde_json::json!({"username": "admin", "password": "p+ss&"}),
                Location::file_start("c.yaml"),
            ),
            location: Location::file_start("c.yaml"),
        };
        let renderer = Renderer::new();
        let vars = Vars::new();
        let token = basic(&Fields {
            entry: &entry,
            renderer: &renderer,
            vars: &vars,
        })
        .expect("basic");
        assert_eq!(token.value, "YWRtaW46cCtzcyY=");
        assert_eq!(token.header, "Basic YWRtaW46cCtzcyY=");
    }
}
