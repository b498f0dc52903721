//! What a run needs from a project besides its migrations: the store its config names, the
//! lock beside it, and the checks `status` and `validate` report.

use std::path::PathBuf;

use crate::config::{Config, StoreConfig};
use crate::migration::Migration;
use crate::report::Diagnostic;
use crate::state::{self, Applied, MemoryStore, SqliteStore, StateError, Store};

/// Open the store a config names (creating a SQLite file and its tables if needed).
pub fn open_store(config: &Config) -> Result<Box<dyn Store>, StateError> {
    match &config.store {
        StoreConfig::Disabled => Ok(Box::new(MemoryStore::new())),
        StoreConfig::Sqlite(s) => Ok(Box::new(SqliteStore::open(
            &s.path,
            &table_names(&s.options.tables),
        )?)),
        StoreConfig::Postgres(p) => Err(StateError::Open {
            path: format!("{}", p.location),
            message:
                "the PostgreSQL store is not available in this build of apirun; use `type: sqlite`"
                    .into(),
        }),
    }
}

fn table_names(t: &crate::config::TableNames) -> state::TableNames {
    state::TableNames {
        schema_migrations: t.schema_migrations.clone(),
        migration_runs: t.migration_runs.clone(),
        stored_env: t.stored_env.clone(),
    }
}

/// The run-lock file of a config's store; `None` for a disabled store (nothing to protect).
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
    if let StoreConfig::Sqlite(s) = &config.store
        && s.path.exists()
    {
        let store = SqliteStore::open(&s.path, &table_names(&s.options.tables))?;
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
