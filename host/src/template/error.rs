//! Template errors: always located inside the template, so the caller can point at the file.

/// What a missing reference was looking for: a variable or an auth token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A plain variable (`{{.name}}`, `{{.env.name}}`, `{{name}}`).
    Variable,
    /// An auth token (`{{.auth.name}}`).
    Auth,
}

/// Why a template could not be rendered. Every variant carries the 1-based line and column
/// (in characters) inside the template string, so the caller can add the field's own position
/// in the YAML file and show the source line with a caret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A template read a variable or token that is not defined and has no `default`.
    /// The wording is the Go original's, which users grep for.
    #[error("map has no entry for key \"{name}\" at line {line}, column {column}")]
    MissingVariable {
        /// The key that was not found (for `{{.env.vpc_id}}`: `vpc_id`).
        name: String,
        /// Whether a variable or an auth token was missing.
        kind: RefKind,
        /// 1-based line of the reference inside the template.
        line: usize,
        /// 1-based column (characters) of the reference inside the template.
        column: usize,
        /// How to fix it: a did-you-mean when a similar name exists, and the `default` form.
        hint: String,
    },
    /// The template text cannot be parsed, or uses a construct apirun does not support.
    #[error("template syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// What is wrong, lower-case.
        message: String,
        /// 1-based line inside the template.
        line: usize,
        /// 1-based column (characters) inside the template.
        column: usize,
        /// How to fix it, when there is something useful to say.
        hint: Option<String>,
    },
    /// A function failed while rendering (division by zero, not an integer, ...).
    #[error("template function error at line {line}, column {column}: {message}")]
    Helper {
        /// What failed, lower-case.
        message: String,
        /// 1-based line of the action inside the template.
        line: usize,
        /// 1-based column (characters) of the action inside the template.
        column: usize,
    },
}

impl TemplateError {
    /// 1-based line inside the template.
    pub fn line(&self) -> usize {
        match self {
            Self::MissingVariable { line, .. }
            | Self::Syntax { line, .. }
            | Self::Helper { line, .. } => *line,
        }
    }

    /// 1-based column (in characters) inside the template.
    pub fn column(&self) -> usize {
        match self {
            Self::MissingVariable { column, .. }
            | Self::Syntax { column, .. }
            | Self::Helper { column, .. } => *column,
        }
    }

    /// A suggestion for the user, rendered under the error by the report module.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Self::MissingVariable { hint, .. } => Some(hint),
            Self::Syntax { hint, .. } => hint.as_deref(),
            Self::Helper { .. } => None,
        }
    }
}

/// Builds the hint of a missing reference: a did-you-mean when a close name exists, then the
/// fix that always works.
pub(crate) fn missing_hint<'a>(
    name: &str,
    kind: RefKind,
    known: impl Iterator<Item = &'a str>,
) -> String {
    let suggestion = closest(name, known);
    let fix = match kind {
        RefKind::Variable => format!(
            "define \"{name}\" (config env, the migration's env, or env_from of an earlier \
             migration), or give it a default: {{{{.{name} | default \"...\"}}}}"
        ),
        RefKind::Auth => format!("configure an auth entry named \"{name}\" in config.yaml"),
    };
    match suggestion {
        Some(s) => format!("did you mean \"{s}\"? otherwise {fix}"),
        None => fix,
    }
}

/// The known name closest to `name`, if close enough to be a plausible typo (the name itself
/// is not a suggestion).
fn closest<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    crate::report::did_you_mean(name, known.filter(|k| *k != name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["vpc_ids", "region", "VPC_ID"];
        assert_eq!(closest("vpc_id", known.iter().copied()), Some("VPC_ID"));
        assert_eq!(closest("regoin", known.iter().copied()), Some("region"));
        assert_eq!(closest("zzz", known.iter().copied()), None);
    }

    #[test]
    fn hint_mentions_default_form() {
        let h = missing_hint("vpc_id", RefKind::Variable, ["vpc_ids"].into_iter());
        assert_eq!(
            h,
            "did you mean \"vpc_ids\"? otherwise define \"vpc_id\" (config env, the migration's \
             env, or env_from of an earlier migration), or give it a default: \
             {{.vpc_id | default \"...\"}}"
        );
    }
}
