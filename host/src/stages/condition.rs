//! A stage's `condition`: rendered as a template, then read as a boolean or a comparison.
//!
//! Two forms are accepted:
//! - apirun's (and the Go original's) template form, which renders to a boolean:
//!   `{{ eq .env.environment "production" }}`, `{{ ne .region "eu" }}`, `true`;
//! - the form of the troubleshooting guide, a comparison around rendered values:
//!   `{{.environment}} == 'production'`, `{{.tier}} != "free"`; operands may be quoted with
//!   `'` or `"`, or bare.
//!
//! The Go original's `.Env.X` (its global env map) is read as `.env.X`. Booleans are read as Go's
//! `strconv.ParseBool` reads them (`true`, `True`, `TRUE`, `t`, `T`, `1` and the false forms).
//! Anything else is an error, never a silent false: the Go original skipped a stage whose
//! condition did not parse and reported it as successful.

use crate::template::{Renderer, TemplateError, Vars};

/// Why a condition could not be decided.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// The template does not parse, or reads a variable no source defines.
    #[error("{0}")]
    Template(TemplateError),
    /// It rendered to something that is neither a boolean nor a comparison.
    #[error(
        "condition must render to true or false, or to a comparison `a == b` / `a != b`; it rendered to `{0}`"
    )]
    NotBoolean(String),
}

impl ConditionError {
    /// How to fix it.
    pub fn hint(&self) -> String {
        match self {
            Self::Template(TemplateError::MissingVariable { name, .. }) => format!(
                "a condition sees `global.env`, the stage's `env` and the values it takes with `env_from_stages`; define `{name}` there, or write `{{{{.{name} | default \"...\"}}}}`"
            ),
            Self::Template(e) => e.hint().map(str::to_string).unwrap_or_else(|| {
                "write `{{ eq .env.NAME \"value\" }}` or `{{.NAME}} == 'value'`".to_string()
            }),
            Self::NotBoolean(_) => {
                "write `{{ eq .env.NAME \"value\" }}` or `{{.NAME}} == 'value'`".to_string()
            }
        }
    }
}

/// Render `condition` against `vars` and decide it. An empty condition is true.
pub fn evaluate(renderer: &Renderer, condition: &str, vars: &Vars) -> Result<bool, ConditionError> {
    let text = condition.trim();
    if text.is_empty() {
        return Ok(true);
    }
    let text = text.replace(".Env.", ".env.");
    let rendered = renderer
        .render(&text, vars)
        .map_err(ConditionError::Template)?;
    decide(&rendered)
}

/// Read a rendered condition: a boolean, or `left == right` / `left != right`.
pub fn decide(rendered: &str) -> Result<bool, ConditionError> {
    let t = rendered.trim();
    if let Some(b) = parse_bool(t) {
        return Ok(b);
    }
    for (op, equal) in [("==", true), ("!=", false)] {
        if let Some((left, right)) = t.split_once(op) {
            if right.contains("==") || right.contains("!=") {
                break;
            }
            let same = unquote(left) == unquote(right);
            return Ok(same == equal);
        }
    }
    Err(ConditionError::NotBoolean(t.to_string()))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// An operand without surrounding spaces and one pair of matching quotes.
fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['\'', '"'] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        [("environment", "production"), ("tier", "free")]
            .into_iter()
            .collect()
    }

    #[test]
    fn template_form() {
        let r = Renderer::new();
        let v = vars();
        assert_eq!(
            evaluate(&r, r#"{{ eq .env.environment "production" }}"#, &v),
            Ok(true)
        );
        assert_eq!(
            evaluate(&r, r#"{{ eq .Env.environment "staging" }}"#, &v),
            Ok(false)
        );
        assert_eq!(evaluate(&r, r#"{{ ne .tier "free" }}"#, &v), Ok(false));
        assert_eq!(evaluate(&r, "true", &v), Ok(true));
        assert_eq!(evaluate(&r, " False ", &v), Ok(false));
        assert_eq!(evaluate(&r, "", &v), Ok(true));
    }

    #[test]
    fn comparison_form_of_the_guide() {
        let r = Renderer::new();
        let v = vars();
        assert_eq!(
            evaluate(&r, "{{.environment}} == 'production'", &v),
            Ok(true)
        );
        assert_eq!(
            evaluate(&r, "{{.environment}} == \"staging\"", &v),
            Ok(false)
        );
        assert_eq!(evaluate(&r, "{{.tier}} != free", &v), Ok(false));
        assert_eq!(evaluate(&r, "'{{.tier}}' != 'paid'", &v), Ok(true));
    }

    #[test]
    fn errors_are_not_silent_false() {
        let r = Renderer::new();
        let v = vars();
        let e = evaluate(&r, "{{.region}} == 'eu'", &v).expect_err("missing var");
        assert!(
            e.to_string()
                .contains("map has no entry for key \"region\""),
            "{e}"
        );
        let e = evaluate(&r, "{{ eq .environment ", &v).expect_err("syntax");
        assert!(matches!(e, ConditionError::Template(_)), "{e}");
        assert_eq!(
            evaluate(&r, "production", &v),
            Err(ConditionError::NotBoolean("production".into()))
        );
        assert!(evaluate(&r, "a == b == c", &v).is_err());
    }
}
