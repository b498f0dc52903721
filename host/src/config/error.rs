//! The one error type of loading a project's files (config and migrations).

use std::fmt;
use std::path::PathBuf;

use crate::report::Diagnostic;

/// Why a config or migration file could not be loaded.
///
/// Mistakes in a file are [`Diagnostic`]s with a location; `Invalid` holds all of them (never
/// an empty list), so `validate` can show every problem of every file at once. Missing files
/// and I/O failures name the path.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The config file does not exist (wording from the troubleshooting guide).
    #[error("config file not found: {}", .path.display())]
    ConfigNotFound { path: PathBuf },
    /// A file or directory exists but could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more mistakes in the user's files, in file and line order.
    #[error("{}", DiagnosticList(.0))]
    Invalid(Vec<Diagnostic>),
}

impl LoadError {
    /// A single mistake.
    pub fn diagnostic(d: Diagnostic) -> Self {
        Self::Invalid(vec![d])
    }

    /// Every problem as a diagnostic, for the one place that renders errors.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::ConfigNotFound { .. } => vec![Diagnostic::new(None, self.to_string()).with_hint(
                "pass `--config <path>` (the default is ./config/config.yaml), or create the file",
            )],
            Self::Io { .. } => vec![Diagnostic::new(None, self.to_string())],
            Self::Invalid(list) => list.clone(),
        }
    }

    /// Several load errors as one (`None` for none): a single error stays as it is, several
    /// become one `Invalid` holding all their diagnostics.
    pub fn combine(errors: Vec<LoadError>) -> Option<LoadError> {
        if errors.len() <= 1 {
            return errors.into_iter().next();
        }
        Some(Self::Invalid(
            errors.iter().flat_map(LoadError::diagnostics).collect(),
        ))
    }
}

struct DiagnosticList<'a>(&'a [Diagnostic]);

impl fmt::Display for DiagnosticList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [one] => write!(f, "{one}"),
            list => {
                write!(f, "{} problems:", list.len())?;
                for d in list {
                    write!(f, "\n  {d}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Location;

    #[test]
    fn displays_one_or_many() {
        let a = Diagnostic::at(Location::new("c.yaml", 1, 1), "unknown key `x`");
        let b = Diagnostic::at(Location::new("c.yaml", 2, 3), "bad");
        assert_eq!(
            LoadError::diagnostic(a.clone()).to_string(),
            "c.yaml:1:1: unknown key `x`"
        );
        assert_eq!(
            LoadError::Invalid(vec![a.clone(), b.clone()]).to_string(),
            "2 problems:\n  c.yaml:1:1: unknown key `x`\n  c.yaml:2:3: bad"
        );
        let missing = LoadError::ConfigNotFound {
            path: PathBuf::from("infrastructure/config.yaml"),
        };
        assert_eq!(
            missing.to_string(),
            "config file not found: infrastructure/config.yaml"
        );
        let all = LoadError::combine(vec![missing, LoadError::diagnostic(b)]).expect("some");
        assert_eq!(all.diagnostics().len(), 2);
        assert!(LoadError::combine(Vec::new()).is_none());
    }
}
