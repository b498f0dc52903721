//! Errors in a user's files, with the place they come from.
//!
//! Every mistake a user can make in a YAML file is reported as a [`Diagnostic`]: the file, line
//! and column, what is wrong, and a hint. [`Diagnostic::render`] prints it the way compilers do,
//! with the offending source line and a caret under the column.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a user's file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
}

impl Location {
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Self {
            file: file.into(),
            line,
            column,
        }
    }

    /// The start of a file, for mistakes that concern the whole file.
    pub fn file_start(file: impl Into<PathBuf>) -> Self {
        Self::new(file, 1, 1)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// A mistake in a user's file: where, what, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Option<Location>,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(location: Option<Location>, message: impl Into<String>) -> Self {
        Self {
            location,
            message: message.into(),
            hint: None,
        }
    }

    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Self::new(Some(location), message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The diagnostic with the source line and a caret, reading the file named by its location.
    ///
    /// ```text
    /// error: unknown key `migrat_dir`
    ///   --> config/config.yaml:1:1
    ///    |
    ///  1 | migrat_dir: migration
    ///    | ^
    ///    = hint: did you mean `migrate_dir`?
    /// ```
    pub fn render(&self) -> String {
        let mut out = format!("error: {}\n", self.message);
        if let Some(loc) = &self.location {
            out.push_str(&format!("  --> {loc}\n"));
            if let Some(line) = source_line(&loc.file, loc.line) {
                let num = loc.line.to_string();
                let pad = " ".repeat(num.len());
                let caret_pad = line
                    .chars()
                    .take(loc.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect::<String>();
                out.push_str(&format!(" {pad} |\n"));
                out.push_str(&format!(" {num} | {line}\n"));
                out.push_str(&format!(" {pad} | {caret_pad}^\n"));
            }
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("   = hint: {hint}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message)?,
            None => write!(f, "{}", self.message)?,
        }
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

fn source_line(file: &Path, line: usize) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.trim_end().to_string())
}

/// The candidate closest to `input`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    input: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let input_lower = input.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&input_lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len().max(input.len()) / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_keys_only() {
        let keys = ["migrate_dir", "env", "store", "auth"];
        assert_eq!(did_you_mean("migrat_dir", keys), Some("migrate_dir"));
        assert_eq!(did_you_mean("Store", keys), Some("store"));
        assert_eq!(did_you_mean("completely_else", keys), None);
    }

    #[test]
    fn renders_source_line_and_caret() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, "env: []\nmigrat_dir: m\n").expect("write");
        let d = Diagnostic::at(Location::new(&file, 2, 1), "unknown key `migrat_dir`")
            .with_hint("did you mean `migrate_dir`?");
        let text = d.render();
        assert!(text.contains("error: unknown key `migrat_dir`"), "{text}");
        assert!(text.contains(" 2 | migrat_dir: m"), "{text}");
        assert!(text.contains("   | ^"), "{text}");
        assert!(text.contains("hint: did you mean `migrate_dir`?"), "{text}");
    }
}

/// A value read from a user's file, with where it was written.
///
/// Templated fields carry their location so that a rendering error (a missing variable, a
/// body that is no longer JSON) can point at the line that holds the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub location: Location,
}

impl<T> Located<T> {
    pub fn new(value: T, location: Location) -> Self {
        Self { value, location }
    }
}
