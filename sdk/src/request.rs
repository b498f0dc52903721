//! HTTP requests a step asks the host to perform (WIT `http-request`).

use serde::Serialize;

use crate::StepError;

/// An HTTP request a step asks the host to perform, built with chained methods.
///
/// The host performs it only if the step's allowlist permits the destination, injects the
/// auth header for [`auth`](Request::auth), and applies its own timeout and size caps.
///
/// ```
/// use apirun_sdk::Request;
///
/// let request = Request::post("http://api.local/users")
///     .query("dry run", "yes & no")
///     .header("X-Trace", "1")
///     .json(&serde_json::json!({"name": "ada"}))?
///     .auth("admin");
/// assert_eq!(request.url, "http://api.local/users?dry%20run=yes%20%26%20no");
/// assert_eq!(request.header_value("content-type"), Some("application/json"));
/// # Ok::<(), apirun_sdk::StepError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method, upper-cased by the constructors (any method: GET, HEAD, OPTIONS, ...).
    pub method: String,
    /// Absolute http or https URL, query included.
    pub url: String,
    /// Headers in order; names may repeat.
    pub headers: Vec<(String, String)>,
    /// The body, sent as is for every method.
    pub body: Option<Vec<u8>>,
    /// Name of a configured auth entry whose header the host injects (unless `headers`
    /// already sets `Authorization`). The step never sees the secret.
    pub auth: Option<String>,
    /// Per-request timeout in milliseconds; the host caps it at its own limit.
    pub timeout_ms: Option<u32>,
}

impl Request {
    /// A request with any method (upper-cased) to `url`.
    pub fn new(method: impl AsRef<str>, url: impl Into<String>) -> Self {
        Self {
            method: method.as_ref().trim().to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
            auth: None,
            timeout_ms: None,
        }
    }

    /// A `GET` request.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new("GET", url)
    }

    /// A `POST` request.
    pub fn post(url: impl Into<String>) -> Self {
        Self::new("POST", url)
    }

    /// A `PUT` request.
    pub fn put(url: impl Into<String>) -> Self {
        Self::new("PUT", url)
    }

    /// A `PATCH` request.
    pub fn patch(url: impl Into<String>) -> Self {
        Self::new("PATCH", url)
    }

    /// A `DELETE` request.
    pub fn delete(url: impl Into<String>) -> Self {
        Self::new("DELETE", url)
    }

    /// A `HEAD` request.
    pub fn head(url: impl Into<String>) -> Self {
        Self::new("HEAD", url)
    }

    /// Append a header (names may repeat; order is kept).
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Append `name=value` to the URL's query, percent-encoding both, after any query the URL
    /// already has and before its `#fragment`.
    #[must_use]
    pub fn query(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.url = append_query(&self.url, name.as_ref(), value.as_ref());
        self
    }

    /// Set the body, sent as is.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// Set the body to `value` serialized as JSON, and `Content-Type: application/json`
    /// unless a Content-Type header is already set.
    ///
    /// Fails (with [`StepError::Failed`]) only if `value` cannot be serialized, e.g. a map
    /// with non-string keys.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Result<Self, StepError> {
        let body = serde_json::to_vec(value)
            .map_err(|e| StepError::failed(format!("cannot serialize the request body: {e}")))?;
        if !self.has_header("content-type") {
            self.headers
                .push(("Content-Type".to_owned(), "application/json".to_owned()));
        }
        self.body = Some(body);
        Ok(self)
    }

    /// Ask the host to authenticate the request with the configured auth entry `name`.
    #[must_use]
    pub fn auth(mut self, name: impl Into<String>) -> Self {
        self.auth = Some(name.into());
        self
    }

    /// Set a per-request timeout in milliseconds (the host caps it at its own limit).
    #[must_use]
    pub fn timeout_ms(mut self, timeout_ms: u32) -> Self {
        self.timeout_ms = Some(timeout_ms);
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether header `name` is set (case-insensitive).
    pub fn has_header(&self, name: &str) -> bool {
        self.header_value(name).is_some()
    }

    /// The body as text (lossy UTF-8), if there is one; handy in tests.
    pub fn body_text(&self) -> Option<String> {
        self.body
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// `url` with `name=value` appended to its query (both percent-encoded), before any fragment.
pub fn append_query(url: &str, name: &str, value: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(at) => url.split_at(at),
        None => (url, ""),
    };
    let mut out = String::with_capacity(url.len() + name.len() + value.len() + 2);
    out.push_str(base);
    match base.find('?') {
        None => out.push('?'),
        Some(_) if base.ends_with('?') || base.ends_with('&') => {}
        Some(_) => out.push('&'),
    }
    percent_encode_into(&mut out, name);
    out.push('=');
    percent_encode_into(&mut out, value);
    out.push_str(fragment);
    out
}

/// Percent-encode `text` for a query component: everything but the RFC 3986 unreserved
/// characters (`A-Z a-z 0-9 - . _ ~`) becomes `%XX` (so a space is `%20`, never `+`).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    percent_encode_into(&mut out, text);
    out
}

fn percent_encode_into(out: &mut String, text: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_is_upper_cased() {
        assert_eq!(Request::new(" options ", "http://x").method, "OPTIONS");
        assert_eq!(Request::head("http://x").method, "HEAD");
    }

    #[test]
    fn queries_are_encoded_and_merged() {
        assert_eq!(append_query("http://h/p", "a", "1"), "http://h/p?a=1");
        assert_eq!(
            append_query("http://h/p?x=y", "a", "1"),
            "http://h/p?x=y&a=1"
        );
        assert_eq!(append_query("http://h/p?", "a", "1"), "http://h/p?a=1");
        assert_eq!(
            append_query("http://h/p?x=y&", "a", "1"),
            "http://h/p?x=y&a=1"
        );
        assert_eq!(
            append_query("http://h/p#frag", "a", "1"),
            "http://h/p?a=1#frag"
        );
        assert_eq!(
            append_query("http://h/p?x=1#f?g", "a b", "c&d=é/+"),
            "http://h/p?x=1&a%20b=c%26d%3D%C3%A9%2F%2B#f?g"
        );
        assert_eq!(append_query("http://h", "k", ""), "http://h?k=");
        assert_eq!(percent_encode("AZaz09-._~"), "AZaz09-._~");
    }

    #[test]
    fn json_body_sets_content_type_unless_given() -> Result<(), StepError> {
        let r = Request::post("http://h").json(&[1, 2])?;
        assert_eq!(r.body_text().as_deref(), Some("[1,2]"));
        assert_eq!(r.header_value("Content-Type"), Some("application/json"));

        let r = Request::post("http://h")
            .header("content-type", "application/vnd.x+json")
            .json(&"s")?;
        assert_eq!(r.headers.len(), 1);
        assert_eq!(
            r.header_value("CONTENT-TYPE"),
            Some("application/vnd.x+json")
        );
        Ok(())
    }

    #[test]
    fn builder_sets_everything() {
        let r = Request::get("http://h")
            .header("A", "1")
            .header("A", "2")
            .body("raw")
            .auth("admin")
            .timeout_ms(1500);
        assert_eq!(
            r.headers,
            vec![("A".into(), "1".into()), ("A".into(), "2".into())]
        );
        assert_eq!(r.header_value("a"), Some("1"));
        assert_eq!(r.body.as_deref(), Some(&b"raw"[..]));
        assert_eq!(r.auth.as_deref(), Some("admin"));
        assert_eq!(r.timeout_ms, Some(1500));
    }
}
