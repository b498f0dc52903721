//! A stage's project (its config.yaml and migrations) and its state: loading every project a
//! command needs before anything runs, reading a stage's state without creating files, and
//! reading the values a stage exports.

use std::collections::{BTreeMap, BTreeSet};

use super::model::StagesFile;
use crate::config::{self, Config, StoreConfig};
use crate::execute;
use crate::migration::{self, Migration};
use crate::report::Diagnostic;
use crate::state::{StageRun, StateError, Store};

/// The projects of the stages a command touches: configs of every stage involved (run, or read
/// from through `env_from_stages`) and migrations of the stages that run.
#[derive(Debug, Default)]
pub struct Projects {
    /// Config of each stage involved.
    pub configs: BTreeMap<String, Config>,
    /// Migrations of each stage that runs.
    pub migrations: BTreeMap<String, Vec<Migration>>,
}

impl Projects {
    /// Load the config of every stage in `run` and of every stage they read values from, and
    /// the migrations of every stage in `run`. Every problem of every file at once.
    pub fn load(file: &StagesFile, run: &[String]) -> Result<Self, Vec<Diagnostic>> {
        let mut needed: BTreeSet<&str> = run.iter().map(String::as_str).collect();
        for name in run {
            if let Some(stage) = file.stage(name) {
                needed.extend(stage.env_from_stages.iter().map(|e| e.stage.value.as_str()));
            }
        }
        let mut out = Projects::default();
        let mut problems = Vec::new();
        for name in needed {
            let Some(stage) = file.stage(name) else {
                continue;
            };
            match config::load(&stage.config_path) {
                Ok(cfg) => {
                    if run.iter().any(|r| r == name) {
                        match migration::load_dir(&cfg.migrate_dir) {
                            Ok(m) => {
                                out.migrations.insert(name.to_string(), m);
                            }
                            Err(e) => problems.extend(e.diagnostics()),
                        }
                    }
                    out.configs.insert(name.to_string(), cfg);
                }
                Err(config::LoadError::ConfigNotFound { path }) => problems.push(
                    Diagnostic::at(
                        stage.config_path_written.location.clone(),
                        format!("stage {name}: config file not found: {}", path.display()),
                    )
                    .with_hint("create the file or fix `config_path` in stages.yaml"),
                ),
                Err(e) => problems.extend(e.diagnostics()),
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

/// Where a config keeps its state, for messages: the SQLite file, `disabled` or the database.
pub fn state_location(cfg: &Config) -> String {
    match &cfg.store {
        StoreConfig::Disabled => "disabled (store.disabled: true)".to_string(),
        StoreConfig::Sqlite(s) => s.path.display().to_string(),
        StoreConfig::Postgres(p) => format!("postgres ({})", p.location),
    }
}

/// Open a stage's store only if it exists: inspecting a stage that never ran must not create its
/// state file. `None` when there is no state (also for a disabled store).
pub fn peek_store(cfg: &Config) -> Result<Option<Box<dyn Store>>, StateError> {
    match &cfg.store {
        StoreConfig::Disabled => Ok(None),
        StoreConfig::Sqlite(s) if !s.path.exists() => Ok(None),
        _ => execute::open_store(cfg).map(Some),
    }
}

/// The variables a store exports: stored values of applied migrations, a newer version's value
/// winning over an older one's.
pub fn exported(store: &dyn Store) -> Result<BTreeMap<String, String>, StateError> {
    Ok(store
        .stored_env()?
        .into_iter()
        .map(|(_, name, value)| (name, value))
        .collect())
}

/// What is known about a stage's state, from its store.
#[derive(Debug, Clone, Default)]
pub struct StageState {
    /// The state file exists (or the store is reachable).
    pub exists: bool,
    /// Applied versions, ascending.
    pub applied: Vec<u64>,
    /// The values it exports.
    pub exported: BTreeMap<String, String>,
    /// The newest recorded stage run.
    pub last_run: Option<StageRun>,
}

impl StageState {
    /// Read a stage's state without creating anything.
    pub fn read(cfg: &Config, stage: &str) -> Result<Self, StateError> {
        let Some(store) = peek_store(cfg)? else {
            return Ok(Self::default());
        };
        Ok(Self {
            exists: true,
            applied: store.applied()?.into_iter().map(|a| a.version).collect(),
            exported: exported(store.as_ref())?,
            last_run: store.last_stage_run(stage)?,
        })
    }

    /// Whether the stage has been executed: something applied, or a successful stage run on
    /// record (a stage may have no migration at all).
    pub fn executed(&self) -> bool {
        !self.applied.is_empty()
            || self
                .last_run
                .as_ref()
                .is_some_and(|r| r.outcome == "succeeded")
    }

    /// Why the stage counts as not executed, for the hint under the error.
    pub fn why_not_executed(&self, stage: &str, cfg: &Config) -> String {
        if matches!(cfg.store, StoreConfig::Disabled) {
            return format!(
                "{stage} has a disabled store (store.disabled: true), so its values exist only while one `apirun stages up` runs it: run both in one command, e.g. `apirun stages up --from {stage}`"
            );
        }
        let run_first = format!(
            "run it first: `apirun stages up --to {stage}` (or `apirun stages up --from {stage}` to run it and what follows)"
        );
        match &self.last_run {
            _ if !self.exists => format!(
                "{stage} has no state yet ({} does not exist); {run_first}",
                state_location(cfg)
            ),
            Some(r) if r.outcome == "skipped" => format!(
                "{stage} was skipped in its last run ({}); {run_first}",
                r.error.as_deref().unwrap_or("skipped")
            ),
            Some(r) if r.outcome == "failed" => format!(
                "{stage} failed in its last run ({}), nothing of it is applied; {run_first}",
                r.error.as_deref().unwrap_or("failed")
            ),
            Some(r) if r.outcome == "rolled_back" => {
                format!("{stage} was rolled back on {}; {run_first}", r.finished_at)
            }
            _ => format!(
                "{stage} has no applied migration in {}; {run_first}",
                state_location(cfg)
            ),
        }
    }
}
