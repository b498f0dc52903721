//! `apirun stages up|down|status|validate`: multi-stage runs from a stages.yaml.
//!
//! What is printed: progress on stdout, one line per event, each line of a stage prefixed with
//! `[stage]` so parallel stages stay readable (on a terminal, a spinner per running stage shows
//! the request in flight); a summary at the end; logs (the INFO `stage executed successfully`,
//! the WARN `variable not found in dependent stage`) on stderr; errors on stderr as
//! `Error: ...` with the file:line of the mistake, worded as the troubleshooting guide quotes
//! them. With `--output json`, stdout holds one JSON document instead (see docs/cli.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::ProgressBar;
use serde_json::{Value, json};

use super::Cli;
use super::exit::{self, Failure};
use super::output::{self, Tone, paint};
use super::progress::Progress;
use crate::config;
use crate::execute::{self, ExecError, Observer, RenderedStep, StepResult};
use crate::migration::Migration;
use crate::report::junit;
use crate::report::run::{MigrationReport, StageCounts, StageRunReport, StagesRun, millis};
use crate::report::{Diagnostic, mask};
use crate::stages::{
    self, DiagramFormat, Direction, Executor, Graph, Plan, Projects, RunReport, Selection,
    StageError, StageEvents, StageOutcome, StageReport, StageStatus, fmt_duration,
};
use crate::state::{self, Outcome};

/// The `stages` subcommands.
#[derive(Debug, Subcommand)]
pub enum StagesCommand {
    /// Run stages in dependency order (independent stages in parallel, up to
    /// `global.max_concurrent_stages`).
    #[command(
        after_help = "Examples:\n  apirun stages up\n  apirun stages up --dry-run\n  apirun stages up --to setup\n  apirun stages up --stage preprocessing\n  apirun stages up --from setup --to preprocessing   # both ends included"
    )]
    Up(StagesRunArgs),
    /// Roll back stages in reverse dependency order: every applied migration of each stage.
    #[command(
        after_help = "Examples:\n  apirun stages down --dry-run\n  apirun stages down --stage cleanup\n  apirun stages down --from validation --to preprocessing   # in rollback order, both ends included"
    )]
    Down(StagesRunArgs),
    /// Show each stage's applied and pending migrations, last run and exported values
    /// (`--verbose`: also the values, secrets masked).
    #[command(
        after_help = "Examples:\n  apirun stages status\n  apirun stages status --verbose | grep extracted_vars\n  apirun stages status --verbose | grep -A 5 setup"
    )]
    Status,
    /// Check stages.yaml and every stage's config and migrations, without sending anything.
    #[command(after_help = "Example:\n  apirun stages validate --config stages.yaml")]
    Validate,
    /// Print the stage graph as Mermaid or Graphviz DOT, each stage annotated with its state.
    #[command(
        after_help = "Examples:\n  apirun stages graph > stages.mmd\n  apirun stages graph --format dot | dot -Tsvg > stages.svg\n  apirun stages graph --no-state   # the structure only, without reading any store"
    )]
    Graph(GraphArgs),
}

/// How `stages graph` draws.
#[derive(Debug, Args, Clone)]
pub struct GraphArgs {
    /// The language: `mermaid` (renders in GitHub Markdown) or `dot` (Graphviz).
    #[arg(long, value_enum, default_value_t = GraphFormat::Mermaid)]
    pub format: GraphFormat,
    /// Draw the structure only: do not read the stages' stores.
    #[arg(long)]
    pub no_state: bool,
}

/// The languages of `stages graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid `flowchart`.
    Mermaid,
    /// Graphviz DOT.
    Dot,
}

/// Which stages `stages up|down` runs, and whether for real.
#[derive(Debug, Args, Clone)]
pub struct StagesRunArgs {
    /// Run only this stage (its upstream stages must have run: their values come from their
    /// state).
    #[arg(long, value_name = "STAGE", conflicts_with_all = ["from", "to"])]
    pub stage: Option<String>,
    /// Start at this stage (included).
    #[arg(long, value_name = "STAGE")]
    pub from: Option<String>,
    /// Stop after this stage (included).
    #[arg(long, value_name = "STAGE")]
    pub to: Option<String>,
    /// Print the plan (batches and pending migrations of each stage); send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write a JUnit XML report here: one test case per migration step, skipped stages
    /// as skipped cases.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
}

/// Run a `stages` subcommand.
pub fn run(cli: &Cli, command: &StagesCommand) -> Result<(), Failure> {
    match command {
        StagesCommand::Up(a) => run_stages(cli, a, Direction::Up),
        StagesCommand::Down(a) => run_stages(cli, a, Direction::Down),
        StagesCommand::Status => status(cli),
        StagesCommand::Validate => validate(cli),
        StagesCommand::Graph(a) => graph(cli, a),
    }
}

/// `--config`, for `stages` defaulting to ./stages.yaml.
fn stages_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(|| PathBuf::from("stages.yaml"))
}

/// A line of a command's result (text mode; printed even with `--quiet`).
fn line(text: &str) {
    output::result(text);
}

/// Mistakes in the user's files, each rendered as `Error: <message>` with its location, the
/// source line and a hint (the guide quotes errors with `Error: `).
fn problems(diagnostics: Vec<Diagnostic>) -> Failure {
    let count = diagnostics.len();
    let mut text = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        let rendered = d.render();
        let body = rendered.strip_prefix("error: ").unwrap_or(&rendered);
        if i > 0 {
            text.push_str("Error: ");
        }
        text.push_str(body);
    }
    if count > 1 {
        text.push_str(&format!("{count} errors"));
    }
    let mut f = Failure::new(exit::USAGE, text.trim_end());
    f.located = diagnostics;
    f
}

fn load_file(cli: &Cli) -> Result<stages::StagesFile, Failure> {
    stages::load(&stages_path(cli)).map_err(|e| problems(e.diagnostics()))
}

fn list(names: &[String]) -> String {
    format!("[{}]", names.join(" "))
}

// ---------------------------------------------------------------------------------------------
// up / down

fn run_stages(cli: &Cli, args: &StagesRunArgs, direction: Direction) -> Result<(), Failure> {
    let began = Instant::now();
    let file = load_file(cli)?;
    let graph = Graph::new(&file);
    let selection = Selection {
        stage: args.stage.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
    };
    let selected = stages::select(&graph, direction, &selection)
        .map_err(|e| Failure::new(exit::USAGE, e.to_string()).with_hint(e.hint()))?;
    let projects = Projects::load(&file, &selected).map_err(problems)?;
    if args.dry_run {
        let plan = stages::plan(&file, &graph, &projects, &selected, direction)?;
        if output::json() {
            output::emit_json(&plan_json(&plan, &selection));
        } else {
            print_plan(&plan, &selection);
        }
        return Ok(());
    }
    output::say(&format!(
        "stages {} ({}): stages=\"{}\"",
        direction.as_str(),
        selection.describe(),
        list(&selected)
    ));
    let events = Events::default();
    let executor = Executor::new(&file, &graph, &projects, &events);
    let report = match direction {
        Direction::Up => executor.up(&selected),
        Direction::Down => executor.down(&selected),
    };
    let duration_ms = millis(began.elapsed());
    let records = events.into_records();
    let stage_reports: Vec<StageRunReport> = report
        .stages
        .iter()
        .map(|r| stage_json(r, &records))
        .collect();
    let rolled_back: Vec<StageRunReport> = report
        .rolled_back
        .iter()
        .map(|r| stage_json(r, &records))
        .collect();
    if !output::json() {
        print_summary(&report, duration_ms);
    }
    let failure = first_failure(report);
    let junit_failure = args.report_junit.as_deref().and_then(|path| {
        let mut all = stage_reports.clone();
        all.extend(rolled_back.iter().cloned());
        let xml = mask::text(&junit::render(
            &format!("apirun stages {}", direction.as_str()),
            &junit::stage_suites(&all),
        ));
        super::commands::write_report(path, &xml).err()
    });
    if output::json() {
        output::emit_json(&StagesRun {
            command: format!("stages {}", direction.as_str()),
            ok: failure.is_none(),
            exit_code: failure.as_ref().map_or(exit::SUCCESS, |f| f.code),
            dry_run: false,
            duration_ms,
            selection: selection.describe(),
            counts: StageCounts::of(&stage_reports),
            stages: stage_reports,
            rolled_back,
            error: failure.as_ref().map(Failure::report),
        });
    }
    match (failure, junit_failure) {
        (Some(f), _) | (None, Some(f)) => Err(f),
        (None, None) => Ok(()),
    }
}

/// One stage of a run, as data.
fn stage_json(r: &StageReport, records: &BTreeMap<String, Vec<MigrationReport>>) -> StageRunReport {
    let direction = r.direction.as_str();
    StageRunReport {
        name: r.name.clone(),
        direction,
        outcome: r.outcome.as_str(),
        reason: r.reason.clone(),
        error: r.error.as_ref().map(|e| mask::text(&e.to_string())),
        duration_ms: millis(r.duration),
        versions: r.versions.clone(),
        extracted_vars: r.exported,
        on_failure: r.on_failure.as_str(),
        migrations: records
            .get(&r.name)
            .map(|all| {
                all.iter()
                    .filter(|m| m.direction == direction)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The dry-run plan, as data.
fn plan_json(plan: &Plan, selection: &Selection) -> Value {
    json!({
        "command": format!("stages {}", plan.direction.as_str()),
        "ok": true,
        "dry_run": true,
        "direction": plan.direction.as_str(),
        "selection": selection.describe(),
        "order": plan.order,
        "max_concurrent_stages": plan.max_concurrent,
        "batches": plan.batches.iter().enumerate().map(|(i, batch)| json!({
            "index": i + 1,
            "parallel": batch.len() > 1,
            "stages": batch.iter().map(|s| json!({
                "name": s.name,
                "config": s.config_path.display().to_string(),
                "state": s.state,
                "migrations": s.migrations.iter().map(|(v, f)| json!({"version": v, "file": f})).collect::<Vec<_>>(),
                "condition": s.condition,
                "notes": s.notes.iter().map(|n| mask::text(n)).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn print_plan(plan: &Plan, selection: &Selection) {
    line(&format!(
        "Execution plan ({}): {}",
        plan.direction.as_str(),
        selection.describe()
    ));
    line(&format!("stages=\"{}\"", list(&plan.order)));
    if plan.batches.is_empty() {
        line("No stages to execute");
    }
    for (i, batch) in plan.batches.iter().enumerate() {
        let names: Vec<String> = batch.iter().map(|s| s.name.clone()).collect();
        if batch.len() > 1 {
            line(&format!(
                "batch {}: {} (in parallel, at most {} at a time)",
                i + 1,
                names.join(", "),
                plan.max_concurrent
            ));
        } else {
            line(&format!("batch {}: {}", i + 1, names.join(", ")));
        }
        for s in batch {
            let what = match plan.direction {
                Direction::Up => "pending",
                Direction::Down => "to roll back",
            };
            let count = if s.migrations.is_empty() {
                format!("nothing {what}")
            } else {
                format!("{} migration(s) {what}", s.migrations.len())
            };
            line(&format!(
                "  {}: {count} (config {}, state {})",
                s.name,
                s.config_path.display(),
                s.state
            ));
            for (v, f) in &s.migrations {
                line(&format!("    {v} {f}"));
            }
            if let (Some(c), Direction::Up) = (&s.condition, plan.direction) {
                line(&format!("    condition: {c} (decided when the stage runs)"));
            }
            for n in &s.notes {
                line(&format!("    {n}"));
            }
        }
    }
    line("This is a dry run: nothing was sent and no state was changed");
}

fn print_summary(report: &RunReport, duration_ms: u64) {
    let mut rows: Vec<&StageReport> = report.stages.iter().collect();
    rows.extend(report.rolled_back.iter());
    let show = !output::quiet() || report.failed();
    if show {
        line(&paint("summary:", Tone::Strong));
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        // The failure that fails the run is rendered once, as the error on stderr.
        let rendered = report.failures().next();
        let below = |r: &StageReport| rendered.is_some_and(|f| std::ptr::eq(f, r));
        for r in &report.stages {
            line(&format!("  {}", summary_row(r, width, below(r))));
        }
        for r in &report.rolled_back {
            line(&format!(
                "  {} (rollback_on_failure)",
                summary_row(r, width, below(r))
            ));
        }
    }
    let count = |o: StageOutcome| report.stages.iter().filter(|r| r.outcome == o).count();
    let total = report.stages.len();
    let took = fmt_duration(Duration::from_millis(duration_ms));
    let text = match report.direction {
        Direction::Up if !report.failed() && count(StageOutcome::Failed) == 0 => format!(
            "all {total} stage(s) done: {} succeeded, {} skipped in {took}",
            count(StageOutcome::Succeeded),
            count(StageOutcome::Skipped)
        ),
        Direction::Down if !report.failed() && count(StageOutcome::Failed) == 0 => format!(
            "all {total} stage(s) rolled back ({} skipped) in {took}",
            count(StageOutcome::Skipped)
        ),
        _ => format!(
            "{} of {total} stage(s) failed: {} (after {took})",
            count(StageOutcome::Failed),
            report.with_outcome(StageOutcome::Failed).join(", ")
        ),
    };
    if show {
        let tone = if report.failed() {
            Tone::Bad
        } else {
            Tone::Good
        };
        line(&paint(&text, tone));
    }
}

fn summary_row(r: &StageReport, width: usize, error_below: bool) -> String {
    let tone = match r.outcome {
        StageOutcome::Succeeded | StageOutcome::RolledBack => Tone::Good,
        StageOutcome::Failed => Tone::Bad,
        StageOutcome::Skipped => Tone::Warn,
        StageOutcome::NotStarted => Tone::Muted,
    };
    let mut text = format!(
        "{:<width$}  {}  {:<7}",
        r.name,
        paint(&format!("{:<11}", r.outcome.as_str()), tone),
        fmt_duration(r.duration)
    );
    match (r.direction, r.outcome) {
        (Direction::Up, StageOutcome::Succeeded) => text.push_str(&format!(
            "  applied={} extracted_vars={}",
            list_versions(&r.versions),
            r.exported
        )),
        (Direction::Down, StageOutcome::RolledBack) => {
            text.push_str(&format!("  rolled_back={}", list_versions(&r.versions)));
        }
        _ => {}
    }
    if error_below {
        text.push_str("  (error below)");
    } else if let Some(d) = r.detail() {
        text.push_str(&format!("  ({d})"));
    }
    if r.outcome == StageOutcome::Failed && r.on_failure != stages::OnFailure::Stop {
        text.push_str(&format!(" [on_failure: {}]", r.on_failure.as_str()));
    }
    text.trim_end().to_string()
}

fn list_versions(v: &[u64]) -> String {
    format!(
        "[{}]",
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
    )
}

/// The run's failure for the one place that renders errors: the first stage whose failure
/// fails the run (or a failed rollback), with the exit code of its cause.
fn first_failure(report: RunReport) -> Option<Failure> {
    let RunReport {
        stages,
        rolled_back,
        ..
    } = report;
    let mut failing = stages
        .into_iter()
        .filter(|r| {
            r.outcome == StageOutcome::Failed && r.on_failure != stages::OnFailure::Continue
        })
        .map(|r| (r, false))
        .chain(
            rolled_back
                .into_iter()
                .filter(|r| r.outcome == StageOutcome::Failed)
                .map(|r| (r, true)),
        );
    let (r, rollback) = failing.next()?;
    let prefix = if rollback {
        format!("rollback of stage {} failed", r.name)
    } else {
        format!("stage {} failed", r.name)
    };
    let Some(err) = r.error else {
        return Some(Failure::new(exit::STEP_FAILED, prefix));
    };
    Some(stage_failure(&prefix, err))
}

fn stage_failure(prefix: &str, err: StageError) -> Failure {
    let hint = err.hint();
    let mut f = match err {
        StageError::Exec(e) => {
            let inner = Failure::from(*e);
            let message = match (&inner.message, inner.diagnostics.first()) {
                (Some(m), _) => m.clone(),
                (None, Some(d)) => d.message.clone(),
                (None, None) => String::new(),
            };
            Failure {
                message: Some(format!("{prefix}: {message}")),
                ..inner
            }
        }
        StageError::State(e) => {
            let inner = Failure::from(*e);
            Failure {
                message: Some(format!(
                    "{prefix}: {}",
                    inner.message.clone().unwrap_or_default()
                )),
                ..inner
            }
        }
        StageError::Condition(d) => Failure {
            message: Some(format!("{prefix}: {}", d.message)),
            ..Failure::input(vec![*d])
        },
        e @ StageError::NotExecuted { .. } => Failure::new(exit::USAGE, format!("{prefix}: {e}")),
        e @ StageError::Timeout { .. } => Failure::new(exit::STEP_FAILED, format!("{prefix}: {e}")),
        e @ (StageError::Upstream { .. } | StageError::NotPrepared(_)) => {
            Failure::new(exit::INTERNAL, format!("{prefix}: {e}"))
        }
    };
    if f.hint.is_none()
        && let Some(h) = hint
    {
        f = f.with_hint(h);
    }
    f
}

/// Progress printing for a stages run, and the record of each stage's migrations.
#[derive(Default)]
struct Events {
    /// Migrations of each stage in this run (up and down), in order.
    records: Mutex<BTreeMap<String, Vec<MigrationReport>>>,
    /// The spinner of each running stage (terminal only).
    spinners: Mutex<BTreeMap<String, ProgressBar>>,
}

fn locked<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Events {
    fn say(&self, text: &str) {
        output::say(text);
    }

    fn into_records(self) -> BTreeMap<String, Vec<MigrationReport>> {
        self.records.into_inner().unwrap_or_else(|p| p.into_inner())
    }
}

impl StageEvents for Events {
    fn batch_started(&self, index: usize, stages: &[String]) {
        if stages.len() > 1 {
            self.say(&format!(
                "batch {}: {} (in parallel)",
                index + 1,
                stages.join(", ")
            ));
        } else {
            self.say(&format!("batch {}: {}", index + 1, stages.join(", ")));
        }
    }

    fn stage_started(&self, stage: &str, direction: Direction) {
        let verb = match direction {
            Direction::Up => "running",
            Direction::Down => "rolling back",
        };
        self.say(&format!("[{stage}] {verb}"));
        if let Some(bar) = output::spinner(&format!("[{stage}] {verb}")) {
            locked(&self.spinners).insert(stage.to_string(), bar);
        }
    }

    fn stage_finished(&self, r: &StageReport) {
        output::finish_spinner(locked(&self.spinners).remove(&r.name));
        let when = fmt_duration(r.duration);
        let text = match r.outcome {
            StageOutcome::Succeeded => format!(
                "[{}] {} in {when}: {} migration(s) applied, extracted_vars={}",
                r.name,
                paint("succeeded", Tone::Good),
                r.versions.len(),
                r.exported
            ),
            StageOutcome::RolledBack => format!(
                "[{}] {} in {when}: {} migration(s) rolled back",
                r.name,
                paint("rolled back", Tone::Good),
                r.versions.len()
            ),
            StageOutcome::Skipped => format!(
                "[{}] {}: {}",
                r.name,
                paint("skipped", Tone::Warn),
                r.reason
                    .as_deref()
                    .unwrap_or("skipped")
                    .trim_start_matches("skipped: ")
            ),
            // Why is in the summary, or rendered once as the run's error.
            StageOutcome::Failed => {
                format!("[{}] {} after {when}", r.name, paint("failed", Tone::Bad))
            }
            StageOutcome::NotStarted => format!(
                "[{}] {}",
                r.name,
                paint(r.reason.as_deref().unwrap_or("not started"), Tone::Muted)
            ),
        };
        // A failure is worth seeing even with --quiet.
        if r.outcome == StageOutcome::Failed {
            output::always_say(&text);
        } else {
            self.say(&text);
        }
    }

    fn waiting(&self, pause: Duration) {
        self.say(&format!(
            "waiting {} (wait_between_stages)",
            fmt_duration(pause)
        ));
    }

    fn rollback_started(&self, stages: &[String]) {
        output::always_say(&format!(
            "rollback_on_failure: rolling back what this run applied, in this order: {}",
            stages.join(", ")
        ));
    }

    fn migrations(&self, stage: &str) -> Box<dyn Observer + '_> {
        let spinner = locked(&self.spinners).get(stage).cloned();
        Box::new(StageProgress {
            events: self,
            stage: stage.to_string(),
            progress: Progress::for_stage(stage, spinner),
        })
    }
}

/// Migration progress of one stage: each line prefixed with `[stage]`; what happened is handed
/// to the run's record when the stage is done with it.
struct StageProgress<'a> {
    events: &'a Events,
    stage: String,
    progress: Progress,
}

impl Observer for StageProgress<'_> {
    fn migration_started(&mut self, migration: &Migration, direction: state::Direction) {
        self.progress.migration_started(migration, direction);
    }

    fn step_started(&mut self, migration: &Migration, index: usize, step: &RenderedStep) {
        self.progress.step_started(migration, index, step);
    }

    fn step_finished(&mut self, migration: &Migration, step: &RenderedStep, result: &StepResult) {
        self.progress.step_finished(migration, step, result);
    }

    fn step_failed(&mut self, migration: &Migration, index: usize, error: &ExecError) {
        self.progress.step_failed(migration, index, error);
    }

    fn migration_finished(
        &mut self,
        migration: &Migration,
        direction: state::Direction,
        outcome: &Outcome,
    ) {
        self.progress
            .migration_finished(migration, direction, outcome);
    }
}

impl Drop for StageProgress<'_> {
    fn drop(&mut self) {
        let done = self.progress.recorder.take().migrations;
        locked(&self.events.records)
            .entry(self.stage.clone())
            .or_default()
            .extend(done);
    }
}

// ---------------------------------------------------------------------------------------------
// status

fn status(cli: &Cli) -> Result<(), Failure> {
    let file = load_file(cli)?;
    let graph = Graph::new(&file);
    let verbose = cli.verbose > 0;
    let all = stages::status(&file, &graph);
    let broken: Vec<String> = all
        .iter()
        .filter_map(|s| s.problem.as_ref().map(|p| format!("stage {}: {p}", s.name)))
        .collect();
    let failure = (!broken.is_empty()).then(|| {
        Failure::new(exit::USAGE, broken.join("\nError: "))
            .with_hint("`apirun stages validate` shows every problem with its file and line")
    });
    if output::json() {
        output::emit_json(&json!({
            "command": "stages status",
            "ok": failure.is_none(),
            "file": file.path.display().to_string(),
            "stages": all.iter().map(|s| status_json(s, verbose)).collect::<Vec<_>>(),
            "error": failure.as_ref().map(Failure::report),
        }));
        return match failure {
            Some(f) => Err(f),
            None => Ok(()),
        };
    }
    line(&format!(
        "Stages status ({}): stages=\"[{}]\"",
        file.path.display(),
        all.iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for s in &all {
        print_stage_status(s, verbose);
    }
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

/// One stage of `stages status`, as data. Exported values only with `--verbose` (masked), as
/// in the text.
fn status_json(s: &StageStatus, verbose: bool) -> Value {
    let values = verbose.then(|| {
        s.exported
            .iter()
            .map(|(k, v)| {
                let shown = if mask::is_sensitive_key(k) {
                    mask::MASK.to_string()
                } else {
                    mask::text(v)
                };
                (k.clone(), Value::String(shown))
            })
            .collect::<serde_json::Map<String, Value>>()
    });
    json!({
        "name": s.name,
        "status": s.last_run.as_ref().map_or("never_run", |r| r.outcome.as_str()),
        "config": s.config_path.display().to_string(),
        "state": s.state,
        "depends_on": s.depends_on,
        "env_from_stages": s.env_from.iter().map(|(stage, vars)| json!({"stage": stage, "vars": vars})).collect::<Vec<_>>(),
        "applied": s.applied,
        "pending": s.pending,
        "extracted_vars": s.exported.len(),
        "exported": s.exported.keys().collect::<Vec<_>>(),
        "values": values,
        "last_run": s.last_run.as_ref().map(|r| json!({
            "outcome": r.outcome,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "duration_ms": r.duration_ms,
            "error": r.error.as_deref().map(mask::text),
        })),
        "problem": s.problem.as_deref().map(mask::text),
    })
}

// ---------------------------------------------------------------------------------------------
// graph

fn graph(cli: &Cli, args: &GraphArgs) -> Result<(), Failure> {
    let file = load_file(cli)?;
    let graph = Graph::new(&file);
    let statuses = (!args.no_state).then(|| stages::status(&file, &graph));
    let format = match args.format {
        GraphFormat::Mermaid => DiagramFormat::Mermaid,
        GraphFormat::Dot => DiagramFormat::Dot,
    };
    let text = stages::render_diagram(&file, &graph, statuses.as_deref(), format);
    if output::json() {
        output::emit_json(&json!({
            "command": "stages graph",
            "ok": true,
            "format": match format {
                DiagramFormat::Mermaid => "mermaid",
                DiagramFormat::Dot => "dot",
            },
            "diagram": text,
        }));
    } else {
        print!("{}", mask::text(&text));
    }
    Ok(())
}

fn print_stage_status(s: &StageStatus, verbose: bool) {
    let mut head = format!("stage={}", s.name);
    match &s.last_run {
        Some(r) => head.push_str(&format!(
            " status={} last_run={} duration={}",
            r.outcome,
            r.finished_at,
            fmt_duration(Duration::from_millis(r.duration_ms))
        )),
        None => head.push_str(" status=never_run"),
    }
    head.push_str(&format!(
        " applied={} pending={} extracted_vars={}",
        s.applied.len(),
        s.pending.len(),
        s.exported.len()
    ));
    line(&head);
    if verbose {
        // Exported values first, right under the stage line: `grep -A 5 <stage>` shows them.
        for (k, v) in &s.exported {
            let shown = if mask::is_sensitive_key(k) {
                mask::MASK.to_string()
            } else {
                mask::text(v)
            };
            line(&format!("    {k} = {shown}"));
        }
    }
    if let Some(p) = &s.problem {
        line(&format!("  error: {p}"));
    }
    if let Some(e) = s.last_run.as_ref().and_then(|r| r.error.as_ref()) {
        line(&format!("  reason: {e}"));
    }
    if !verbose {
        return;
    }
    line(&format!("  config: {}", s.config_path.display()));
    if let Some(state) = &s.state {
        line(&format!("  state: {state}"));
    }
    line(&format!(
        "  migrations: applied {} pending {}",
        list_versions(&s.applied),
        list_versions(&s.pending)
    ));
    if let Some(r) = &s.last_run {
        line(&format!(
            "  last run: {} from {} to {} (duration={})",
            r.outcome,
            r.started_at,
            r.finished_at,
            fmt_duration(Duration::from_millis(r.duration_ms))
        ));
    }
    line(&format!(
        "  depends_on: {}",
        if s.depends_on.is_empty() {
            "-".to_string()
        } else {
            s.depends_on.join(", ")
        }
    ));
    for (up, vars) in &s.env_from {
        line(&format!("  env_from_stages: {up} [{}]", vars.join(" ")));
    }
}

// ---------------------------------------------------------------------------------------------
// validate

fn validate(cli: &Cli) -> Result<(), Failure> {
    let path = stages_path(cli);
    let (file, mut found) = stages::decode(&path).map_err(|e| problems(e.diagnostics()))?;
    let mut migrations = 0;
    let mut notes = Vec::new();
    let mut state_files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for stage in &file.stages {
        if !stage.config_path.is_file() {
            continue; // already reported by decode
        }
        let name = &stage.name.value;
        match config::load(&stage.config_path) {
            Ok(cfg) => {
                if let config::StoreConfig::Sqlite(s) = &cfg.store {
                    state_files
                        .entry(s.path.display().to_string())
                        .or_default()
                        .push(name.clone());
                }
                let report = execute::validate_project_with(&cfg, &given_vars(&file, stage))?;
                migrations += report.migrations;
                notes.extend(report.notes.iter().map(|n| format!("stage {name}: {n}")));
                found.extend(report.diagnostics);
            }
            Err(e) => found.extend(e.diagnostics()),
        }
    }
    notes.extend(unexported_vars(&file));
    for (file_path, names) in &state_files {
        if names.len() > 1 {
            let at = file
                .stage(&names[1])
                .map(|s| s.config_path_written.location.clone());
            found.push(
                Diagnostic::new(
                    at,
                    format!(
                        "stages {} and {} share the state file {file_path}",
                        names[..names.len() - 1].join(", "),
                        names[names.len() - 1]
                    ),
                )
                .with_hint(
                    "each stage needs its own state (its exported values are its store's values): give each config its own `store.path` or migrate_dir",
                ),
            );
        }
    }
    for n in &notes {
        output::always_say(n);
    }
    if !found.is_empty() {
        return Err(problems(found));
    }
    let order = Graph::new(&file).order();
    if output::json() {
        output::emit_json(&json!({
            "command": "stages validate",
            "ok": true,
            "file": path.display().to_string(),
            "stages": file.stages.len(),
            "migrations": migrations,
            "order": order,
            "notes": notes.iter().map(|n| mask::text(n)).collect::<Vec<_>>(),
        }));
        return Ok(());
    }
    line(&format!(
        "configuration is valid: {} stage(s), {migrations} migration file(s); order stages=\"[{}]\"",
        file.stages.len(),
        order.join(" ")
    ));
    Ok(())
}

/// Variables a stage's migrations get from outside its config: `global.env`, the stage's
/// `env`, and the values it takes from upstream stages.
fn given_vars(file: &stages::StagesFile, stage: &stages::Stage) -> BTreeSet<String> {
    file.global
        .env
        .iter()
        .chain(stage.env.iter())
        .map(|(k, _)| k.clone())
        .chain(
            stage
                .env_from_stages
                .iter()
                .flat_map(|e| e.vars.iter().map(|v| v.value.clone())),
        )
        .collect()
}

/// Warnings for `env_from_stages` variables that no migration of the upstream stage extracts:
/// at run time they are the WARN `variable not found in dependent stage`.
fn unexported_vars(file: &stages::StagesFile) -> Vec<String> {
    let mut extracted: BTreeMap<&str, Option<BTreeSet<String>>> = BTreeMap::new();
    let mut out = Vec::new();
    for stage in &file.stages {
        for e in &stage.env_from_stages {
            let up = e.stage.value.as_str();
            let names = extracted.entry(up).or_insert_with(|| {
                let s = file.stage(up)?;
                let cfg = config::load(&s.config_path).ok()?;
                let migrations = crate::migration::load_dir(&cfg.migrate_dir).ok()?;
                Some(
                    migrations
                        .iter()
                        .flat_map(|m| m.up.iter())
                        .flat_map(|step| step.response.env_from.iter().map(|(n, _)| n.clone()))
                        .collect(),
                )
            });
            let Some(names) = names else {
                continue;
            };
            for v in &e.vars {
                if !names.contains(&v.value) {
                    out.push(format!(
                        "warning: {}: stage {} takes `{}` from {up}, but no migration of {up} extracts it (response.env_from); at run time: variable not found in dependent stage",
                        v.location,
                        stage.name.value,
                        v.value
                    ));
                }
            }
        }
    }
    out
}
