//! Secret masking for everything apirun prints or logs.
//!
//! Two mechanisms: names that are secret by convention (`password`, `token`, `Authorization`,
//! ...) have their values replaced wherever they appear as a key, a query parameter or a
//! header; and values known to be secret at run time (auth tokens, passwords from config) are
//! registered with [`register_secret`] and replaced wherever they appear in text.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{OnceLock, RwLock};

static ENABLED: AtomicBool = AtomicBool::new(true);

/// Turn masking off (`logging.mask_sensitive: false`, for debugging against a test API) or
/// back on. On by default.
pub fn set_enabled(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The replacement for a masked value.
pub const MASK: &str = "***MASKED***";

const SENSITIVE: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "api_key",
    "apikey",
    "api-key",
    "token",
    "access_token",
    "auth_token",
    "access-token",
    "auth-token",
    "refresh_token",
    "id_token",
    "authorization",
    "proxy-authorization",
    "secret",
    "client_secret",
    "client-secret",
    "x-api-key",
    "cookie",
    "set-cookie",
];

/// Whether a key, header or parameter name conventionally holds a secret.
pub fn is_sensitive_key(name: &str) -> bool {
    let lower = name.trim().to_ascii_lowercase();
    SENSITIVE.contains(&lower.as_str())
        || lower.ends_with("_password")
        || lower.ends_with("_secret")
        || lower.ends_with("_token")
        || lower.ends_with("-token")
}

fn secrets() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Remember a value that must never be shown (tokens, passwords). Short values are ignored:
/// masking every `1` or `a` in the output would make it unreadable and hide nothing.
pub fn register_secret(value: &str) {
    let value = value.trim();
    if value.len() < 4 {
        return;
    }
    let mut list = secrets().write().unwrap_or_else(|p| p.into_inner());
    if !list.iter().any(|s| s == value) {
        list.push(value.to_string());
        // Longest first, so a secret containing another is replaced whole.
        list.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }
}

/// Replace every registered secret in `text`.
pub fn text(text: &str) -> String {
    if !enabled() {
        return text.to_string();
    }
    let list = secrets().read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for s in list.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), MASK);
        }
    }
    out
}

/// A header value as it may be shown.
pub fn header(name: &str, value: &str) -> String {
    if is_sensitive_key(name) && enabled() {
        let lower = value.trim_start().to_ascii_lowercase();
        for scheme in ["bearer ", "basic "] {
            if lower.starts_with(scheme) {
                let kept = &value.trim_start()[..scheme.len()];
                return format!("{kept}{MASK}");
            }
        }
        MASK.to_string()
    } else {
        text(value)
    }
}

/// A URL as it may be shown: user info and sensitive query values masked.
pub fn url(raw: &str) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(raw) else {
        return text(raw);
    };
    let sensitive_query = enabled() && parsed.query_pairs().any(|(k, _)| is_sensitive_key(&k));
    if !enabled() || (parsed.password().is_none() && !sensitive_query) {
        // Nothing to hide by name: show the URL exactly as written, not re-encoded.
        return text(raw);
    }
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some(MASK));
    }
    if sensitive_query {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_sensitive_key(&k) {
                    MASK.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    text(parsed.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_sensitive_query_and_userinfo() {
        let shown = url("https://u:pw@h.example/x?token=abc&q=1&client_secret=zz");
        assert!(!shown.contains("pw@"), "{shown}");
        assert!(!shown.contains("abc"), "{shown}");
        assert!(!shown.contains("=zz"), "{shown}");
        assert!(shown.contains("q=1"), "{shown}");
    }

    #[test]
    fn masks_authorization_header_keeping_scheme() {
        assert_eq!(
            header("Authorization", "Bearer eyJhbGci"),
            format!("Bearer {MASK}")
        );
        assert_eq!(
            header("authorization", "Basic dXNlcjpwYXNz"),
            format!("Basic {MASK}")
        );
        assert_eq!(header("X-Api-Key", "k123"), MASK);
        assert_eq!(header("Accept", "application/json"), "application/json");
    }

    #[test]
    fn registered_secrets_are_replaced_anywhere() {
        register_secret("s3cr3t-value-xyz");
        assert_eq!(
            text("body has s3cr3t-value-xyz inside"),
            format!("body has {MASK} inside")
        );
        register_secret("ab");
        assert_eq!(text("ab"), "ab");
    }
}
