//! Exit codes, and the one place errors are turned into what the user reads.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a step failed (rejected status, missing value, transport error) |
//! | 2 | usage or input error: bad flags, config, migration file or template |
//! | 3 | state conflict: the store is locked by another run, a run is in doubt, an applied file changed |
//! | 4 | a plugin was stopped by a limit (CPU, memory, time) or crashed |
//! | 5 | internal or environment error (I/O, database, engine) |

use crate::execute::ExecError;
use crate::plugin::{StepFailure, TrapKind};
use crate::report::{Diagnostic, mask};
use crate::state::StateError;

pub const SUCCESS: u8 = 0;
pub const STEP_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const STATE_CONFLICT: u8 = 3;
pub const PLUGIN_LIMIT: u8 = 4;
pub const INTERNAL: u8 = 5;

/// An error on its way to the user: what to print and which code to exit with.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub diagnostics: Vec<Diagnostic>,
    pub message: Option<String>,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            diagnostics: Vec::new(),
            message: Some(message.into()),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn input(diagnostics: Vec<Diagnostic>) -> Self {
        Self {
            code: USAGE,
            diagnostics,
            message: None,
            hint: None,
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
