//! What a run needs from a project besides its migrations: the store its config names, and
//! the checks `status` and `validate` report. The store's run lock is
//! [`crate::state::acquire_run_lock`].

use std::path::PathBuf;

use crate::config::{Config, StoreConfig};
use crate::migration::Migration;
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
        StoreConfig::Sqlite(s) => Ok(Box::new(SqliteStore::open(
            &s.path,
            &state::TableNames::from_config(&s.options.tables),
        )?)),
        StoreConfig::Postgres(p) => {
            let target = PgTarget::from_config(p, &crate::config::env_pairs(config))?;
            Ok(Box::new(PostgresStore::open(
                &target,
                &state::TableNames::from_config(&p.options.tables),
            )?))
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

/// Applied migrations whose file changed since they were applied.
pub fn checksum_drift(migrations: &[Migration], applied: &[Applied]) -> Vec<String> {
    let mut out = Vec::new();
    for a in applied {
        let Some(recorded) = a.checksum.as_deref().filter(|c| !c.is_empty()) else {
            continue;
        };
        if let Some(m) = migrations.iter().find(|m| m.version == a.version)
            && m.checksum != recorded
        {
            out.push(format!(
                "{} (version {}) changed after it was applied on {}: edits to an applied migration are not re-run; \
                 add a new migration instead",
                m.path.display(),
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
        && let Ok(store) = SqliteStore::open(&s.path, &state::TableNames::from_config(&s.options.tables))
        && let Ok(stored) = store.stored_env()
    {
        known.stored = stored.into_iter().map(|(_, name, _)| name).collect();
    }
    report
        .diagnostics
        .extend(super::check::check_migrations(config, &migrations, &known));
    if let StoreConfig::Sqlite(s) = &config.store
        && s.path.exists()
    {
        let store = SqliteStore::open(&s.path, &state::TableNames::from_config(&s.options.tables))?;
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
