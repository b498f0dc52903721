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

/// What a condition may ask about other stages: the outcome recorded for a stage
/// (`succeeded`, `failed`, `skipped`, …), or `None` when it never ran.
pub type StageOutcome<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Render `condition` against `vars` and decide it. An empty condition is true.
///
/// The Go original's condition functions work too: `success "stage"` and `failed "stage"`
/// (from the outcome `outcome` reports) and `env "KEY"` (a variable, else the OS
/// environment, else empty).
pub fn evaluate(
    renderer: &Renderer,
    condition: &str,
    vars: &Vars,
    outcome: StageOutcome<'_>,
) -> Result<bool, ConditionError> {
    let text = condition.trim();
    if text.is_empty() {
        return Ok(true);
    }
    let text = substitute_functions(&text.replace(".Env.", ".env."), vars, outcome);
    let rendered = renderer
        .render(&text, vars)
        .map_err(ConditionError::Template)?;
    decide(&rendered)
}

/// Replace `success "x"`, `failed "x"` and `env "K"` calls by their values (`true`, `false`,
/// a quoted string), so the template engine sees plain literals.
fn substitute_functions(text: &str, vars: &Vars, outcome: StageOutcome<'_>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while !rest.is_empty() {
        for name in ["success", "failed", "env"] {
            let boundary = out
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'));
            let Some(after) = rest.strip_prefix(name) else {
                continue;
            };
            if !boundary || !after.starts_with([' ', '\t']) {
                continue;
            }
            let arg = after.trim_start();
            let Some(quoted) = arg.strip_prefix('"') else {
                continue;
            };
            let Some(end) = quoted.find('"') else {
                continue;
            };
            let value = &quoted[..end];
            // Booleans as comparisons: the template engine has no boolean literals.
            let boolean = |b: bool| if b { "(eq 1 1)" } else { "(eq 1 0)" }.to_string();
            let replacement = match name {
                "success" => boolean(outcome(value).as_deref() == Some("succeeded")),
                "failed" => boolean(outcome(value).as_deref() == Some("failed")),
                _ => {
                    let v = vars
                        .get(value)
                        .map(str::to_string)
                        .or_else(|| std::env::var(value).ok())
                        .unwrap_or_default();
                    serde_json::Value::String(v).to_string()
                }
            };
            rest = &quoted[end + 1..];
            // `(env "K")` becomes `"v"`, not `("v")`, which the engine does not accept.
            let opened = out.trim_end().ends_with('(');
            if opened && rest.trim_start().starts_with(')') {
                let keep = out.trim_end().len() - 1;
                out.truncate(keep);
                rest = &rest.trim_start()[1..];
            }
            out.push_str(&replacement);
            continue 'scan;
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
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

    fn none(_: &str) -> Option<String> {
        None
    }

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
            evaluate(&r, r#"{{ eq .env.environment "production" }}"#, &v, &none),
            Ok(true)
        );
        assert_eq!(
            evaluate(&r, r#"{{ eq .Env.environment "staging" }}"#, &v, &none),
            Ok(false)
        );
        assert_eq!(
            evaluate(&r, r#"{{ ne .tier "free" }}"#, &v, &none),
            Ok(false)
        );
        assert_eq!(evaluate(&r, "true", &v, &none), Ok(true));
        assert_eq!(evaluate(&r, " False ", &v, &none), Ok(false));
        assert_eq!(evaluate(&r, "", &v, &none), Ok(true));
    }

    #[test]
    fn comparison_form_of_the_guide() {
        let r = Renderer::new();
        let v = vars();
        assert_eq!(
            evaluate(&r, "{{.environment}} == 'production'", &v, &none),
            Ok(true)
        );
        assert_eq!(
            evaluate(&r, "{{.environment}} == \"staging\"", &v, &none),
            Ok(false)
        );
        assert_eq!(evaluate(&r, "{{.tier}} != free", &v, &none), Ok(false));
        assert_eq!(evaluate(&r, "'{{.tier}}' != 'paid'", &v, &none), Ok(true));
    }

    #[test]
    fn errors_are_not_silent_false() {
        let r = Renderer::new();
        let v = vars();
        let e = evaluate(&r, "{{.region}} == 'eu'", &v, &none).expect_err("missing var");
        assert!(
            e.to_string()
                .contains("map has no entry for key \"region\""),
            "{e}"
        );
        let e = evaluate(&r, "{{ eq .environment ", &v, &none).expect_err("syntax");
        assert!(matches!(e, ConditionError::Template(_)), "{e}");
        assert_eq!(
            evaluate(&r, "production", &v, &none),
            Err(ConditionError::NotBoolean("production".into()))
        );
        assert!(evaluate(&r, "a == b == c", &v, &none).is_err());
    }

    #[test]
    fn go_condition_functions() {
        let r = Renderer::new();
        let v = vars();
        let outcomes = |stage: &str| match stage {
            "setup" => Some("succeeded".to_string()),
            "broken" => Some("failed".to_string()),
            _ => None,
        };
        assert_eq!(
            evaluate(&r, r#"{{ success "setup" }}"#, &v, &outcomes),
            Ok(true)
        );
        assert_eq!(
            evaluate(&r, r#"{{ success "broken" }}"#, &v, &outcomes),
            Ok(false)
        );
        assert_eq!(
            evaluate(&r, r#"{{ failed "broken" }}"#, &v, &outcomes),
            Ok(true)
        );
        assert_eq!(
            evaluate(&r, r#"{{ failed "never" }}"#, &v, &outcomes),
            Ok(false)
        );
        assert_eq!(
            evaluate(
                &r,
                r#"{{ and (success "setup") (eq (env "environment") "production") }}"#,
                &v,
                &outcomes
            ),
            Ok(true)
        );
        assert_eq!(
            evaluate(
                &r,
                r#"{{ eq (env "APIRUN_SURELY_UNSET_VAR") "" }}"#,
                &v,
                &outcomes
            ),
            Ok(true)
        );
        // a variable that merely contains the word is untouched
        assert_eq!(
            substitute_functions(r#"{{ .my_env "x" }}"#, &v, &outcomes),
            r#"{{ .my_env "x" }}"#
        );
    }
}
