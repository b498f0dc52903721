//! `apirun stages up|down|status|validate`: multi-stage runs from a stages.yaml.
//!
//! What is printed: progress on stdout, one line per event, each line of a stage prefixed with
//! `[stage]` so parallel stages stay readable; logs (the INFO `stage executed successfully`,
//! the WARN `variable not found in dependent stage`) on stderr; errors on stderr as
//! `Error: ...` with the file:line of the mistake, worded as the troubleshooting guide quotes
//! them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::Cli;
use super::exit::{self, Failure};
use crate::config;
use crate::execute::{self, Observer, RenderedStep, StepResult};
use crate::migration::Migration;
use crate::report::{Diagnostic, mask};
use crate::stages::{
    self, Direction, Executor, Graph, Plan, Projects, RunReport, Selection, StageError,
    StageEvents, StageOutcome, StageReport, StageStatus, fmt_duration,
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
}

/// Run a `stages` subcommand.
pub fn run(cli: &Cli, command: &StagesCommand) -> Result<(), Failure> {
    match command {
        StagesCommand::Up(a) => run_stages(cli, a, Direction::Up),
        StagesCommand::Down(a) => run_stages(cli, a, Direction::Down),
        StagesCommand::Status => status(cli),
        StagesCommand::Validate => validate(cli),
    }
}

/// `--config`, for `stages` defaulting to ./stages.yaml.
fn stages_path(cli: &Cli) -> PathBuf {
    cli.config
        .clone()
        .unwrap_or_else(|| PathBuf::from("stages.yaml"))
}

fn line(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", mask::text(text));
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
    Failure::new(exit::USAGE, text.trim_end())
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
        print_plan(&plan, &selection);
        return Ok(());
    }
    if !cli.quiet {
        line(&format!(
            "stages {} ({}): stages=\"{}\"",
            direction.as_str(),
            selection.describe(),
            list(&selected)
        ));
    }
    let events = Events { quiet: cli.quiet };
    let executor = Executor::new(&file, &graph, &projects, &events);
    let report = match direction {
        Direction::Up => executor.up(&selected),
        Direction::Down => executor.down(&selected),
    };
    print_summary(&report, cli.quiet);
    match first_failure(report) {
        Some(f) => Err(f),
        None => Ok(()),
    }
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

fn print_summary(report: &RunReport, quiet: bool) {
    let mut rows: Vec<&StageReport> = report.stages.iter().collect();
    rows.extend(report.rolled_back.iter());
    if !quiet || report.failed() {
        line("summary:");
        let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0);
        for r in &report.stages {
            line(&format!("  {}", summary_row(r, width)));
        }
        for r in &report.rolled_back {
            line(&format!(
                "  {} (rollback_on_failure)",
                summary_row(r, width)
            ));
        }
    }
    let count = |o: StageOutcome| report.stages.iter().filter(|r| r.outcome == o).count();
    let total = report.stages.len();
    let text = match report.direction {
        Direction::Up if !report.failed() && count(StageOutcome::Failed) == 0 => format!(
            "all {total} stage(s) done: {} succeeded, {} skipped",
            count(StageOutcome::Succeeded),
            count(StageOutcome::Skipped)
        ),
        Direction::Down if !report.failed() && count(StageOutcome::Failed) == 0 => format!(
            "all {total} stage(s) rolled back ({} skipped)",
            count(StageOutcome::Skipped)
        ),
        _ => format!(
            "{} of {total} stage(s) failed: {}",
            count(StageOutcome::Failed),
            report.with_outcome(StageOutcome::Failed).join(", ")
        ),
    };
    if !quiet || report.failed() {
        line(&text);
    }
}

fn summary_row(r: &StageReport, width: usize) -> String {
    let mut text = format!(
        "{:<width$}  {:<11}  {}",
        r.name,
        r.outcome.as_str(),
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
    if let Some(d) = r.detail() {
        text.push_str(&format!("  ({d})"));
    }
    if r.outcome == StageOutcome::Failed && r.on_failure != stages::OnFailure::Stop {
        text.push_str(&format!(" [on_failure: {}]", r.on_failure.as_str()));
    }
    text
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
                code: inner.code,
                diagnostics: inner.diagnostics,
                message: Some(format!("{prefix}: {message}")),
                hint: inner.hint,
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
            code: exit::USAGE,
            message: Some(format!("{prefix}: {}", d.message)),
            diagnostics: vec![*d],
            hint: None,
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

/// Progress printing for a stages run.
struct Events {
    quiet: bool,
}

impl Events {
    fn say(&self, text: &str) {
        if !self.quiet {
            line(text);
        }
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
    }

    fn stage_finished(&self, r: &StageReport) {
        let when = fmt_duration(r.duration);
        let text = match r.outcome {
            StageOutcome::Succeeded => format!(
                "[{}] succeeded in {when}: {} migration(s) applied, extracted_vars={}",
                r.name,
                r.versions.len(),
                r.exported
            ),
            StageOutcome::RolledBack => format!(
                "[{}] rolled back in {when}: {} migration(s) rolled back",
                r.name,
                r.versions.len()
            ),
            StageOutcome::Skipped => format!(
                "[{}] skipped: {}",
                r.name,
                r.reason.as_deref().unwrap_or("skipped")
            ),
            StageOutcome::Failed => format!(
                "[{}] failed after {when}: {}",
                r.name,
                r.detail().unwrap_or_default()
            ),
            StageOutcome::NotStarted => format!(
                "[{}] {}",
                r.name,
                r.reason.as_deref().unwrap_or("not started")
            ),
        };
        // A failure is worth seeing even with --quiet.
        if r.outcome == StageOutcome::Failed {
            line(&text);
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
        line(&format!(
            "rollback_on_failure: rolling back what this run applied, in this order: {}",
            stages.join(", ")
        ));
    }

    fn migrations(&self, stage: &str) -> Box<dyn Observer + '_> {
        Box::new(StageProgress {
            stage: stage.to_string(),
            quiet: self.quiet,
        })
    }
}

/// Migration progress of one stage, each line prefixed with `[stage]`.
struct StageProgress {
    stage: String,
    quiet: bool,
}

impl StageProgress {
    fn say(&self, text: &str) {
        if !self.quiet {
            line(&format!("[{}] {text}", self.stage));
        }
    }
}

fn file_name(m: &Migration) -> String {
    m.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.path.display().to_string())
}

impl Observer for StageProgress {
    fn migration_started(&mut self, migration: &Migration, direction: state::Direction) {
        let verb = match direction {
            state::Direction::Up => "applying",
            state::Direction::Down => "rolling back",
        };
        self.say(&format!(
            "{verb} {} (version {})",
            file_name(migration),
            migration.version
        ));
    }

    fn step_finished(&mut self, _migration: &Migration, step: &RenderedStep, result: &StepResult) {
        let status = result
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let what = if step.method.is_empty() {
            format!("step `{}` ({} request(s))", step.step_type, result.requests)
        } else {
            format!("{} {}", step.method, mask::url(&step.url_with_queries()))
        };
        let mut text = format!("  {what} -> {status} ({} ms)", result.duration.as_millis());
        if !result.outputs.is_empty() {
            let names: Vec<&str> = result.outputs.iter().map(|(n, _)| n.as_str()).collect();
            text.push_str(&format!(", extracted {}", names.join(", ")));
        }
        self.say(&text);
    }

    fn migration_finished(
        &mut self,
        migration: &Migration,
        direction: state::Direction,
        outcome: &Outcome,
    ) {
        let verb = match (direction, outcome.error.is_some()) {
            (_, true) => "failed",
            (state::Direction::Up, false) => "applied",
            (state::Direction::Down, false) => "rolled back",
        };
        self.say(&format!(
            "{verb} {} in {} ms",
            file_name(migration),
            outcome.duration.as_millis()
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// status

fn status(cli: &Cli) -> Result<(), Failure> {
    let file = load_file(cli)?;
    let graph = Graph::new(&file);
    let verbose = cli.verbose > 0;
    let all = stages::status(&file, &graph);
    line(&format!(
        "Stages status ({}): stages=\"[{}]\"",
        file.path.display(),
        all.iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let mut broken = Vec::new();
    for s in &all {
        print_stage_status(s, verbose);
        if let Some(p) = &s.problem {
            broken.push(format!("stage {}: {p}", s.name));
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(exit::USAGE, broken.join("\nError: "))
            .with_hint("`apirun stages validate` shows every problem with its file and line"))
    }
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
        line(n);
    }
    if !found.is_empty() {
        return Err(problems(found));
    }
    let order = Graph::new(&file).order();
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
