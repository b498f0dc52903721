//! Running stages: `up` in dependency waves with at most `max_concurrent_stages` at a time,
//! `down` one stage at a time in reverse order, and what failures do to the rest of the run.
//!
//! Each stage is an ordinary project run (`execute::Runner`) under that stage's own run lock,
//! against that stage's own store. Values flow between stages through the stores: a stage's
//! exported values are its store's stored variables, and a dependent reads them from there, so
//! `--stage X` works in a later process after its upstream stages ran. Every stage run is
//! recorded in the stage's store (`succeeded`, `failed`, `skipped`, `rolled_back`) for
//! `stages status`.
//!
//! Variable precedence inside a stage, highest first: values extracted by the stage's own
//! migrations, `env_from_stages` values, the stage's `env`, its config's `env`, `global.env`.
//!
//! `timeout` bounds a stage as follows: it is checked before every migration (a stage out of
//! time starts no further migration), and every request of a migration is bounded by the time
//! left when that migration started. A migration that is running when the time is up therefore
//! finishes or fails within one request bound per remaining step; the stage then fails as timed
//! out. Waiting for the config's `wait` URL and acquiring auth tokens keep their own bounds.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::condition;
use super::graph::{Direction, Graph, batches};
use super::load::condition_problem;
use super::model::{OnFailure, Stage, StagesFile};
use super::project::{Projects, StageState, exported, peek_store};
use crate::config::{Config, StoreConfig};
use crate::execute::{
    self, DownOptions, ExecError, Observer, Runner, Silent, UpOptions, plan_down, plan_up,
};
use crate::migration::Migration;
use crate::report::{Diagnostic, mask};
use crate::state::{StageRun, StateError, Store, now_rfc3339};
use crate::template::{Renderer, Vars};

/// How a stage ended in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageOutcome {
    /// Up: its pending migrations were applied.
    Succeeded,
    /// It failed; see the error.
    Failed,
    /// It did not run: its condition was false or a dependency failed.
    Skipped,
    /// Down (or a rollback): its migrations were rolled back.
    RolledBack,
    /// The run stopped before this stage started.
    NotStarted,
}

impl StageOutcome {
    /// The word recorded in the store and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::RolledBack => "rolled_back",
            Self::NotStarted => "not_started",
        }
    }
}

/// Why a stage failed.
#[derive(Debug, thiserror::Error)]
pub enum StageError {
    /// An upstream stage named in `env_from_stages` has no state (wording of the Go original,
    /// which the troubleshooting guide quotes).
    #[error(
        "failed to build environment for stage {stage}: dependent stage {upstream} has not been executed"
    )]
    NotExecuted {
        /// The stage that needs the values.
        stage: String,
        /// The stage that has no state.
        upstream: String,
        /// What is known about the upstream stage and what to run.
        hint: String,
    },
    /// An upstream stage's state could not be read.
    #[error(
        "failed to build environment for stage {stage}: reading the state of stage {upstream}: {source}"
    )]
    Upstream {
        /// The stage that needs the values.
        stage: String,
        /// The stage whose state could not be read.
        upstream: String,
        /// Why.
        #[source]
        source: Box<StateError>,
    },
    /// The condition could not be decided.
    #[error("{0}")]
    Condition(Box<Diagnostic>),
    /// A migration of the stage failed, or the project could not run.
    #[error("{0}")]
    Exec(Box<ExecError>),
    /// The stage's store or lock failed.
    #[error("{0}")]
    State(Box<StateError>),
    /// The stage ran out of time.
    #[error("timed out: the stage's timeout is {}, {done} of {total} migration(s) finished{}", fmt_duration(*.limit), .cause.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Timeout {
        /// The stage's `timeout`.
        limit: Duration,
        /// Migrations that finished before the time ran out.
        done: usize,
        /// Migrations the stage had to run.
        total: usize,
        /// The error of the migration that was cut short, if any.
        cause: Option<String>,
    },
    /// The stage is missing from the loaded projects (a bug in the caller).
    #[error("stage {0} was not prepared")]
    NotPrepared(String),
}

impl From<ExecError> for StageError {
    fn from(e: ExecError) -> Self {
        Self::Exec(Box::new(e))
    }
}

impl From<StateError> for StageError {
    fn from(e: StateError) -> Self {
        Self::State(Box::new(e))
    }
}

impl StageError {
    /// How to fix it, where there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::NotExecuted { hint, .. } => Some(hint.clone()),
            Self::Upstream { .. } => None,
            Self::Condition(d) => d.hint.clone(),
            Self::Timeout { .. } => Some(
                "raise the stage's `timeout` in stages.yaml, or find the slow request with `apirun stages status --verbose | grep duration`".into(),
            ),
            _ => None,
        }
    }
}

/// Durations as people read them: `850ms`, `1.204s`, `5m0s`.
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        let s = format!("{:.3}", d.as_secs_f64());
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}s")
    } else {
        format!("{}m{}s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// What one stage did in a run.
#[derive(Debug)]
pub struct StageReport {
    /// The stage's name.
    pub name: String,
    /// Up, or down (also for a rollback).
    pub direction: Direction,
    /// How it ended.
    pub outcome: StageOutcome,
    /// Why it was skipped or not started.
    pub reason: Option<String>,
    /// Why it failed.
    pub error: Option<StageError>,
    /// Versions applied (up) or rolled back (down) in this run, ascending.
    pub versions: Vec<u64>,
    /// The newest version applied before this run (what a rollback returns to).
    pub baseline: u64,
    /// How many variables the stage exports after the run.
    pub exported: usize,
    /// How long it took, lock and state included.
    pub duration: Duration,
    /// The stage's `on_failure`.
    pub on_failure: OnFailure,
}

impl StageReport {
    /// Mark the stage failed with `error`.
    fn fail(&mut self, error: StageError) {
        self.outcome = StageOutcome::Failed;
        self.error = Some(error);
    }

    fn new(name: &str, direction: Direction, on_failure: OnFailure) -> Self {
        Self {
            name: name.to_string(),
            direction,
            outcome: StageOutcome::NotStarted,
            reason: None,
            error: None,
            versions: Vec::new(),
            baseline: 0,
            exported: 0,
            duration: Duration::ZERO,
            on_failure,
        }
    }

    /// The error or the reason, as one line (masked), for the store and summaries.
    pub fn detail(&self) -> Option<String> {
        self.error
            .as_ref()
            .map(|e| mask::text(&e.to_string()))
            .or_else(|| self.reason.clone())
    }
}

/// What a whole `stages up` / `stages down` did.
#[derive(Debug)]
pub struct RunReport {
    /// Up or down.
    pub direction: Direction,
    /// Every selected stage, in the run's order.
    pub stages: Vec<StageReport>,
    /// Stages rolled back by `rollback_on_failure`, in the order they were rolled back.
    pub rolled_back: Vec<StageReport>,
}

impl RunReport {
    /// The failures that fail the run: every failed stage except those with
    /// `on_failure: continue`, and every failed rollback.
    pub fn failures(&self) -> impl Iterator<Item = &StageReport> {
        self.stages
            .iter()
            .filter(|r| r.outcome == StageOutcome::Failed && r.on_failure != OnFailure::Continue)
            .chain(
                self.rolled_back
                    .iter()
                    .filter(|r| r.outcome == StageOutcome::Failed),
            )
    }

    /// Whether the run failed.
    pub fn failed(&self) -> bool {
        self.failures().next().is_some()
    }

    /// Stages in the given outcome, in order.
    pub fn with_outcome(&self, outcome: StageOutcome) -> Vec<&str> {
        self.stages
            .iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.name.as_str())
            .collect()
    }
}

/// What the executor reports as it goes (the CLI prints it). Called from the worker threads
/// of parallel stages, hence `Sync`.
pub trait StageEvents: Sync {
    /// A batch of independent stages is about to start (up only).
    fn batch_started(&self, _index: usize, _stages: &[String]) {}
    /// A stage starts (it holds its lock).
    fn stage_started(&self, _stage: &str, _direction: Direction) {}
    /// A stage ended, however it ended.
    fn stage_finished(&self, _report: &StageReport) {}
    /// The run pauses for `wait_between_stages`.
    fn waiting(&self, _pause: Duration) {}
    /// `rollback_on_failure` is about to roll back these stages, in this order.
    fn rollback_started(&self, _stages: &[String]) {}
    /// The observer for a stage's migrations.
    fn migrations(&self, _stage: &str) -> Box<dyn Observer + '_> {
        Box::new(Silent)
    }
}

/// Values read from upstream stages for one stage.
#[derive(Debug, Default)]
struct Upstream {
    values: Vec<(String, String)>,
    /// The first upstream stage without state, and the hint that explains it.
    not_executed: Option<(String, String)>,
    /// `(upstream stage, variable)` listed but not exported.
    missing: Vec<(String, String)>,
}

/// Runs the stages of one stages.yaml.
pub struct Executor<'a> {
    file: &'a StagesFile,
    graph: &'a Graph,
    projects: &'a Projects,
    events: &'a dyn StageEvents,
    /// Values exported by stages that ran in this process, for upstream stages whose store is
    /// disabled (their values exist nowhere else).
    memory: Mutex<BTreeMap<String, BTreeMap<String, String>>>,
}

impl std::fmt::Debug for Executor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("file", &self.file.path)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<'a> Executor<'a> {
    /// An executor over loaded projects (see [`Projects::load`]).
    pub fn new(
        file: &'a StagesFile,
        graph: &'a Graph,
        projects: &'a Projects,
        events: &'a dyn StageEvents,
    ) -> Self {
        Self {
            file,
            graph,
            projects,
            events,
            memory: Mutex::new(BTreeMap::new()),
        }
    }

    /// Run `selected` (in up order) wave by wave; at most `max_concurrent_stages` stages of a
    /// wave run at once.
    pub fn up(&self, selected: &[String]) -> RunReport {
        let batches = batches(self.graph, selected);
        let max = self.file.global.max_concurrent_stages.max(1);
        let stop = AtomicBool::new(false);
        let mut done: Vec<StageReport> = Vec::new();
        let mut blocked: BTreeMap<String, String> = BTreeMap::new();
        for (i, batch) in batches.iter().enumerate() {
            if stop.load(Ordering::SeqCst) {
                done.extend(batch.iter().map(|n| self.not_started(n, Direction::Up)));
                continue;
            }
            if i > 0 {
                self.pause();
            }
            self.events.batch_started(i, batch);
            let mut runnable = Vec::new();
            for name in batch {
                match blocked.get(name) {
                    Some(reason) => done.push(self.skip(name, Direction::Up, reason)),
                    None => runnable.push(name.clone()),
                }
            }
            for report in self.parallel(&runnable, max, &stop) {
                if report.outcome == StageOutcome::Failed
                    && report.on_failure == OnFailure::SkipDependents
                {
                    for d in self.graph.downstream(&report.name) {
                        blocked
                            .entry(d)
                            .or_insert_with(|| format!("dependency {} failed", report.name));
                    }
                }
                done.push(report);
            }
        }
        let failed = done
            .iter()
            .any(|r| r.outcome == StageOutcome::Failed && r.on_failure != OnFailure::Continue);
        let mut rolled_back = Vec::new();
        if failed && self.file.global.rollback_on_failure {
            // Newest first: `done` is in completion order.
            let targets: Vec<(String, u64)> = done
                .iter()
                .rev()
                .filter(|r| !r.versions.is_empty())
                .map(|r| (r.name.clone(), r.baseline))
                .collect();
            let reason = format!(
                "rollback_on_failure: {} failed",
                done.iter()
                    .filter(|r| r.outcome == StageOutcome::Failed)
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if !targets.is_empty() {
                let names: Vec<String> = targets.iter().map(|(n, _)| n.clone()).collect();
                self.events.rollback_started(&names);
                for (name, baseline) in targets {
                    let applied_now = done
                        .iter()
                        .find(|r| r.name == name)
                        .map(|r| r.versions.clone())
                        .unwrap_or_default();
                    let kept: Vec<u64> = applied_now
                        .iter()
                        .copied()
                        .filter(|v| *v <= baseline)
                        .collect();
                    if !kept.is_empty() {
                        tracing::warn!(
                            stage = %name,
                            versions = %format!("{kept:?}"),
                            "rollback_on_failure leaves versions applied in this run that are older than versions applied before it; roll them back by hand if needed"
                        );
                    }
                    rolled_back.push(self.stage_down(&name, baseline, Some(&reason)));
                }
            }
        }
        let order: Vec<&String> = batches.iter().flatten().collect();
        done.sort_by_key(|r| order.iter().position(|n| **n == r.name));
        RunReport {
            direction: Direction::Up,
            stages: done,
            rolled_back,
        }
    }

    /// Roll back `selected` (in down order) one stage at a time, every migration of each.
    pub fn down(&self, selected: &[String]) -> RunReport {
        let mut stop = false;
        let mut done = Vec::new();
        let mut blocked: BTreeMap<String, String> = BTreeMap::new();
        for (i, name) in selected.iter().enumerate() {
            if stop {
                done.push(self.not_started(name, Direction::Down));
                continue;
            }
            if i > 0 {
                self.pause();
            }
            if let Some(reason) = blocked.get(name) {
                done.push(self.skip(name, Direction::Down, reason));
                continue;
            }
            let report = self.stage_down(name, 0, None);
            if report.outcome == StageOutcome::Failed {
                match report.on_failure {
                    OnFailure::Stop => stop = true,
                    // The mirror of up: what the failed stage stands on stays in place.
                    OnFailure::SkipDependents => {
                        for u in self.graph.upstream(name) {
                            blocked.entry(u).or_insert_with(|| {
                                format!("stage {name}, which depends on it, failed to roll back")
                            });
                        }
                    }
                    OnFailure::Continue => {}
                }
            }
            done.push(report);
        }
        RunReport {
            direction: Direction::Down,
            stages: done,
            rolled_back: Vec::new(),
        }
    }

    fn pause(&self) {
        if let Some(pause) = self.file.global.wait_between_stages {
            self.events.waiting(pause);
            std::thread::sleep(pause);
        }
    }

    /// Run stages of one wave on at most `max` threads; once a stage with `on_failure: stop`
    /// fails, no further stage starts.
    fn parallel(&self, names: &[String], max: usize, stop: &AtomicBool) -> Vec<StageReport> {
        let queue: Mutex<VecDeque<String>> = Mutex::new(names.iter().cloned().collect());
        let results: Mutex<Vec<StageReport>> = Mutex::new(Vec::new());
        let workers = max.min(names.len());
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| {
                    loop {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let next = lock(&queue).pop_front();
                        let Some(name) = next else {
                            break;
                        };
                        let report = self.stage_up(&name);
                        if report.outcome == StageOutcome::Failed
                            && report.on_failure == OnFailure::Stop
                        {
                            stop.store(true, Ordering::SeqCst);
                        }
                        lock(&results).push(report);
                    }
                });
            }
        });
        let mut out = results.into_inner().unwrap_or_else(|p| p.into_inner());
        let left = queue.into_inner().unwrap_or_else(|p| p.into_inner());
        out.extend(left.iter().map(|n| self.not_started(n, Direction::Up)));
        out
    }

    fn on_failure(&self, name: &str) -> OnFailure {
        self.file
            .stage(name)
            .map(|s| s.on_failure)
            .unwrap_or_default()
    }

    fn not_started(&self, name: &str, direction: Direction) -> StageReport {
        let mut r = StageReport::new(name, direction, self.on_failure(name));
        r.reason = Some("not started: the run stopped after a failure".into());
        self.events.stage_finished(&r);
        r
    }

    /// Record a stage as skipped because of another stage's failure.
    fn skip(&self, name: &str, direction: Direction, reason: &str) -> StageReport {
        let mut r = StageReport::new(name, direction, self.on_failure(name));
        r.outcome = StageOutcome::Skipped;
        r.reason = Some(format!("skipped: {reason}"));
        tracing::info!(stage = %name, reason = %reason, "stage skipped");
        if let Some(cfg) = self.projects.configs.get(name) {
            let started = now_rfc3339();
            let recorded = (|| -> Result<(), StateError> {
                let _lock =
                    crate::state::acquire_run_lock(cfg, &format!("apirun stages (stage {name})"))?;
                let mut store = execute::open_store(cfg)?;
                r.exported = exported(store.as_ref())?.len();
                store.record_stage_run(&stage_run(name, &r, &started))
            })();
            if let Err(e) = recorded {
                tracing::warn!(stage = %name, error = %e, "could not record the skipped stage");
            }
        }
        self.events.stage_finished(&r);
        r
    }

    /// The variables a stage's migrations inherit, lowest precedence first: `global.env`
    /// (except names the stage's config defines, which win over it), the stage's `env`, then
    /// values from upstream stages. The runner puts config env below and stored values above.
    fn inherited(
        &self,
        stage: &Stage,
        config_names: &BTreeSet<&str>,
        upstream: &[(String, String)],
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .file
            .global
            .env
            .iter()
            .filter(|(k, _)| !config_names.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.value.clone()))
            .collect();
        out.extend(stage.env.iter().map(|(k, v)| (k.clone(), v.value.clone())));
        out.extend(upstream.iter().cloned());
        out
    }

    /// Read the values a stage takes from its upstream stages' stores.
    fn upstream(&self, stage: &Stage) -> Result<Upstream, StageError> {
        let mut out = Upstream::default();
        for e in &stage.env_from_stages {
            let up = &e.stage.value;
            let cfg = self
                .projects
                .configs
                .get(up)
                .ok_or_else(|| StageError::NotPrepared(up.clone()))?;
            let values = if matches!(cfg.store, StoreConfig::Disabled) {
                lock(&self.memory).get(up).cloned()
            } else {
                let state = StageState::read(cfg, up).map_err(|source| StageError::Upstream {
                    stage: stage.name.value.clone(),
                    upstream: up.clone(),
                    source: Box::new(source),
                })?;
                if state.executed() {
                    Some(state.exported)
                } else {
                    if out.not_executed.is_none() {
                        out.not_executed = Some((up.clone(), state.why_not_executed(up, cfg)));
                    }
                    None
                }
            };
            let Some(values) = values else {
                if out.not_executed.is_none() {
                    let hint = StageState::default().why_not_executed(up, cfg);
                    out.not_executed = Some((up.clone(), hint));
                }
                continue;
            };
            for var in &e.vars {
                match values.get(&var.value) {
                    Some(v) => out.values.push((var.value.clone(), v.clone())),
                    None => out.missing.push((up.clone(), var.value.clone())),
                }
            }
        }
        Ok(out)
    }

    fn prepared(&self, name: &str) -> Result<(&'a Stage, &'a Config), StageError> {
        let stage = self
            .file
            .stage(name)
            .ok_or_else(|| StageError::NotPrepared(name.to_string()))?;
        let cfg = self
            .projects
            .configs
            .get(name)
            .ok_or_else(|| StageError::NotPrepared(name.to_string()))?;
        Ok((stage, cfg))
    }

    /// Run one stage up, record how it ended, report it.
    fn stage_up(&self, name: &str) -> StageReport {
        let began = Instant::now();
        let started = now_rfc3339();
        let mut report = StageReport::new(name, Direction::Up, self.on_failure(name));
        self.events.stage_started(name, Direction::Up);
        let result = self.prepared(name).and_then(|(stage, cfg)| {
            let migrations = self
                .projects
                .migrations
                .get(name)
                .ok_or_else(|| StageError::NotPrepared(name.to_string()))?;
            self.with_store(cfg, name, "up", |store| {
                let before: Vec<u64> = store.applied()?.iter().map(|a| a.version).collect();
                report.baseline = before.iter().copied().max().unwrap_or(0);
                let result = self.up_in(stage, cfg, migrations, store, began);
                let after: Vec<u64> = store.applied()?.iter().map(|a| a.version).collect();
                report.versions = after
                    .iter()
                    .copied()
                    .filter(|v| !before.contains(v))
                    .collect();
                let values = exported(store)?;
                report.exported = values.len();
                lock(&self.memory).insert(name.to_string(), values);
                match result {
                    Ok(Some(reason)) => {
                        report.outcome = StageOutcome::Skipped;
                        report.reason = Some(reason);
                    }
                    Ok(None) => report.outcome = StageOutcome::Succeeded,
                    Err(e) => report.fail(e),
                }
                report.duration = began.elapsed();
                store.record_stage_run(&stage_run(name, &report, &started))?;
                Ok(())
            })
        });
        if let Err(e) = result {
            report.fail(e);
        }
        report.duration = began.elapsed();
        match report.outcome {
            StageOutcome::Succeeded => tracing::info!(
                stage = %name,
                extracted_vars = report.exported,
                "stage executed successfully"
            ),
            StageOutcome::Skipped => tracing::info!(
                stage = %name,
                reason = %report.reason.as_deref().unwrap_or(""),
                "stage skipped"
            ),
            _ => {}
        }
        self.events.stage_finished(&report);
        report
    }

    /// Take the stage's lock, open its store, and run `f` with it. Errors of `f` that are
    /// state errors after the stage ran are the stage's failure.
    fn with_store(
        &self,
        cfg: &Config,
        name: &str,
        verb: &str,
        f: impl FnOnce(&mut dyn Store) -> Result<(), StateError>,
    ) -> Result<(), StageError> {
        let _lock =
            crate::state::acquire_run_lock(cfg, &format!("apirun stages {verb} (stage {name})"))?;
        let mut store = execute::open_store(cfg)?;
        f(store.as_mut())?;
        Ok(())
    }

    /// The stage's work for up; `Ok(Some(reason))` when it is skipped.
    fn up_in(
        &self,
        stage: &Stage,
        cfg: &Config,
        migrations: &[Migration],
        store: &mut dyn Store,
        began: Instant,
    ) -> Result<Option<String>, StageError> {
        let name = stage.name.value.as_str();
        let upstream = self.upstream(stage)?;
        if let Some(c) = &stage.condition {
            let mut vars = Vars::new();
            // A condition sees global env, stage env and upstream values (not the config's env).
            for (k, v) in self.inherited(stage, &BTreeSet::new(), &upstream.values) {
                vars.insert(k, v);
            }
            // `success "x"` / `failed "x"` read the outcome stage x recorded in its own store.
            let outcome = |other: &str| -> Option<String> {
                let cfg = self.projects.configs.get(other)?;
                let store = execute::open_store(cfg).ok()?;
                store
                    .last_stage_run(other)
                    .ok()
                    .flatten()
                    .map(|r| r.outcome)
            };
            match condition::evaluate(&Renderer::new(), &c.value, &vars, &outcome) {
                Ok(true) => {}
                Ok(false) => return Ok(Some(format!("condition `{}` is false", c.value.trim()))),
                Err(e) => {
                    return Err(StageError::Condition(Box::new(condition_problem(
                        name, c, &e,
                    ))));
                }
            }
        }
        if let Some((upstream, hint)) = upstream.not_executed {
            return Err(StageError::NotExecuted {
                stage: name.to_string(),
                upstream,
                hint,
            });
        }
        for (up, var) in &upstream.missing {
            tracing::warn!(
                stage = %up,
                variable = %var,
                required_by = %name,
                "variable not found in dependent stage"
            );
        }
        let inherited = self.inherited(stage, &config_names(cfg), &upstream.values);
        let mut runner = Runner::new(cfg)?;
        let mut observer = self.events.migrations(name);
        let Some(limit) = stage.timeout.as_ref().map(|t| t.value) else {
            runner.wait(cfg)?;
            let opts = UpOptions {
                to: None,
                dry_run: false,
                inherited,
            };
            runner.up(cfg, migrations, store, &opts, observer.as_mut())?;
            return Ok(None);
        };
        let deadline = began + limit;
        runner.wait(cfg)?;
        let applied = store.applied()?;
        let pending: Vec<u64> = plan_up(migrations, &applied, None)
            .iter()
            .map(|m| m.version)
            .collect();
        for (i, version) in pending.iter().enumerate() {
            let timeout = |cause: Option<String>| StageError::Timeout {
                limit,
                done: i,
                total: pending.len(),
                cause,
            };
            if i > 0
                && let Some(delay) = cfg.delay_between_migrations
            {
                std::thread::sleep(delay.min(deadline.saturating_duration_since(Instant::now())));
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timeout(None));
            }
            runner.limit_request_time(remaining)?;
            let opts = UpOptions {
                to: Some(*version),
                dry_run: false,
                inherited: inherited.clone(),
            };
            if let Err(e) = runner.up(cfg, migrations, store, &opts, observer.as_mut()) {
                if Instant::now() >= deadline {
                    return Err(timeout(Some(e.to_string())));
                }
                return Err(e.into());
            }
        }
        if Instant::now() > deadline {
            return Err(StageError::Timeout {
                limit,
                done: pending.len(),
                total: pending.len(),
                cause: None,
            });
        }
        Ok(None)
    }

    /// Roll one stage back to `to` (0 = everything), record how it ended, report it.
    fn stage_down(&self, name: &str, to: u64, reason: Option<&str>) -> StageReport {
        let began = Instant::now();
        let started = now_rfc3339();
        let mut report = StageReport::new(name, Direction::Down, self.on_failure(name));
        report.baseline = to;
        report.reason = reason.map(str::to_string);
        self.events.stage_started(name, Direction::Down);
        // A stage that never ran has nothing to roll back; inspecting it creates nothing.
        if let Some(cfg) = self.projects.configs.get(name)
            && matches!(cfg.store, StoreConfig::Sqlite(_))
            && matches!(peek_store(cfg), Ok(None))
        {
            report.outcome = StageOutcome::RolledBack;
            report.reason = Some("nothing to roll back: the stage has no state".into());
            report.duration = began.elapsed();
            self.events.stage_finished(&report);
            return report;
        }
        let result = self.prepared(name).and_then(|(stage, cfg)| {
            let migrations = self
                .projects
                .migrations
                .get(name)
                .ok_or_else(|| StageError::NotPrepared(name.to_string()))?;
            self.with_store(cfg, name, "down", |store| {
                let before: Vec<u64> = store.applied()?.iter().map(|a| a.version).collect();
                let result = self.down_in(stage, cfg, migrations, store, to, began);
                let after: Vec<u64> = store.applied()?.iter().map(|a| a.version).collect();
                report.versions = before
                    .iter()
                    .copied()
                    .filter(|v| !after.contains(v))
                    .collect();
                let values = exported(store)?;
                report.exported = values.len();
                lock(&self.memory).insert(name.to_string(), values);
                match result {
                    Ok(()) => report.outcome = StageOutcome::RolledBack,
                    Err(e) => report.fail(e),
                }
                report.duration = began.elapsed();
                store.record_stage_run(&stage_run(name, &report, &started))?;
                Ok(())
            })
        });
        if let Err(e) = result {
            report.fail(e);
        }
        report.duration = began.elapsed();
        if report.outcome == StageOutcome::RolledBack {
            tracing::info!(
                stage = %name,
                rolled_back = report.versions.len(),
                "stage rolled back successfully"
            );
        }
        self.events.stage_finished(&report);
        report
    }

    fn down_in(
        &self,
        stage: &Stage,
        cfg: &Config,
        migrations: &[Migration],
        store: &mut dyn Store,
        to: u64,
        began: Instant,
    ) -> Result<(), StageError> {
        let name = stage.name.value.as_str();
        // Rolling back never needs upstream stages to have run; what they export is offered.
        let upstream = self.upstream(stage).unwrap_or_default();
        let inherited = self.inherited(stage, &config_names(cfg), &upstream.values);
        let mut runner = Runner::new(cfg)?;
        let mut observer = self.events.migrations(name);
        let Some(limit) = stage.timeout.as_ref().map(|t| t.value) else {
            let opts = DownOptions {
                to,
                dry_run: false,
                inherited,
            };
            runner.down(cfg, migrations, store, &opts, observer.as_mut())?;
            return Ok(());
        };
        let deadline = began + limit;
        let versions = plan_down(&store.applied()?, to);
        for (i, _) in versions.iter().enumerate() {
            let timeout = |cause: Option<String>| StageError::Timeout {
                limit,
                done: i,
                total: versions.len(),
                cause,
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(timeout(None));
            }
            runner.limit_request_time(remaining)?;
            // Leaves the next applied version in place: exactly one is rolled back.
            let opts = DownOptions {
                to: versions.get(i + 1).copied().unwrap_or(to),
                dry_run: false,
                inherited: inherited.clone(),
            };
            if let Err(e) = runner.down(cfg, migrations, store, &opts, observer.as_mut()) {
                if Instant::now() >= deadline {
                    return Err(timeout(Some(e.to_string())));
                }
                return Err(e.into());
            }
        }
        Ok(())
    }
}

/// The record of a stage run kept in the stage's store.
fn stage_run(name: &str, report: &StageReport, started: &str) -> StageRun {
    StageRun {
        stage: name.to_string(),
        outcome: report.outcome.as_str().to_string(),
        started_at: started.to_string(),
        finished_at: now_rfc3339(),
        duration_ms: u64::try_from(report.duration.as_millis()).unwrap_or(u64::MAX),
        error: report.detail(),
        exported: report.exported,
    }
}

fn config_names(cfg: &Config) -> BTreeSet<&str> {
    cfg.env.iter().map(|v| v.name.as_str()).collect()
}
