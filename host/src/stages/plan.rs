//! What `stages up|down --dry-run` and `stages status` show, computed from the files and the
//! stages' stores without sending anything and without creating any state file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::graph::{Direction, Graph, batches};
use super::model::StagesFile;
use super::project::{Projects, StageState, state_location};
use crate::config;
use crate::execute::{plan_down, plan_up};
use crate::migration;
use crate::state::{Applied, StageRun, StateError};

/// One stage in a dry-run plan.
#[derive(Debug, Clone)]
pub struct PlannedStage {
    /// The stage's name.
    pub name: String,
    /// Its config.yaml, resolved.
    pub config_path: PathBuf,
    /// Where its state lives.
    pub state: String,
    /// Up: pending migrations, ascending. Down: applied migrations, newest first. As
    /// `(version, file name)`.
    pub migrations: Vec<(u64, String)>,
    /// Its condition, decided only when it runs.
    pub condition: Option<String>,
    /// Remarks on the values it takes from upstream stages; a line starting with `warning:`
    /// predicts a failure or a warning of the real run.
    pub notes: Vec<String>,
}

/// A dry-run plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Up or down.
    pub direction: Direction,
    /// The selected stages in run order.
    pub order: Vec<String>,
    /// Up: waves of independent stages. Down: one stage per batch.
    pub batches: Vec<Vec<PlannedStage>>,
    /// `global.max_concurrent_stages`.
    pub max_concurrent: usize,
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The plan of a run over `selected` (in the run's order).
pub fn plan(
    file: &StagesFile,
    graph: &Graph,
    projects: &Projects,
    selected: &[String],
    direction: Direction,
) -> Result<Plan, StateError> {
    let groups: Vec<Vec<String>> = match direction {
        Direction::Up => batches(graph, selected),
        Direction::Down => selected.iter().map(|s| vec![s.clone()]).collect(),
    };
    let mut out = Vec::new();
    for group in &groups {
        let mut batch = Vec::new();
        for name in group {
            let (Some(stage), Some(cfg)) = (file.stage(name), projects.configs.get(name)) else {
                continue;
            };
            let state = StageState::read(cfg, name)?;
            let declared = projects
                .migrations
                .get(name)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let applied: Vec<Applied> = state
                .applied
                .iter()
                .map(|v| Applied {
                    version: *v,
                    applied_at: String::new(),
                    name: None,
                    checksum: None,
                })
                .collect();
            let migrations = match direction {
                Direction::Up => plan_up(declared, &applied, None)
                    .iter()
                    .map(|m| (m.version, file_name(&m.path)))
                    .collect(),
                Direction::Down => plan_down(&applied, 0)
                    .into_iter()
                    .map(|v| {
                        let f = declared
                            .iter()
                            .find(|m| m.version == v)
                            .map(|m| file_name(&m.path))
                            .unwrap_or_else(|| "(no migration file)".into());
                        (v, f)
                    })
                    .collect(),
            };
            let mut notes = Vec::new();
            if direction == Direction::Up {
                let position = selected.iter().position(|s| s == name);
                for e in &stage.env_from_stages {
                    let up = &e.stage.value;
                    let vars: Vec<&str> = e.vars.iter().map(|v| v.value.as_str()).collect();
                    let earlier = selected
                        .iter()
                        .position(|s| s == up)
                        .is_some_and(|i| Some(i) < position);
                    if earlier {
                        notes.push(format!(
                            "takes [{}] from {up}, which runs earlier in this plan",
                            vars.join(" ")
                        ));
                        continue;
                    }
                    let Some(up_cfg) = projects.configs.get(up) else {
                        continue;
                    };
                    let up_state = StageState::read(up_cfg, up)?;
                    if !up_state.executed() {
                        notes.push(format!(
                            "warning: dependent stage {up} has not been executed, so this stage would fail; {}",
                            up_state.why_not_executed(up, up_cfg)
                        ));
                        continue;
                    }
                    let (found, missing): (Vec<&str>, Vec<&str>) = vars
                        .iter()
                        .partition(|v| up_state.exported.contains_key(**v));
                    if !found.is_empty() {
                        notes.push(format!(
                            "takes [{}] from the state of {up}",
                            found.join(" ")
                        ));
                    }
                    for v in missing {
                        notes.push(format!(
                            "warning: variable not found in dependent stage {up} variable={v} ({up} does not export it)"
                        ));
                    }
                }
            }
            batch.push(PlannedStage {
                name: name.clone(),
                config_path: stage.config_path.clone(),
                state: state_location(cfg),
                migrations,
                condition: stage.condition.as_ref().map(|c| c.value.trim().to_string()),
                notes,
            });
        }
        out.push(batch);
    }
    Ok(Plan {
        direction,
        order: selected.to_vec(),
        batches: out,
        max_concurrent: file.global.max_concurrent_stages.max(1),
    })
}

/// One stage as `stages status` shows it.
#[derive(Debug, Clone, Default)]
pub struct StageStatus {
    /// The stage's name.
    pub name: String,
    /// Its config.yaml, resolved.
    pub config_path: PathBuf,
    /// Where its state lives (`None` when the config could not be loaded).
    pub state: Option<String>,
    /// Its direct dependencies.
    pub depends_on: Vec<String>,
    /// `(stage, vars)` of `env_from_stages`.
    pub env_from: Vec<(String, Vec<String>)>,
    /// Applied versions, ascending.
    pub applied: Vec<u64>,
    /// Declared versions not applied, ascending (files added later included).
    pub pending: Vec<u64>,
    /// The newest recorded run of the stage.
    pub last_run: Option<StageRun>,
    /// What it exports, by name (unmasked: the caller masks before printing).
    pub exported: BTreeMap<String, String>,
    /// Why the stage's project or state could not be read.
    pub problem: Option<String>,
}

/// The status of every stage, in up order, read from the stages' stores.
pub fn status(file: &StagesFile, graph: &Graph) -> Vec<StageStatus> {
    let mut out = Vec::new();
    for name in graph.order() {
        let Some(stage) = file.stage(&name) else {
            continue;
        };
        let mut st = StageStatus {
            name: name.clone(),
            config_path: stage.config_path.clone(),
            depends_on: stage.depends_on.iter().map(|d| d.value.clone()).collect(),
            env_from: stage
                .env_from_stages
                .iter()
                .map(|e| {
                    (
                        e.stage.value.clone(),
                        e.vars.iter().map(|v| v.value.clone()).collect(),
                    )
                })
                .collect(),
            ..StageStatus::default()
        };
        let cfg = match config::load(&stage.config_path) {
            Ok(c) => c,
            Err(e) => {
                st.problem = Some(e.to_string());
                out.push(st);
                continue;
            }
        };
        st.state = Some(state_location(&cfg));
        match StageState::read(&cfg, &name) {
            Ok(state) => {
                st.applied = state.applied.clone();
                st.exported = state.exported;
                st.last_run = state.last_run;
            }
            Err(e) => st.problem = Some(e.to_string()),
        }
        match migration::load_dir(&cfg.migrate_dir) {
            Ok(migrations) => {
                st.pending = migrations
                    .iter()
                    .map(|m| m.version)
                    .filter(|v| !st.applied.contains(v))
                    .collect();
            }
            Err(e) => {
                st.problem.get_or_insert(e.to_string());
            }
        }
        out.push(st);
    }
    out
}
