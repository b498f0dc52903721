//! Accepted response statuses: exact codes (`200`) and classes (`2xx`).

use crate::StepError;

/// A parsed list of accepted statuses.
///
/// Entries are exact codes (`"200"`, `" 201 "`, 100–999) or classes (`"2xx"`, `"4XX"`);
/// surrounding whitespace is ignored. An empty list accepts any status. An entry that is
/// neither is an error, never silently dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet {
    patterns: Vec<Pattern>,
    written: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    Exact(u16),
    /// The hundreds digit of a class: `2` for `2xx`.
    Class(u16),
}

impl StatusSet {
    /// Parse `accepted`; an entry that is neither a code nor a class is
    /// [`StepError::InvalidParams`].
    pub fn parse<S: AsRef<str>>(accepted: &[S]) -> Result<Self, StepError> {
        let mut patterns = Vec::with_capacity(accepted.len());
        for entry in accepted {
            let entry = entry.as_ref();
            patterns.push(parse_pattern(entry.trim()).ok_or_else(|| {
                StepError::invalid_params(format!(
                    "accepted status `{entry}` is neither a status code like `200` nor a \
                     class like `2xx`"
                ))
            })?);
        }
        Ok(Self {
            patterns,
            written: accepted.iter().map(|s| s.as_ref().to_owned()).collect(),
        })
    }

    /// Whether `status` is accepted.
    pub fn accepts(&self, status: u16) -> bool {
        self.patterns.is_empty()
            || self.patterns.iter().any(|p| match *p {
                Pattern::Exact(code) => code == status,
                Pattern::Class(hundreds) => status / 100 == hundreds,
            })
    }

    /// Whether any status is accepted (the list was empty).
    pub fn accepts_any(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The entries as written.
    pub fn written(&self) -> &[String] {
        &self.written
    }

    /// `Ok` if `status` is accepted, else [`StepError::RejectedStatus`] with an excerpt of
    /// `body`.
    pub fn check(&self, status: u16, body: &[u8]) -> Result<(), StepError> {
        if self.accepts(status) {
            Ok(())
        } else {
            Err(StepError::rejected_status(status, &self.written, body))
        }
    }
}

fn parse_pattern(entry: &str) -> Option<Pattern> {
    let bytes = entry.as_bytes();
    if bytes.len() != 3 || !(b'1'..=b'9').contains(&bytes[0]) {
        return None;
    }
    let hundreds = u16::from(bytes[0] - b'0');
    if bytes[1..].iter().all(|b| b.eq_ignore_ascii_case(&b'x')) {
        return Some(Pattern::Class(hundreds));
    }
    if bytes[1..].iter().all(u8::is_ascii_digit) {
        let code = hundreds * 100 + u16::from(bytes[1] - b'0') * 10 + u16::from(bytes[2] - b'0');
        return Some(Pattern::Exact(code));
    }
    None
}

/// Check `status` against `accepted` (exact codes like `"200"` or classes like `"2xx"`; an
/// empty list accepts any status).
///
/// A rejection is [`StepError::RejectedStatus`] with an empty body excerpt; use
/// [`Response::check_status`](crate::Response::check_status) to keep the start of the body
/// in the error. An entry that is neither a code nor a class is
/// [`StepError::InvalidParams`], whatever the status.
///
/// ```
/// use apirun_sdk::{StepError, check_status};
///
/// assert!(check_status(201, &["200", "201"]).is_ok());
/// assert!(check_status(404, &["4XX"]).is_ok());
/// assert!(check_status(500, &[] as &[&str]).is_ok());
/// assert!(matches!(check_status(500, &["2xx"]), Err(StepError::RejectedStatus { .. })));
/// assert!(matches!(check_status(200, &["ok"]), Err(StepError::InvalidParams(_))));
/// ```
pub fn check_status<S: AsRef<str>>(status: u16, accepted: &[S]) -> Result<(), StepError> {
    StatusSet::parse(accepted)?.check(status, b"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_codes_and_classes() {
        let set = StatusSet::parse(&["200", " 201 ", "4xX", "3XX"]).expect("valid");
        for ok in [200, 201, 400, 404, 499, 300, 301] {
            assert!(set.accepts(ok), "{ok}");
        }
        for no in [202, 204, 500, 100, 199] {
            assert!(!set.accepts(no), "{no}");
        }
    }

    #[test]
    fn empty_accepts_any() {
        let set = StatusSet::parse::<String>(&[]).expect("valid");
        assert!(set.accepts_any());
        assert!(set.accepts(599) && set.accepts(100));
    }

    #[test]
    fn invalid_entries_are_errors() {
        for bad in [
            "", " ", "2x", "20", "2000", "0200", "+200", "abc", "2yy", "x00", "099", "2 0",
        ] {
            let err = StatusSet::parse(&["200", bad]).expect_err(bad);
            assert!(
                matches!(&err, StepError::InvalidParams(m) if m.contains(&format!("`{bad}`"))),
                "{bad}: {err:?}"
            );
        }
        // even when another entry would accept the status
        assert!(matches!(
            check_status(200, &["200", "ok"]),
            Err(StepError::InvalidParams(_))
        ));
    }

    #[test]
    fn rejection_keeps_the_entries_as_written() {
        let err = check_status(500, &[" 200", "2xx"]).expect_err("500 is not 2xx");
        assert_eq!(
            err,
            StepError::RejectedStatus {
                status: 500,
                accepted: vec![" 200".into(), "2xx".into()],
                body_excerpt: String::new(),
            }
        );
    }
}
