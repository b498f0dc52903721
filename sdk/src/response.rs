//! HTTP responses the host hands back (WIT `http-response`).

use serde::de::DeserializeOwned;

use crate::{StatusSet, StepError, extract};

/// An HTTP response delivered by the host.
///
/// Also what a [`MockHost`](crate::MockHost) answers with in tests:
/// `Response::new(201).with_body(r#"{"id":7}"#)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers in the order received; names may repeat.
    pub headers: Vec<(String, String)>,
    /// The body (empty if there was none).
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no headers and an empty body.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// This response with one more header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// This response with `body`.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced by U+FFFD).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body deserialized from JSON; a body that does not fit `T` is
    /// [`StepError::Failed`] naming the field that did not fit.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, StepError> {
        crate::params::from_json_bytes(&self.body)
            .map_err(|e| StepError::failed(format!("unexpected response body: {e}")))
    }

    /// The value at gjson `path` in the body, as a string (see [`extract`]).
    pub fn extract(&self, path: &str) -> Option<String> {
        extract(&self.body, path)
    }

    /// `Ok` if the status is in `accepted` (exact codes or classes like `2xx`; empty accepts
    /// any); otherwise [`StepError::RejectedStatus`] with an excerpt of this body. An entry
    /// that is not a status is [`StepError::InvalidParams`].
    pub fn check_status<S: AsRef<str>>(&self, accepted: &[S]) -> Result<(), StepError> {
        StatusSet::parse(accepted)?.check(self.status, &self.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let r = Response::new(200)
            .with_header("Content-Type", "application/json")
            .with_body(r#"{"a":{"b":[1,2]}}"#);
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("x"), None);
        assert_eq!(r.extract("a.b.1").as_deref(), Some("2"));
        assert_eq!(r.text(), r#"{"a":{"b":[1,2]}}"#);
        let v: serde_json::Value = r.json().expect("valid json");
        assert_eq!(v["a"]["b"][0], 1);
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Body {
            items: Vec<u32>,
        }
        let r = Response::new(200).with_body(r#"{"items":[1,"x"]}"#);
        let err = r.json::<Body>().expect_err("a string is not a u32");
        assert_eq!(
            err,
            StepError::failed(
                "unexpected response body: items[1]: invalid type: string \"x\", expected u32"
            )
        );
    }

    #[test]
    fn check_status_keeps_a_body_excerpt() {
        let r = Response::new(404).with_body("not here");
        assert_eq!(
            r.check_status(&["2xx"]),
            Err(StepError::RejectedStatus {
                status: 404,
                accepted: vec!["2xx".into()],
                body_excerpt: "not here".into(),
            })
        );
        assert_eq!(r.check_status(&["404"]), Ok(()));
        assert_eq!(r.check_status::<&str>(&[]), Ok(()));
    }
}
