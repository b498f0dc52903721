//! Errors a step reports to the host as data (WIT `step-error`, `transport-error`).

use std::fmt;

/// How many bytes of a response body a [`StepError::RejectedStatus`] keeps.
pub const BODY_EXCERPT_BYTES: usize = 512;

/// Why the host could not deliver a request (WIT `transport-error`).
///
/// Returned by [`Host::send`](crate::Host::send); [`Context::send`](crate::Context::send)
/// wraps it into [`StepError::Transport`] so a step can simply use `?`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The capability policy does not allow this destination.
    Denied(String),
    /// The request was malformed (bad URL, method or header).
    InvalidRequest(String),
    /// Connecting failed (DNS, refused, TLS).
    Connect(String),
    /// The request or the response took longer than allowed.
    Timeout(String),
    /// The response body exceeded the host's size cap.
    TooLarge(String),
    /// Anything else the transport reported.
    Other(String),
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Denied(m) => write!(f, "request denied: {m}"),
            Self::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Self::Connect(m) => write!(f, "connection failed: {m}"),
            Self::Timeout(m) => write!(f, "request timed out: {m}"),
            Self::TooLarge(m) => write!(f, "response too large: {m}"),
            Self::Other(m) => write!(f, "request failed: {m}"),
        }
    }
}

impl std::error::Error for TransportError {}

/// A failure a step hands back to the host as data (WIT `step-error`).
///
/// Build one with the constructors ([`StepError::invalid_params`], [`StepError::failed`],
/// [`StepError::missing_value`], [`StepError::rejected_status`]) or get one from the SDK's
/// helpers ([`check_status`](crate::check_status), [`Context::send`](crate::Context::send)).
/// A panic is not a `StepError`: it traps, and the host reports it as a plugin bug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepError {
    /// The rendered params do not describe a valid step of this type.
    InvalidParams(String),
    /// A response status was not accepted.
    RejectedStatus {
        /// The status the server answered.
        status: u16,
        /// The accepted statuses, as written in the step.
        accepted: Vec<String>,
        /// The start of the response body (at most [`BODY_EXCERPT_BYTES`], valid UTF-8).
        body_excerpt: String,
    },
    /// A required value could not be extracted.
    MissingValue {
        /// Variable name.
        name: String,
        /// The path that found nothing.
        path: String,
    },
    /// The host could not deliver a request.
    Transport(TransportError),
    /// Any other failure, described for the user.
    Failed(String),
}

impl StepError {
    /// The params do not describe a valid step: `message` says what is wrong and where.
    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::InvalidParams(message.into())
    }

    /// Any other failure, with a message for the user.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::Failed(message.into())
    }

    /// The value for variable `name` was not found at `path`.
    pub fn missing_value(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self::MissingValue {
            name: name.into(),
            path: path.into(),
        }
    }

    /// `status` is not in `accepted`; keeps an excerpt of `body` (see [`body_excerpt`]).
    pub fn rejected_status<S: AsRef<str>>(status: u16, accepted: &[S], body: &[u8]) -> Self {
        Self::RejectedStatus {
            status,
            accepted: accepted.iter().map(|s| s.as_ref().to_owned()).collect(),
            body_excerpt: body_excerpt(body),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidParams(m) => write!(f, "invalid params: {m}"),
            Self::RejectedStatus {
                status,
                accepted,
                body_excerpt,
            } => {
                write!(
                    f,
                    "status {status} not accepted (expected {})",
                    accepted.join(", ")
                )?;
                if !body_excerpt.is_empty() {
                    write!(f, ", body: {body_excerpt}")?;
                }
                Ok(())
            }
            Self::MissingValue { name, path } => {
                write!(f, "no value for `{name}` at path `{path}`")
            }
            Self::Transport(e) => e.fmt(f),
            Self::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StepError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => Some(e),
            _ => None,
        }
    }
}

impl From<TransportError> for StepError {
    fn from(error: TransportError) -> Self {
        Self::Transport(error)
    }
}

/// The start of `body` for an error message: at most [`BODY_EXCERPT_BYTES`] bytes, cut on a
/// character boundary, invalid UTF-8 replaced by U+FFFD.
pub fn body_excerpt(body: &[u8]) -> String {
    if body.len() <= BODY_EXCERPT_BYTES {
        return String::from_utf8_lossy(body).into_owned();
    }
    // Back off over UTF-8 continuation bytes so a character is not cut in half; a truly
    // invalid sequence is at most 3 such bytes, so give up after that.
    let mut end = BODY_EXCERPT_BYTES;
    while end > BODY_EXCERPT_BYTES - 3 && body[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    if body[end] & 0xC0 == 0x80 {
        end = BODY_EXCERPT_BYTES;
    }
    String::from_utf8_lossy(&body[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_bodies_whole() {
        assert_eq!(body_excerpt(b"oops"), "oops");
        assert_eq!(body_excerpt(b""), "");
        assert_eq!(body_excerpt(b"a\xffb"), "a\u{fffd}b");
    }

    #[test]
    fn excerpt_cuts_on_a_char_boundary() {
        let mut body = vec![b'a'; BODY_EXCERPT_BYTES - 1];
        body.extend("é and more".as_bytes());
        let excerpt = body_excerpt(&body);
        assert_eq!(excerpt.len(), BODY_EXCERPT_BYTES - 1);
        assert!(!excerpt.contains('\u{fffd}'));

        let body = vec![b'x'; 10_000];
        assert_eq!(body_excerpt(&body).len(), BODY_EXCERPT_BYTES);
    }

    #[test]
    fn excerpt_of_binary_garbage_is_bounded() {
        let body = vec![0x80u8; 2000];
        let excerpt = body_excerpt(&body);
        assert_eq!(excerpt.chars().count(), BODY_EXCERPT_BYTES);
    }

    #[test]
    fn messages_are_lower_case_and_name_the_subject() {
        let e = StepError::rejected_status(500, &["200", "2xx"], b"boom");
        assert_eq!(
            e.to_string(),
            "status 500 not accepted (expected 200, 2xx), body: boom"
        );
        let e = StepError::missing_value("id", "a.b");
        assert_eq!(e.to_string(), "no value for `id` at path `a.b`");
        let e: StepError = TransportError::Denied("host 10.0.0.1 not allowed".into()).into();
        assert_eq!(e.to_string(), "request denied: host 10.0.0.1 not allowed");
        assert_eq!(
            StepError::invalid_params("x").to_string(),
            "invalid params: x"
        );
    }
}
