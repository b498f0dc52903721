//! Migration files: finding them (`NNN_name.yaml`, versions from the digit prefix), reading
//! them into steps with a location on every templated string, and creating new ones.
//!
//! The formats are the Go original's (`up` with `request`/`response`; `down` flat with `find`,
//! or nested like `up`) plus what its docs promised but never ran: lists of steps under `up` and
//! `down`, HEAD/OPTIONS and lower-case methods, `down.response.result_code`, step `env` that
//! takes effect. New per-step keys: `type`/`params` (custom step plugins), `retry`, `timeout`.
//! A `body` written as a YAML mapping or list is sent as its JSON text.

mod create;
mod discover;
mod load;
mod model;
mod scan;

#[cfg(test)]
mod tests;

pub use crate::config::LoadError;
pub use create::{create, slugify};
pub use discover::discover;
pub(crate) use load::MIGRATION;
pub use load::{load_all, load_dir, load_file};
pub use scan::{Declared, MigrationFile, checksum, scan};

/// The JSON Schema of a migration file, generated from the tables its loader checks keys
/// against.
pub fn json_schema() -> serde_json::Value {
    crate::config::schema::json_schema(
        &MIGRATION,
        &format!("{}/migration.schema.json", crate::config::SCHEMA_BASE),
        "apirun migration",
    )
}
pub use model::{
    EnvMissing, HTTP_STEP_TYPE, Migration, MigrationSource, Pair, Request, Response, Retry,
    StatusPattern, Step, StepKind,
};

use crate::report::{Diagnostic, did_you_mean};

/// Steps whose `type` is neither `http` nor one of `plugins` (the names from config): loading a
/// migration does not know the config, so this check runs once both are loaded.
pub fn check_step_types(migrations: &[Migration], plugins: &[&str]) -> Vec<Diagnostic> {
    let mut known: Vec<&str> = vec![HTTP_STEP_TYPE];
    known.extend_from_slice(plugins);
    migrations
        .iter()
        .flat_map(Migration::steps)
        .filter(|s| !known.contains(&s.step_type.value.as_str()))
        .map(|s| {
            let hint = match did_you_mean(&s.step_type.value, known.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => {
                    "add the plugin to `plugins` in config.yaml, or use `type: http`".to_string()
                }
            };
            Diagnostic::at(
                s.step_type.location.clone(),
                format!("unknown step type `{}`", s.step_type.value),
            )
            .with_hint(hint)
        })
        .collect()
}
