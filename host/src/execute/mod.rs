//! Plan and run migrations: render each step, run it through its plugin, record the result.
//!
//! The plan ("applied vs declared") is a pure function of the migration files and the store's
//! applied versions ([`plan_up`], [`plan_down`]). Execution records every migration as started
//! before its first request and as succeeded or failed after its last, so a crash leaves an
//! explicit in-doubt record. The success of one migration and the start of the next share one
//! commit: a run costs one durable commit per migration.

mod check;
mod project;
mod render;
mod wait;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::Credentials;
use crate::config::Config;
use crate::http::{ClientSettings, HttpClient, StepOutbound};
use crate::migration::{Declared, Migration, Step};
use crate::plugin::registry::{RegistryError, StepTypes};
use crate::plugin::{self, Runtime, StepFailure};
use crate::report::{Diagnostic, mask};
use crate::state::{Applied, Direction, Outcome, RunRecord, RunStart, StateError, Store};
use crate::template::{Renderer, Vars};

pub use check::{KnownVars, check_migrations};
pub use project::{
    ValidationReport, checksum_drift, lock_path, open_store, validate_project,
    validate_project_with,
};
pub use render::{RenderedStep, auth_references, render_step, templated_fields};
pub use wait::wait_for;

/// Why a run stopped.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A template or a file in the project is wrong; nothing was sent for this step.
    #[error("{0}")]
    Input(Diagnostic),
    /// A step ran and failed.
    #[error("migration {file} failed at step {step}: {failure}")]
    Step {
        version: u64,
        file: String,
        step: String,
        failure: StepFailure,
    },
    /// A previous run died mid-migration; its effect is unknown.
    #[error("{}", in_doubt_message(.0))]
    InDoubt(Vec<RunRecord>),
    #[error("{0}")]
    State(#[from] StateError),
    /// `down` reached a migration that has no down section or no file.
    #[error("{0}")]
    CannotRollBack(String),
    #[error("{0}")]
    Setup(String),
    /// `wait` gave up: the API did not come up in time.
    #[error("{0}")]
    Wait(String),
    /// A credential could not be acquired; nothing was sent for the step that needs it.
    #[error("{0}")]
    Auth(String),
}

fn in_doubt_message(runs: &[RunRecord]) -> String {
    let list = runs
        .iter()
        .map(|r| {
            format!(
                "version {} ({}{}, run {} started {})",
                r.version,
                r.direction.as_str(),
                r.name
                    .as_deref()
                    .map(|n| format!(" {n}"))
                    .unwrap_or_default(),
                r.id,
                r.ran_at
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "a previous run stopped in the middle of a migration, so its effect on the API is unknown: {list}. \
         Check the API, then record what happened with `apirun resolve <version> --applied` or \
         `apirun resolve <version> --not-applied`"
    )
}

/// Something the runner reports as it goes (printed by the CLI, collected by tests).
pub trait Observer {
    fn migration_started(&mut self, _migration: &Migration, _direction: Direction) {}
    fn step_finished(
        &mut self,
        _migration: &Migration,
        _step: &RenderedStep,
        _result: &StepResult,
    ) {
    }
    fn migration_finished(
        &mut self,
        _migration: &Migration,
        _direction: Direction,
        _outcome: &Outcome,
    ) {
    }
    /// In a dry run: a step that would be sent.
    fn dry_run_step(&mut self, _migration: &Migration, _step: &RenderedStep) {}
    /// A step's request is about to go out (`index` counts from 0): the CLI shows a spinner
    /// until the step finishes or fails.
    fn step_started(&mut self, _migration: &Migration, _index: usize, _step: &RenderedStep) {}
    /// The step at `index` failed (also before its request, e.g. a template or a credential);
    /// the migration's `migration_finished` follows.
    fn step_failed(&mut self, _migration: &Migration, _index: usize, _error: &ExecError) {}
}

/// An observer that reports nothing.
#[derive(Debug, Default)]
pub struct Silent;
impl Observer for Silent {}

/// What one step returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepResult {
    pub outputs: Vec<(String, String)>,
    pub status: Option<u16>,
    pub requests: u32,
    pub duration: Duration,
}

/// One migration of a run, as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationResult {
    pub version: u64,
    pub file: PathBuf,
    pub direction: Direction,
    pub outcome: Outcome,
    pub succeeded: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub results: Vec<MigrationResult>,
    /// Variables extracted in this run, by name (last writer wins).
    pub extracted: BTreeMap<String, String>,
    pub dry_run: bool,
}

/// How to run `up`.
#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    /// Apply only versions up to and including this one.
    pub to: Option<u64>,
    /// Render and print, send nothing, record nothing.
    pub dry_run: bool,
    /// Variables from outside the project (stage env, upstream stages), below stored values.
    pub inherited: Vec<(String, String)>,
}

/// How to run `down`.
#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    /// Roll back every applied version above this one (`0` = all).
    pub to: u64,
    pub dry_run: bool,
    pub inherited: Vec<(String, String)>,
}

/// Pending migrations for `up`: every declared version not applied, up to `to`, ascending.
/// A file added later with a version below the newest applied one is pending too.
/// Works on fully loaded migrations and on files only scanned for `status` alike.
pub fn plan_up<'a, M: Declared>(
    migrations: &'a [M],
    applied: &[Applied],
    to: Option<u64>,
) -> Vec<&'a M> {
    let done: BTreeSet<u64> = applied.iter().map(|a| a.version).collect();
    migrations
        .iter()
        .filter(|m| !done.contains(&m.version()) && to.is_none_or(|t| m.version() <= t))
        .collect()
}

/// Versions to roll back for `down --to`: applied versions above `to`, newest first.
pub fn plan_down(applied: &[Applied], to: u64) -> Vec<u64> {
    let mut v: Vec<u64> = applied
        .iter()
        .map(|a| a.version)
        .filter(|v| *v > to)
        .collect();
    v.sort_unstable_by(|a, b| b.cmp(a));
    v
}

/// Everything a run needs that is built once: the wasm runtime, the built-in plugin, the
/// HTTP client and the template engine.
pub struct Runner {
    step_types: StepTypes,
    credentials: Credentials,
    client: HttpClient,
    renderer: Renderer,
    save_response_body: bool,
    render_body_default: bool,
    delay: Duration,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("step_types", &self.step_types)
            .finish()
    }
}

/// The process-wide wasm runtime (one engine per process).
pub fn shared_runtime() -> Result<Arc<Runtime>, ExecError> {
    static RUNTIME: std::sync::OnceLock<Result<Arc<Runtime>, String>> = std::sync::OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Runtime::new(plugin::ComponentCache::new(Some(
                plugin::cache::default_dir(),
            )))
            .map(Arc::new)
            .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(ExecError::Setup)
}

impl Runner {
    /// Build a runner for a project's config: its step types (built-in and registered
    /// plugins, each with its policy) and its HTTP client.
    pub fn new(config: &Config) -> Result<Self, ExecError> {
        let runtime = shared_runtime()?;
        let step_types = StepTypes::from_config(&runtime, config).map_err(|e| match e {
            RegistryError::Config(d) => ExecError::Input(d),
            RegistryError::Load(l) => ExecError::Setup(l.to_string()),
        })?;
        let settings = crate::config::client_settings(config);
        let client = HttpClient::new(settings).map_err(|e| ExecError::Setup(e.to_string()))?;
        let mut auth_policy = crate::http::HostPolicy::allow_all("auth");
        if let Some(rules) = crate::config::allowed_hosts(config).map_err(ExecError::Input)? {
            auth_policy = auth_policy.restrict(rules);
        }
        let credentials = Credentials::new(config, client.clone(), auth_policy);
        Ok(Self {
            step_types,
            credentials,
            client,
            renderer: Renderer::new(),
            save_response_body: crate::config::save_response_body(config),
            render_body_default: config.render_body,
            delay: config.delay_between_migrations.unwrap_or_default(),
        })
    }

    /// A runner with only the built-in step types and default settings, for tests and
    /// benchmarks.
    pub fn with_settings(settings: ClientSettings) -> Result<Self, ExecError> {
        let runtime = shared_runtime()?;
        let step_types =
            StepTypes::builtin(&runtime, None).map_err(|e| ExecError::Setup(e.to_string()))?;
        let client = HttpClient::new(settings).map_err(|e| ExecError::Setup(e.to_string()))?;
        Ok(Self {
            step_types,
            credentials: Credentials::none(client.clone()),
            client,
            renderer: Renderer::new(),
            save_response_body: false,
            render_body_default: true,
            delay: Duration::ZERO,
        })
    }

    /// Poll the config's `wait` URL until the API answers (no-op without `wait`).
    pub fn wait(&self, config: &Config) -> Result<(), ExecError> {
        let mut policy = crate::http::HostPolicy::allow_all("wait");
        if let Some(rules) = crate::config::allowed_hosts(config).map_err(ExecError::Input)? {
            policy = policy.restrict(rules);
        }
        wait_for(config, &self.client, &policy)
    }

    /// The step types this runner can run.
    pub fn step_types(&self) -> &StepTypes {
        &self.step_types
    }

    pub fn renderer(&self) -> &Renderer {
        &self.renderer
    }

    /// Bound every request this runner sends from now on to at most `limit` (a stage's
    /// remaining time under its `timeout`): the HTTP client is blocking, so a stage timeout is
    /// enforced between migrations and through this bound on each migration request. Requests
    /// for auth tokens keep the configured bounds.
    pub fn limit_request_time(&mut self, limit: Duration) -> Result<(), ExecError> {
        let limit = limit.max(Duration::from_millis(1));
        let mut settings = self.client.settings().clone();
        settings.request_timeout = settings.request_timeout.min(limit);
        settings.connect_timeout = settings.connect_timeout.min(limit);
        self.client = HttpClient::new(settings).map_err(|e| ExecError::Setup(e.to_string()))?;
        Ok(())
    }

    /// The variables a migration sees before its own steps run: config env, then inherited
    /// values (stages), then values extracted by applied migrations (older versions first, so
    /// the newest wins), then values extracted earlier in this run.
    pub fn base_vars(
        &self,
        config: &Config,
        inherited: &[(String, String)],
        stored: &[(u64, String, String)],
        session: &BTreeMap<String, String>,
    ) -> Vars {
        let mut vars = Vars::new();
        for (name, value) in crate::config::env_pairs(config) {
            vars.insert(name, value);
        }
        for (name, value) in inherited {
            vars.insert(name.clone(), value.clone());
        }
        for (_, name, value) in stored {
            vars.insert(name.clone(), value.clone());
        }
        for (name, value) in session {
            vars.insert(name.clone(), value.clone());
        }
        vars
    }

    /// Apply pending migrations in version order.
    pub fn up(
        &self,
        config: &Config,
        migrations: &[Migration],
        store: &mut dyn Store,
        opts: &UpOptions,
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, ExecError> {
        let in_doubt = store.in_doubt()?;
        if !in_doubt.is_empty() {
            return Err(ExecError::InDoubt(in_doubt));
        }
        let applied = store.applied()?;
        let stored = store.stored_env()?;
        let pending = plan_up(migrations, &applied, opts.to);
        let mut summary = RunSummary {
            dry_run: opts.dry_run,
            ..RunSummary::default()
        };
        // `base_vars` with the values this run extracted so far: built once and kept up to
        // date (those values come last, so inserting each as it is extracted gives the same
        // variables) rather than rebuilt for every migration of a long run.
        let mut base = self.base_vars(config, &opts.inherited, &stored, &BTreeMap::new());
        self.preflight(config, &pending, &base)?;
        // The run id of the migration about to run when the previous commit recorded its start.
        let mut begun: Option<i64> = None;
        for (i, migration) in pending.iter().enumerate() {
            if i > 0 && !self.delay.is_zero() && !opts.dry_run {
                std::thread::sleep(self.delay);
            }
            observer.migration_started(migration, Direction::Up);
            if opts.dry_run {
                let extracted =
                    self.dry_run_steps(migration, &migration.up, base.clone(), observer)?;
                for (k, v) in extracted {
                    base.insert(k, v);
                }
                continue;
            }
            let next = pending.get(i + 1).copied();
            let (result, next_begun) = self.run_recorded(
                store,
                migration,
                Direction::Up,
                &base,
                begun.take(),
                next,
                observer,
            )?;
            begun = next_begun;
            for (k, v) in result.outcome.env.iter().cloned() {
                summary.extracted.insert(k.clone(), v.clone());
                base.insert(k, v);
            }
            summary.results.push(result);
        }
        Ok(summary)
    }

    /// Roll back applied versions above `to`, newest first.
    pub fn down(
        &self,
        config: &Config,
        migrations: &[Migration],
        store: &mut dyn Store,
        opts: &DownOptions,
        observer: &mut dyn Observer,
    ) -> Result<RunSummary, ExecError> {
        let in_doubt = store.in_doubt()?;
        if !in_doubt.is_empty() {
            return Err(ExecError::InDoubt(in_doubt));
        }
        let applied = store.applied()?;
        let stored = store.stored_env()?;
        let by_version: BTreeMap<u64, &Migration> =
            migrations.iter().map(|m| (m.version, m)).collect();
        let versions = plan_down(&applied, opts.to);
        // Refuse before touching anything if some version cannot be rolled back.
        for v in &versions {
            match by_version.get(v) {
                None => {
                    return Err(ExecError::CannotRollBack(format!(
                        "version {v} is applied but no migration file has that version; \
                         restore the file or choose a later --to"
                    )));
                }
                Some(m) if m.down.is_empty() => {
                    return Err(ExecError::CannotRollBack(format!(
                        "{} has no `down` section, so version {v} cannot be rolled back; \
                         add a down section or choose --to {v}",
                        m.path.display()
                    )));
                }
                Some(_) => {}
            }
        }
        let mut summary = RunSummary {
            dry_run: opts.dry_run,
            ..RunSummary::default()
        };
        // The run id of the migration about to roll back when the previous commit recorded
        // its start.
        let mut begun: Option<i64> = None;
        for (i, &v) in versions.iter().enumerate() {
            let migration = by_version[&v];
            // A rollback sees everything that was extracted, its own version's values last.
            let mut own: Vec<(u64, String, String)> = stored
                .iter()
                .filter(|(sv, _, _)| *sv != v)
                .cloned()
                .collect();
            own.extend(stored.iter().filter(|(sv, _, _)| *sv == v).cloned());
            let base = self.base_vars(config, &opts.inherited, &own, &BTreeMap::new());
            observer.migration_started(migration, Direction::Down);
            if opts.dry_run {
                self.dry_run_steps(migration, &migration.down, base, observer)?;
                continue;
            }
            let next = versions
                .get(i + 1)
                .and_then(|nv| by_version.get(nv))
                .copied();
            let (result, next_begun) = self.run_recorded(
                store,
                migration,
                Direction::Down,
                &base,
                begun.take(),
                next,
                observer,
            )?;
            begun = next_begun;
            summary.results.push(result);
        }
        Ok(summary)
    }

    /// Run one migration's steps between its two records: started (already recorded when
    /// `begun` holds its run id, else recorded now) and succeeded or failed. On success,
    /// returns its result (for up, `outcome.env` holds the values it extracted) and, when `next` follows right
    /// away, the run id under which the next migration's start was recorded in the same
    /// commit. On failure the failure is recorded and returned.
    #[allow(clippy::too_many_arguments)]
    fn run_recorded(
        &self,
        store: &mut dyn Store,
        migration: &Migration,
        direction: Direction,
        base: &Vars,
        begun: Option<i64>,
        next: Option<&Migration>,
        observer: &mut dyn Observer,
    ) -> Result<(MigrationResult, Option<i64>), ExecError> {
        let start = RunStart {
            version: migration.version,
            direction,
            name: &migration.name,
            checksum: &migration.checksum,
        };
        let run_id = match begun {
            Some(id) => id,
            None => store.begin(start.clone())?,
        };
        let steps = match direction {
            Direction::Up => &migration.up,
            Direction::Down => &migration.down,
        };
        let began = Instant::now();
        let (done, result) = self.run_steps(migration, steps, base, observer);
        let mut outcome = Outcome {
            duration: began.elapsed(),
            status_code: done.last_status.unwrap_or(0),
            body: done.last_body.filter(|_| self.save_response_body),
            // Values extracted by a rollback are not stored: the version is going away.
            env: if direction == Direction::Up {
                done.extracted
            } else {
                Vec::new()
            },
            ..Outcome::default()
        };
        if let Err(err) = result {
            outcome.error = Some(mask::text(&err.to_string()));
            store.fail(run_id, &outcome)?;
            observer.migration_finished(migration, direction, &outcome);
            return Err(err);
        }
        let next = next.map(|m| (m.version, m.name.as_str(), m.checksum.as_str()));
        let next_begun = self.record_success(store, run_id, start, &outcome, next, direction)?;
        observer.migration_finished(migration, direction, &outcome);
        let result = MigrationResult {
            version: migration.version,
            file: migration.path.clone(),
            direction,
            outcome,
            succeeded: true,
        };
        Ok((result, next_begun))
    }

    /// Record a migration's success. When another migration of the run follows right away
    /// (`next`: its version, name and checksum; no delay configured), its start is recorded in
    /// the same transaction, so a run costs one durable commit per migration, and the next
    /// migration is still recorded as started before its first request. Returns the next
    /// migration's run id when its start was recorded.
    fn record_success(
        &self,
        store: &mut dyn Store,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
        next: Option<(u64, &str, &str)>,
        direction: Direction,
    ) -> Result<Option<i64>, ExecError> {
        match next.filter(|_| self.delay.is_zero()) {
            Some((version, name, checksum)) => {
                let next = RunStart {
                    version,
                    direction,
                    name,
                    checksum,
                };
                Ok(Some(store.succeed_and_begin(run_id, start, outcome, next)?))
            }
            None => {
                store.succeed(run_id, start, outcome)?;
                Ok(None)
            }
        }
    }

    /// Render every step of a migration without sending; values the steps would extract are
    /// stood in for by placeholders so later templates still render.
    fn dry_run_steps(
        &self,
        migration: &Migration,
        steps: &[Step],
        mut vars: Vars,
        observer: &mut dyn Observer,
    ) -> Result<Vec<(String, String)>, ExecError> {
        let mut extracted = Vec::new();
        for step in steps {
            // A dry run sends nothing, so no credential is acquired: tokens show as placeholders.
            let mut step_vars = vars.clone();
            for (name, _) in
                auth_references(&self.renderer, migration, step).map_err(ExecError::Input)?
            {
                step_vars.insert_auth(name.clone(), format!("<auth {name}>"));
            }
            let rendered = render_step(
                &self.renderer,
                migration,
                step,
                &step_vars,
                self.render_body_default,
                true,
            )
            .map_err(ExecError::Input)?;
            observer.dry_run_step(migration, &rendered);
            for (name, _) in &step.response.env_from {
                let placeholder = format!("<{name} from {}>", file_name(&migration.path));
                vars.insert(name.clone(), placeholder.clone());
                extracted.push((name.clone(), placeholder));
            }
        }
        Ok(extracted)
    }

    /// Run the steps of one migration in order; values extracted by a step are visible to the
    /// steps after it.
    fn run_steps(
        &self,
        migration: &Migration,
        steps: &[Step],
        base: &Vars,
        observer: &mut dyn Observer,
    ) -> (StepsDone, Result<(), ExecError>) {
        let mut done = StepsDone::default();
        // `base` plus the values earlier steps of this migration extracted, copied only when a
        // later step needs them.
        let mut own: Option<Vars> = None;
        for (index, step) in steps.iter().enumerate() {
            let vars = own.as_ref().unwrap_or(base);
            // Tokens go into a copy of the variables; a step without auth reads them as they are.
            let (auth_headers, with_auth) = match self.acquire(migration, step, vars) {
                Ok(acquired) => acquired,
                Err(e) => return step_failed(observer, migration, index, done, e),
            };
            let rendered = match render_step(
                &self.renderer,
                migration,
                step,
                with_auth.as_ref().unwrap_or(vars),
                self.render_body_default,
                false,
            ) {
                Ok(r) => r,
                Err(d) => {
                    return step_failed(observer, migration, index, done, ExecError::Input(d));
                }
            };
            let label = step_label(migration, step, index);
            let Some(step_type) = self.step_types.get(&rendered.step_type) else {
                let d = crate::report::Diagnostic::at(
                    step.step_type.location.clone(),
                    format!("unknown step type `{}`", rendered.step_type),
                )
                .with_hint("register it under `plugins` in config.yaml, or use `type: http`");
                return step_failed(observer, migration, index, done, ExecError::Input(d));
            };
            observer.step_started(migration, index, &rendered);
            let began = Instant::now();
            let mut attempt = 1;
            let (result, seen) = loop {
                let outbound = StepOutbound::new(
                    self.client.clone(),
                    step_type.policy.clone(),
                    auth_headers.clone(),
                    label.clone(),
                );
                let observed = outbound.observed();
                let result = step_type.plugin.run(&rendered.params, Box::new(outbound));
                let seen = observed.lock().map(|o| o.clone()).unwrap_or_default();
                match (&result, &step.retry) {
                    (Err(failure), Some(retry))
                        if attempt < retry.attempts && retryable(failure, retry, &rendered) =>
                    {
                        let pause = retry_pause(retry.backoff, attempt);
                        tracing::warn!(
                            step = %label,
                            attempt,
                            of = retry.attempts,
                            pause_ms = pause.as_millis() as u64,
                            error = %failure,
                            "step failed, retrying as configured"
                        );
                        std::thread::sleep(pause);
                        attempt += 1;
                    }
                    _ => break (result, seen),
                }
            };
            if seen.last_status.is_some() {
                done.last_status = seen.last_status;
                done.last_body = seen
                    .last_body
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
            }
            match result {
                Ok(outputs) => {
                    let step_result = StepResult {
                        outputs: outputs.clone(),
                        status: seen.last_status,
                        requests: seen.requests,
                        duration: began.elapsed(),
                    };
                    observer.step_finished(migration, &rendered, &step_result);
                    let more_steps = index + 1 < steps.len();
                    for (k, v) in outputs {
                        if more_steps {
                            own.get_or_insert_with(|| base.clone())
                                .insert(k.clone(), v.clone());
                        }
                        done.extracted.retain(|(n, _)| *n != k);
                        done.extracted.push((k, v));
                    }
                }
                Err(failure) => {
                    let err = ExecError::Step {
                        version: migration.version,
                        file: migration.path.display().to_string(),
                        step: label,
                        failure,
                    };
                    return step_failed(observer, migration, index, done, err);
                }
            }
        }
        (done, Ok(()))
    }
}

impl Runner {
    /// Acquire the credentials a step uses (once per run) and return the headers the host
    /// injects for `auth_name`, with a copy of `vars` holding their tokens for
    /// `{{.auth.NAME}}` (`None` when the step uses no credential).
    fn acquire(
        &self,
        migration: &Migration,
        step: &Step,
        vars: &Vars,
    ) -> Result<(BTreeMap<String, String>, Option<Vars>), ExecError> {
        let mut headers = BTreeMap::new();
        let references =
            auth_references(&self.renderer, migration, step).map_err(ExecError::Input)?;
        if references.is_empty() {
            return Ok((headers, None));
        }
        let mut vars = vars.clone();
        for (name, at) in references {
            let token = self.credentials.get(&name, &at).map_err(|e| match e {
                crate::auth::AuthError::Unknown(d) | crate::auth::AuthError::Config(d) => {
                    ExecError::Input(d)
                }
                other => ExecError::Auth(other.to_string()),
            })?;
            vars.insert_auth(name.clone(), token.value.clone());
            headers.insert(name, token.header);
        }
        Ok((headers, Some(vars)))
    }
}

/// Methods retried when a step's `retry` does not list methods: those whose repetition has
/// the same effect. POST and PATCH are retried only when the step names them.
const IDEMPOTENT_METHODS: &[&str] = &["GET", "HEAD", "OPTIONS", "PUT", "DELETE"];

/// Whether a failed step may be tried again under its `retry` settings: a transport failure
/// (not a policy denial or a malformed request) or a listed status, and a method that may be
/// repeated.
fn retryable(failure: &StepFailure, retry: &crate::migration::Retry, step: &RenderedStep) -> bool {
    use crate::plugin::{StepError, TransportError};
    if !step.method.is_empty() {
        let allowed = match &retry.methods {
            Some(methods) => methods.iter().any(|m| m.eq_ignore_ascii_case(&step.method)),
            None => IDEMPOTENT_METHODS.contains(&step.method.as_str()),
        };
        if !allowed {
            return false;
        }
    }
    match failure {
        StepFailure::Step(StepError::Transport(t)) => !matches!(
            t,
            TransportError::Denied(_) | TransportError::InvalidRequest(_)
        ),
        StepFailure::Step(StepError::RejectedStatus(r)) => {
            retry.statuses.iter().any(|p| p.matches(r.status))
        }
        _ => false,
    }
}

/// The pause before try `attempt + 1`: the configured backoff, doubled after each try,
/// at most a minute.
fn retry_pause(backoff: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << (attempt.saturating_sub(1)).min(16);
    backoff.saturating_mul(factor).min(Duration::from_secs(60))
}

/// Tell the observer that the step at `index` failed, and end the migration's steps with `err`.
fn step_failed(
    observer: &mut dyn Observer,
    migration: &Migration,
    index: usize,
    done: StepsDone,
    err: ExecError,
) -> (StepsDone, Result<(), ExecError>) {
    observer.step_failed(migration, index, &err);
    (done, Err(err))
}

/// What the steps of one migration produced so far.
#[derive(Debug, Default)]
struct StepsDone {
    extracted: Vec<(String, String)>,
    last_status: Option<u16>,
    last_body: Option<String>,
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// `1 (create realm)` or `2 of 3 (create realm)`: how messages name a step.
pub fn step_label(migration: &Migration, step: &Step, index: usize) -> String {
    let name = step.name.clone().unwrap_or_else(|| migration.name.clone());
    format!("{} #{} ({name})", file_name(&migration.path), index + 1)
}
