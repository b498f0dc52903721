//! Exit codes, and the one place errors are turned into what the user reads.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a step failed (rejected status, missing value, transport error) |
//! | 2 | usage or input error: bad flags, config, migration file or template |
//! | 3 | state conflict: the store is locked by another run, a run is in doubt, an applied file changed, the store was written by a newer apirun |
//! | 4 | a plugin was stopped by a limit (CPU, memory, time) or crashed |
//! | 5 | internal or environment error (I/O, database, engine) |

use crate::execute::ExecError;
use crate::plugin::{StepFailure, TrapKind};
use crate::report::run::{DiagnosticReport, ErrorReport};
use crate::report::{Diagnostic, mask};
use crate::state::StateError;

/// Everything went as asked.
pub const SUCCESS: u8 = 0;
/// A step failed: a rejected status, a missing value, a transport error, a credential, `wait`.
pub const STEP_FAILED: u8 = 1;
/// A mistake on the command line or in a file.
pub const USAGE: u8 = 2;
/// The state forbids going on: locked, in doubt, changed applied file, newer store schema.
pub const STATE_CONFLICT: u8 = 3;
/// A plugin was stopped by a limit or crashed.
pub const PLUGIN_LIMIT: u8 = 4;
/// Internal or environment error: I/O, database, engine.
pub const INTERNAL: u8 = 5;

/// An error on its way to the user: what to print and which code to exit with.
#[derive(Debug)]
pub struct Failure {
    /// The exit code (one of the constants above).
    pub code: u8,
    /// Mistakes in files, each rendered with its source line.
    pub diagnostics: Vec<Diagnostic>,
    /// The error, printed as `Error: …`.
    pub message: Option<String>,
    /// How to fix it.
    pub hint: Option<String>,
    /// Mistakes already rendered into `message` (the `stages` commands word each as
    /// `Error: …`, as the troubleshooting guide quotes them), kept for `--output json`.
    pub located: Vec<Diagnostic>,
}

impl Failure {
    /// A failure with a message.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            diagnostics: Vec::new(),
            message: Some(message.into()),
            hint: None,
            located: Vec::new(),
        }
    }

    /// The same failure with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Mistakes in the user's files (exit code 2).
    pub fn input(diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            code: USAGE,
            diagnostics,
            message: None,
            hint: None,
            located: Vec::new(),
        }
    }

    /// The text printed on stderr.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for d in &self.diagnostics {
            out.push_str(&mask::text(&d.render()));
        }
        if let Some(m) = &self.message {
            out.push_str(&format!("Error: {}\n", mask::text(m)));
        }
        if let Some(h) = &self.hint {
            out.push_str(&format!("   = hint: {h}\n"));
        }
        if self.diagnostics.len() > 1 {
            out.push_str(&format!("{} errors\n", self.diagnostics.len()));
        }
        out
    }

    /// [`Failure::render`], with `error:`/`Error:` in red and hints in cyan when `color`.
    pub fn render_styled(&self, color: bool) -> String {
        let text = self.render();
        if !color {
            return text;
        }
        let mut out = String::with_capacity(text.len() + 64);
        for line in text.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            };
            let styled = if let Some(rest) = body.strip_prefix("Error:") {
                format!("\x1b[1;31mError:\x1b[0m{rest}")
            } else if let Some(rest) = body.strip_prefix("error:") {
                format!("\x1b[1;31merror:\x1b[0m{rest}")
            } else if let Some((pad, rest)) = body.split_once("= hint:") {
                format!("{pad}\x1b[36m= hint:\x1b[0m{rest}")
            } else {
                body.to_string()
            };
            out.push_str(&styled);
            out.push_str(end);
        }
        out
    }

    /// The failure as data, for `--output json` (masked like the text).
    pub fn report(&self) -> ErrorReport {
        let message = match (&self.message, self.diagnostics.as_slice()) {
            (Some(m), _) => m.clone(),
            (None, [only]) => only.message.clone(),
            (None, list) => format!("{} errors", list.len()),
        };
        let hint = self
            .hint
            .clone()
            .or_else(|| match self.diagnostics.as_slice() {
                [only] => only.hint.clone(),
                _ => None,
            });
        ErrorReport {
            exit_code: self.code,
            message: mask::text(&message),
            hint: hint.as_deref().map(mask::text),
            diagnostics: self
                .diagnostics
                .iter()
                .chain(&self.located)
                .map(DiagnosticReport::from)
                .collect(),
        }
    }
}

impl From<Diagnostic> for Failure {
    fn from(d: Diagnostic) -> Self {
        Self::input(vec![d])
    }
}

impl From<crate::config::LoadError> for Failure {
    fn from(e: crate::config::LoadError) -> Self {
        Self::input(e.diagnostics())
    }
}

impl From<StateError> for Failure {
    fn from(e: StateError) -> Self {
        match e {
            StateError::Locked(_) => Failure::new(STATE_CONFLICT, e.to_string()).with_hint(
                "wait for the other run to finish; `apirun status` shows who holds the lock",
            ),
            StateError::NotInDoubt(_) => Failure::new(USAGE, e.to_string()),
            StateError::TableName(_) => Failure::new(USAGE, e.to_string()),
            StateError::Postgres {
                kind: crate::state::postgres::PgErrorKind::Config,
                ..
            } => Failure::new(USAGE, e.to_string()),
            // Tables written by a newer apirun: this binary must not touch them.
            StateError::Postgres {
                kind: crate::state::postgres::PgErrorKind::Schema,
                ..
            } => Failure::new(STATE_CONFLICT, e.to_string()),
            other => Failure::new(INTERNAL, other.to_string()),
        }
    }
}

impl From<ExecError> for Failure {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Input(d) => Failure::from(d),
            ExecError::Step { ref failure, .. } => {
                let code = match failure {
                    StepFailure::Trap { kind, .. } if *kind != TrapKind::Other => PLUGIN_LIMIT,
                    StepFailure::OutputTooLarge { .. } => PLUGIN_LIMIT,
                    _ => STEP_FAILED,
                };
                let hint = match failure {
                    StepFailure::Step(crate::plugin::StepError::RejectedStatus(_)) => Some(
                        "the API answered with a status the step does not accept: check the request, \
                         or add the status to response.result_code",
                    ),
                    StepFailure::Step(crate::plugin::StepError::MissingValue(_)) => Some(
                        "the response has no value at that path: check response.env_from, or set env_missing: skip",
                    ),
                    _ => None,
                };
                let mut f = Failure::new(code, e.to_string());
                if let Some(h) = hint {
                    f = f.with_hint(h);
                }
                f
            }
            ExecError::InDoubt(_) => Failure::new(STATE_CONFLICT, e.to_string()),
            ExecError::State(s) => Failure::from(s),
            ExecError::CannotRollBack(m) => Failure::new(USAGE, m),
            ExecError::Setup(m) => Failure::new(INTERNAL, m),
            ExecError::Wait(m) => Failure::new(STEP_FAILED, m).with_hint(
                "is the API running and reachable? raise `wait.timeout` if it starts slowly",
            ),
            ExecError::Auth(m) => Failure::new(STEP_FAILED, m).with_hint(
                "check the auth entry in config.yaml and that its provider is reachable",
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_marks_the_error_and_the_hint_only() {
        let f = Failure::new(STEP_FAILED, "boom").with_hint("try again");
        assert_eq!(
            f.render_styled(false),
            "Error: boom\n   = hint: try again\n"
        );
        assert_eq!(
            f.render_styled(true),
            "\u{1b}[1;31mError:\u{1b}[0m boom\n   \u{1b}[36m= hint:\u{1b}[0m try again\n"
        );
    }

    #[test]
    fn the_report_names_every_mistake_with_its_place() {
        let d = |line| {
            Diagnostic::at(
                crate::report::Location::new("c.yaml", line, 1),
                format!("bad {line}"),
            )
        };
        let one = Failure::input(vec![d(1)]).report();
        assert_eq!((one.exit_code, one.message.as_str()), (USAGE, "bad 1"));
        let two = Failure::input(vec![d(1), d(2)]).report();
        assert_eq!(two.message, "2 errors");
        assert_eq!(two.diagnostics[1].line, Some(2));
        assert_eq!(two.diagnostics[1].file.as_deref(), Some("c.yaml"));
    }
}
