//! What a run needs from a project besides its migrations: the store its config names, and
//! the checks `status` and `validate` report. The store's run lock is
//! [`crate::state::acquire_run_lock`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::{Config, StoreConfig};
use crate::migration::{Declared, Migration};
use crate::report::Diagnostic;
use crate::state::{
    self, Applied, MemoryStore, PgTarget, PostgresStore, SqliteStore, StateError, Store,
};

/// Open the store a config names, creating its tables if needed (and a SQLite file). A
/// PostgreSQL DSN written as a template is rendered against the config's `env`; an unreachable
/// server, a refused login or a missing permission is an error here, before anything is sent.
pub fn open_store(config: &Config) -> Result<Box<dyn Store>, StateError> {
    match &config.store {
        StoreConfig::Disabled => Ok(Box::new(MemoryStore::new())),
        StoreConfig::Sqlite(s) => Ok(Box::new(SqliteStore::open(&s.path, &s.options.tables)?)),
        StoreConfig::Postgres(p) => {
            let target = PgTarget::from_config(p, &crate::config::env_pairs(config))?;
            Ok(Box::new(PostgresStore::open(&target, &p.options.tables)?))
        }
    }
}

/// The run-lock file of a SQLite store; `None` for other stores. Only the file lock has a
/// path: take any store's lock with [`crate::state::acquire_run_lock`] and read its holder with
/// [`crate::state::lock_holder`].
pub fn lock_path(config: &Config) -> Option<PathBuf> {
    match &config.store {
        StoreConfig::Disabled => None,
        StoreConfig::Sqlite(s) => Some(state::lock::lock_path_for(&s.path)),
        StoreConfig::Postgres(_) => None,
    }
}

/// Applied migrations whose file changed since they were applied, in the order of `applied`.
/// Works on fully loaded migrations and on files only scanned for `status` alike.
pub fn checksum_drift<M: Declared>(migrations: &[M], applied: &[Applied]) -> Vec<String> {
    let by_version: BTreeMap<u64, &M> = migrations.iter().map(|m| (m.version(), m)).collect();
    let mut out = Vec::new();
    for a in applied {
        let Some(recorded) = a.checksum.as_deref().filter(|c| !c.is_empty()) else {
            continue;
        };
        if let Some(m) = by_version.get(&a.version)
            && m.checksum() != recorded
        {
            out.push(format!(
                "{} (version {}) changed after it was applied on {}: edits to an applied migration are not re-run; \
                 add a new migration instead",
                m.path().display(),
                a.version,
                a.applied_at
            ));
        }
    }
    out
}

/// What `validate` found.
#[derive(Debug, Default)]
pub struct ValidationReport {
    pub migrations: usize,
    pub diagnostics: Vec<Diagnostic>,
    /// Warnings that do not fail validation.
    pub notes: Vec<String>,
}

/// Check a project without sending anything: every migration file loads, and, when a state
/// file exists, no applied migration was edited.
pub fn validate_project(config: &Config) -> Result<ValidationReport, crate::cli::Failure> {
    validate_project_with(config, &Default::default())
}

/// [`validate_project`] for a project whose variables also come from outside its config
/// (a stage's env and the values of its upstream stages): `given` names them.
pub fn validate_project_with(
    config: &Config,
    given: &std::collections::BTreeSet<String>,
) -> Result<ValidationReport, crate::cli::Failure> {
    let mut report = ValidationReport::default();
    let sources = match crate::migration::discover(&config.migrate_dir) {
        Ok(s) => s,
        Err(e) => {
            report.diagnostics.extend(e.diagnostics());
            return Ok(report);
        }
    };
    let mut migrations = Vec::new();
    for src in &sources {
        match crate::migration::load_file(src) {
            Ok(m) => migrations.push(m),
            Err(e) => report.diagnostics.extend(e.diagnostics()),
        }
    }
    report.migrations = migrations.len();
    let mut known = super::check::KnownVars {
        given: given.clone(),
        ..Default::default()
    };
    if let StoreConfig::Sqlite(s) = &config.store
        && s.path.exists()
        && let Ok(store) = SqliteStore::open(&s.path, &s.options.tables)
        && let Ok(stored) = store.stored_env()
    {
        known.stored = stored.into_iter().map(|(_, name, _)| name).collect();
    }
    report
        .diagnostics
        .extend(super::check::check_migrations(config, &migrations, &known));
    validate_custom_steps(config, &migrations, &mut report)?;
    if let StoreConfig::Sqlite(s) = &config.store
        && s.path.exists()
    {
        let store = SqliteStore::open(&s.path, &s.options.tables)?;
        for drift in checksum_drift(&migrations, &store.applied()?) {
            report
                .diagnostics
                .push(Diagnostic::new(None, drift).with_hint(
                    "restore the applied file, or record the change as a new migration",
                ));
        }
    }
    Ok(report)
}

/// Load every registered plugin (its pin must match, its WIT version be compatible) and pass
/// each custom step's params through its plugin's `validate`, sending nothing (see
/// [`check_custom_step`]).
fn validate_custom_steps(
    config: &Config,
    migrations: &[Migration],
    report: &mut ValidationReport,
) -> Result<(), crate::cli::Failure> {
    use crate::plugin::registry::{self, RegistryError};

    if config.plugins.is_empty() {
        return Ok(());
    }
    let runtime = super::shared_runtime()?;
    let mut plugins = std::collections::BTreeMap::new();
    for p in &config.plugins {
        let loaded = registry::read_component(p).and_then(|bytes| {
            runtime
                .load(&p.name.value, &bytes, registry::limits_for(p))
                .map_err(|e| registry::located_load_error(p, e))
        });
        match loaded {
            Ok(plugin) => {
                plugins.insert(p.name.value.clone(), plugin);
            }
            Err(RegistryError::Config(d)) => report.diagnostics.push(d),
            Err(RegistryError::Load(e)) => {
                return Err(super::ExecError::Setup(e.to_string()).into());
            }
        }
    }
    let renderer = crate::template::Renderer::new();
    let base = config_vars(config);
    let mut checked = 0;
    for migration in migrations {
        for (index, step) in indexed_steps(migration) {
            if let Some(plugin) = plugins.get(&step.step_type.value) {
                checked += 1;
                let check =
                    check_custom_step(&renderer, &base, config, migration, step, index, plugin);
                report.diagnostics.extend(check);
            }
        }
    }
    if checked > 0 {
        report.notes.push(format!(
            "checked the params of {checked} custom step(s) with their plugins"
        ));
    }
    Ok(())
}

impl super::Runner {
    /// Before `up` sends anything: pass the params of every custom step of the pending
    /// migrations through its plugin's `validate`, so a mistake in the last migration stops
    /// the run before the first one is applied. `base` holds the variables known before the
    /// run; the rest are placeholders. Stops at the first problem.
    pub(super) fn preflight(
        &self,
        config: &Config,
        pending: &[&Migration],
        base: &crate::template::Vars,
    ) -> Result<(), super::ExecError> {
        for migration in pending {
            for (index, step) in migration.up.iter().enumerate() {
                let Some(step_type) = self.step_types().get(&step.step_type.value) else {
                    continue;
                };
                if step_type.builtin {
                    continue;
                }
                if let Some(d) = check_custom_step(
                    self.renderer(),
                    base,
                    config,
                    migration,
                    step,
                    index,
                    &step_type.plugin,
                ) {
                    return Err(super::ExecError::Input(d));
                }
            }
        }
        Ok(())
    }
}

fn config_vars(config: &Config) -> crate::template::Vars {
    let mut vars = crate::template::Vars::new();
    for (name, value) in crate::config::env_pairs(config) {
        vars.insert(name, value);
    }
    vars
}

fn indexed_steps(migration: &Migration) -> impl Iterator<Item = (usize, &crate::migration::Step)> {
    migration
        .up
        .iter()
        .enumerate()
        .chain(migration.down.iter().enumerate())
}

/// Pass one custom step's params through its plugin's `validate`. Params are rendered as a
/// run renders them, against `base`; values only known at run time (extracted by earlier
/// steps, auth tokens, a stage's inputs) are stood in for by placeholders `<name>`. A
/// failure points at the step's `params`. A template that does not render is left to the
/// template checks.
fn check_custom_step(
    renderer: &crate::template::Renderer,
    base: &crate::template::Vars,
    config: &Config,
    migration: &Migration,
    step: &crate::migration::Step,
    index: usize,
    plugin: &crate::plugin::Plugin,
) -> Option<Diagnostic> {
    use crate::plugin::{StepError, StepFailure};

    let vars = with_placeholders(renderer, step, base);
    let rendered =
        super::render_step(renderer, migration, step, &vars, config.render_body, true).ok()?;
    let failure = plugin.validate(&rendered.params).err()?;
    let what = match &failure {
        StepFailure::Step(StepError::InvalidParams(m)) => m.clone(),
        other => other.to_string(),
    };
    let at = match &step.params {
        Some(p) => param_key_location(&p.location, &what).unwrap_or_else(|| p.location.clone()),
        None => step.location.clone(),
    };
    Some(
        Diagnostic::at(
            at,
            format!(
                "step {}: invalid params for step type `{}`: {what}",
                super::step_label(migration, step, index),
                step.step_type.value
            ),
        )
        .with_hint(format!(
            "plugin `{}` checked the rendered params before anything was sent (values not known \
             before the run are placeholders such as `<name>`); `apirun plugin list` shows where it comes from",
            step.step_type.value
        )),
    )
}

/// `base` plus a placeholder `<name>` for every variable and auth entry the step's templates
/// read that `base` does not have, so the step renders before the run knows those values.
fn with_placeholders(
    renderer: &crate::template::Renderer,
    step: &crate::migration::Step,
    base: &crate::template::Vars,
) -> crate::template::Vars {
    let mut vars = base.clone();
    for (_, text) in super::templated_fields(step) {
        for name in renderer
            .variable_references(&text.value)
            .unwrap_or_default()
        {
            if vars.get(&name).is_none() {
                vars.insert(name.clone(), format!("<{name}>"));
            }
        }
        for name in renderer.auth_references(&text.value).unwrap_or_default() {
            if vars.get_auth(&name).is_none() {
                vars.insert_auth(name.clone(), format!("<auth {name}>"));
            }
        }
    }
    vars
}

/// Where the params key a plugin's message starts with is written (`max_pols: unknown field`
/// → the line of `max_pols:`), searched in the `params` block that starts at `at`. The SDK
/// prefixes a params error with the path of the offending field; only its first segment is
/// looked for. `None` when the message names no key or it cannot be found.
fn param_key_location(
    at: &crate::report::Location,
    message: &str,
) -> Option<crate::report::Location> {
    let (path, _) = message.split_once(": ")?;
    let key = path.split(['.', '[']).next()?.trim();
    if key.is_empty() || key.contains(char::is_whitespace) {
        return None;
    }
    let text = std::fs::read_to_string(&at.file).ok()?;
    let block_indent = at.column.saturating_sub(1);
    // `key:`, `"key":` or `'key':` at the start of `s`.
    let starts_with_key = |s: &str| {
        let unquoted = s.trim_start_matches(['"', '\'']);
        unquoted.strip_prefix(key).is_some_and(|r| {
            r.trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with(':')
        })
    };
    for (i, line) in text.lines().enumerate().skip(at.line.saturating_sub(1)) {
        let indent = line.len() - line.trim_start().len();
        if i + 1 == at.line {
            // The block's first line: `key: ...` (block style) or `{a: 1, key: 2}` (flow).
            let from = block_indent.min(line.len());
            let rest = &line[from..];
            let pos = rest.char_indices().find_map(|(pos, c)| {
                let boundary = pos == 0 || matches!(c, ' ' | '{' | ',');
                let at_key = if pos == 0 {
                    rest
                } else {
                    rest[pos + c.len_utf8()..].trim_start()
                };
                (boundary && starts_with_key(at_key)).then(|| line.len() - at_key.len())
            });
            if let Some(pos) = pos {
                return Some(crate::report::Location::new(&at.file, i + 1, pos + 1));
            }
            continue;
        }
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        if indent < block_indent {
            break;
        }
        if indent == block_indent && starts_with_key(line.trim_start()) {
            return Some(crate::report::Location::new(&at.file, i + 1, indent + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Location;

    #[test]
    fn a_params_error_points_at_its_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("001_x.yaml");
        std::fs::write(
            &file,
            "up:\n  type: job\n  params:\n    url: x\n    body:\n      max_pols: 1\n    max_pols: 3\n  name: after\n",
        )
        .expect("write");
        let at = Location::new(&file, 4, 5);
        assert_eq!(
            param_key_location(&at, "max_pols: unknown field `max_pols`"),
            Some(Location::new(&file, 7, 5))
        );
        assert_eq!(
            param_key_location(&at, "body.realm: invalid type"),
            Some(Location::new(&file, 5, 5))
        );
        assert_eq!(param_key_location(&at, "name: not in params"), None);
        assert_eq!(param_key_location(&at, "the job failed"), None);

        std::fs::write(
            &file,
            "up:\n  type: job\n  params: {url: x, \"max_pols\": 3}\n",
        )
        .expect("write");
        let at = Location::new(&file, 3, 11);
        assert_eq!(
            param_key_location(&at, "max_pols: unknown field"),
            Some(Location::new(&file, 3, 20))
        );
    }
}
