//! Static checks of a project, for `validate`: every template parses, every variable it needs
//! has a source, every auth entry and step type it names exists. Nothing is sent.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::migration::{Migration, Step};
use crate::report::{Diagnostic, Located, Location, did_you_mean};
use crate::template::Renderer;

use super::render::{template_location, templated_fields};

/// Where the variables a template may read come from, before any migration runs.
#[derive(Debug, Clone, Default)]
pub struct KnownVars {
    /// Config env, stage env, values from upstream stages.
    pub given: BTreeSet<String>,
    /// Values already extracted by applied migrations (from the store).
    pub stored: BTreeSet<String>,
}

/// Check every migration's templates, auth references and step types, in version order:
/// a variable is available to a step when config or a stage gives it, the store holds it, an
/// earlier migration or step extracts it, or the step's own `env` sets it.
pub fn check_migrations(
    config: &Config,
    migrations: &[Migration],
    known: &KnownVars,
) -> Vec<Diagnostic> {
    let renderer = Renderer::new();
    let mut out = Vec::new();
    let auth_names: Vec<&str> = config.auth.iter().map(|a| a.name.value.as_str()).collect();
    let plugin_names: Vec<&str> = config
        .plugins
        .iter()
        .map(|p| p.name.value.as_str())
        .collect();
    out.extend(crate::migration::check_step_types(
        migrations,
        &plugin_names,
    ));

    let mut available: BTreeSet<String> = known.given.union(&known.stored).cloned().collect();
    for (name, _) in crate::config::env_pairs(config) {
        available.insert(name);
    }
    // Everything any up step extracts: a rollback may read it.
    let all_extracted: BTreeSet<String> = migrations
        .iter()
        .flat_map(|m| m.up.iter())
        .flat_map(|s| s.response.env_from.iter().map(|(n, _)| n.clone()))
        .collect();

    // A custom step's outputs are whatever its plugin returns: after one, any name may exist,
    // so from there on unknown variables are not reported (the run reports them if missing).
    let mut open_ended = false;
    for m in migrations {
        let mut up_vars = available.clone();
        for step in &m.up {
            check_step(
                &renderer,
                step,
                &mut up_vars,
                &auth_names,
                open_ended,
                &mut out,
            );
            open_ended |= !step.is_http();
        }
        available = up_vars;
    }
    let mut down_base: BTreeSet<String> = available.union(&all_extracted).cloned().collect();
    for m in migrations {
        let mut vars = down_base.clone();
        for step in &m.down {
            check_step(
                &renderer,
                step,
                &mut vars,
                &auth_names,
                open_ended,
                &mut out,
            );
        }
        down_base.extend(
            m.down
                .iter()
                .flat_map(|s| s.response.env_from.iter().map(|(n, _)| n.clone())),
        );
    }
    out.sort_by(|a, b| a.location.cmp(&b.location));
    out.dedup();
    out
}

fn check_step(
    renderer: &Renderer,
    step: &Step,
    vars: &mut BTreeSet<String>,
    auth_names: &[&str],
    open_ended: bool,
    out: &mut Vec<Diagnostic>,
) {
    let mut fields = templated_fields(step);
    if let Some(file) = &step.request.body_file
        && let Ok(text) = std::fs::read_to_string(&file.value)
        && step.request.render_body != Some(false)
    {
        fields.push((
            "body_file".into(),
            Located::new(text, Location::new(&file.value, 1, 1)),
        ));
    }
    let step_env: BTreeSet<&str> = step.env.iter().map(|(n, _)| n.as_str()).collect();
    for (field, text) in &fields {
        if field == "request.body" && step.request.render_body == Some(false) {
            continue;
        }
        let refs = match renderer.variable_references(&text.value) {
            Ok(r) => r,
            Err(e) => {
                out.push(Diagnostic::at(
                    template_location(&text.location, e.line(), e.column()),
                    format!("{field}: {e}"),
                ));
                continue;
            }
        };
        for name in refs {
            if open_ended
                || vars.contains(&name)
                || (step_env.contains(name.as_str()) && !field.starts_with("env."))
            {
                continue;
            }
            let mut d = Diagnostic::at(
                text.location.clone(),
                format!(
                    "{field}: map has no entry for key \"{name}\": no source defines `{name}` before this step"
                ),
            );
            d = match did_you_mean(&name, vars.iter().map(String::as_str)) {
                Some(close) => d.with_hint(format!("did you mean `{close}`?")),
                None => d.with_hint(format!(
                    "define `{name}` in config.yaml `env`, extract it in an earlier migration's `response.env_from`, \
                     or give a fallback: {{{{.{name} | default \"...\"}}}}"
                )),
            };
            out.push(d);
        }
        if let Ok(auths) = renderer.auth_references(&text.value) {
            for name in auths {
                if !auth_names.contains(&name.as_str()) {
                    out.push(unknown_auth(&name, &text.location, auth_names));
                }
            }
        }
    }
    if let Some(a) = &step.request.auth_name
        && !a.value.trim().is_empty()
        && !auth_names.contains(&a.value.trim())
    {
        out.push(unknown_auth(a.value.trim(), &a.location, auth_names));
    }
    vars.extend(step.env.iter().map(|(n, _)| n.clone()));
    vars.extend(step.response.env_from.iter().map(|(n, _)| n.clone()));
}

fn unknown_auth(name: &str, at: &Location, known: &[&str]) -> Diagnostic {
    let d = Diagnostic::at(at.clone(), format!("unknown auth `{name}`"));
    match did_you_mean(name, known.iter().copied()) {
        Some(close) => d.with_hint(format!("did you mean `{close}`?")),
        None => d.with_hint("add an entry with this name under `auth:` in config.yaml"),
    }
}
