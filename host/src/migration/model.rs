//! A migration file as loaded: its version, checksum and the steps of `up` and `down`, every
//! templated string carrying the file:line:col it was written at.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use crate::config::Pair;
use crate::report::{Located, Location};

/// A file found in the migration directory, before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSource {
    /// The digit prefix of the file name (`001_x.yaml` → 1, timestamps too).
    pub version: u64,
    /// The file name between the first `_` and the extension (`001_create_user.yaml` →
    /// `create_user`); may be empty.
    pub name: String,
    pub path: PathBuf,
}

/// One migration: what `up` does, and what `down` does to undo it.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    pub version: u64,
    /// See [`MigrationSource::name`].
    pub name: String,
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, lower-case hex: recorded when applied, so an edited file
    /// can be detected later.
    pub checksum: String,
    /// Steps run in order by `up`; never empty.
    pub up: Vec<Step>,
    /// Steps run in order by `down`; empty when the file has no `down` (it cannot be rolled
    /// back).
    pub down: Vec<Step>,
}

impl Migration {
    /// Whether `down` can undo this migration.
    pub fn can_roll_back(&self) -> bool {
        !self.down.is_empty()
    }

    /// Every step, `up` first.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.up.iter().chain(self.down.iter())
    }
}

/// Why a step exists, for messages: the lookup a flat `down.find` runs first, or a step proper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    /// `down.find`: runs before the main down call, to extract the values it needs.
    Find,
    Main,
}

/// One unit of work: an HTTP call for the built-in `http` type, or a call into a custom plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub name: Option<String>,
    /// The start of the step's mapping.
    pub location: Location,
    pub kind: StepKind,
    /// `http` (the default) or the name of a plugin from config `plugins`.
    pub step_type: Located<String>,
    /// Variables of this step only, in file order; they take precedence over all others and may
    /// themselves be templates.
    pub env: Vec<(String, Located<String>)>,
    /// For `http` steps method and url are always set. A custom step without `request:` gets
    /// an empty method and url located at the step.
    pub request: Request,
    pub response: Response,
    /// Settings for a custom step type (a JSON object); `None` for `http` steps.
    pub params: Option<Located<Value>>,
    pub retry: Option<Retry>,
    /// Bound for the whole step, retries included.
    pub timeout: Option<Duration>,
}

impl Step {
    /// Whether this step is the built-in HTTP call.
    pub fn is_http(&self) -> bool {
        self.step_type.value == HTTP_STEP_TYPE
    }
}

/// The built-in step type.
pub const HTTP_STEP_TYPE: &str = "http";

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Upper-cased (`get` → `GET`); any token is accepted (HEAD, OPTIONS, ...).
    pub method: Located<String>,
    pub url: Located<String>,
    pub headers: Vec<Pair>,
    pub queries: Vec<Pair>,
    /// The body as written. A mapping or list `body` is converted to JSON text (located at the
    /// mapping); a block scalar (`|`) is located at its first content line, so a line inside
    /// the body is `location.line + n`. An empty string is `None`.
    pub body: Option<Located<String>>,
    /// Resolved against the migration file's directory; checked to exist at load unless the
    /// path itself is a template.
    pub body_file: Option<Located<PathBuf>>,
    /// Overrides config `render_body` for this step.
    pub render_body: Option<bool>,
    /// The auth entry whose token is injected as the Authorization header.
    pub auth_name: Option<Located<String>>,
}

/// What to accept and what to extract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Accepted statuses as written: codes (`"201"`), classes (`"2xx"`, lower-cased) or
    /// templates. Empty accepts any status.
    pub result_code: Vec<Located<String>>,
    /// Variable name → JSON path into the response body, in file order.
    pub env_from: Vec<(String, Located<String>)>,
    pub env_missing: EnvMissing,
}

/// What happens when an `env_from` path finds nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EnvMissing {
    /// Leave the variable unset (the default).
    #[default]
    Skip,
    /// Fail the step.
    Fail,
}

impl EnvMissing {
    /// The spelling used in migration files.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Skip => "skip",
            Self::Fail => "fail",
        }
    }
}

/// Explicit, per-step retries (nothing is retried unless a step asks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Total tries, the first included (at least 1).
    pub attempts: u32,
    /// Pause between tries (default 1s).
    pub backoff: Duration,
    /// Statuses that cause another try; empty: only transport errors do.
    pub statuses: Vec<StatusPattern>,
    /// Methods that may be retried, upper-cased; `None` leaves the runner's rule in force.
    pub methods: Option<Vec<String>>,
    pub location: Location,
}

/// A status code (`503`) or a class (`5xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusPattern {
    Code(u16),
    /// The hundreds digit: `5` for `5xx`.
    Class(u8),
}

impl StatusPattern {
    /// `"503"`, `503`, `"5xx"`, `"5XX"`; anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let b = t.as_bytes();
        if b.len() != 3 || !(b'1'..=b'5').contains(&b[0]) {
            return None;
        }
        if b[1..].eq_ignore_ascii_case(b"xx") {
            return Some(Self::Class(b[0] - b'0'));
        }
        t.parse::<u16>()
            .ok()
            .filter(|_| b.iter().all(u8::is_ascii_digit))
            .map(Self::Code)
    }

    /// Whether `status` is matched.
    pub fn matches(self, status: u16) -> bool {
        match self {
            Self::Code(c) => c == status,
            Self::Class(c) => status / 100 == u16::from(c),
        }
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(c) => write!(f, "{c}"),
            Self::Class(c) => write!(f, "{c}xx"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns_parse_and_match() {
        assert_eq!(StatusPattern::parse("503"), Some(StatusPattern::Code(503)));
        assert_eq!(StatusPattern::parse(" 5XX "), Some(StatusPattern::Class(5)));
        assert_eq!(StatusPattern::parse("600"), None);
        assert_eq!(StatusPattern::parse("50"), None);
        assert_eq!(StatusPattern::parse("5x0"), None);
        assert!(StatusPattern::Class(2).matches(204));
        assert!(!StatusPattern::Class(2).matches(302));
        assert!(StatusPattern::Code(404).matches(404));
        assert_eq!(StatusPattern::Class(4).to_string(), "4xx");
    }
}
