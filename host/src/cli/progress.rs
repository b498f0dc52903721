//! The progress of a run as it happens (one line per migration and step, a spinner while a
//! request is in flight), and the record of it that becomes the end-of-run summary, the JSON
//! result and the JUnit report.

use std::time::Instant;

use indicatif::ProgressBar;

use super::output::{self, Tone, paint};
use crate::execute::{ExecError, Observer, RenderedStep, StepResult};
use crate::migration::{Migration, Step};
use crate::report::mask;
use crate::report::run::{
    MigrationOutcome, MigrationReport, NameValue, RequestView, StepOutcome, StepReport, millis,
};
use crate::state::{Direction, Outcome};

/// The file name of a migration, as lines show it.
pub fn file_name(m: &Migration) -> String {
    m.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.path.display().to_string())
}

fn direction_word(d: Direction) -> &'static str {
    match d {
        Direction::Up => "up",
        Direction::Down => "down",
    }
}

/// `POST http://…` (masked), or `step job` for a custom step type.
fn request_line(step: &RenderedStep) -> String {
    if step.method.is_empty() {
        format!("step {}", step.step_type)
    } else {
        format!("{} {}", step.method, mask::url(&step.url_with_queries()))
    }
}

fn not_run_step(migration: &Migration, index: usize, step: &Step) -> StepReport {
    StepReport {
        index: index + 1,
        name: step.name.clone().unwrap_or_else(|| migration.name.clone()),
        step_type: step.step_type.value.clone(),
        request: None,
        outcome: StepOutcome::NotRun,
        status_code: None,
        requests: 0,
        duration_ms: 0,
        extracted: Vec::new(),
        error: None,
        would_send: None,
    }
}

/// A migration the run planned but never started: every step `not_run`.
pub fn not_run(migration: &Migration, direction: Direction) -> MigrationReport {
    let steps = match direction {
        Direction::Up => &migration.up,
        Direction::Down => &migration.down,
    };
    MigrationReport {
        version: migration.version,
        name: migration.name.clone(),
        file: migration.path.display().to_string(),
        direction: direction_word(direction),
        outcome: MigrationOutcome::NotRun,
        duration_ms: 0,
        steps: steps
            .iter()
            .enumerate()
            .map(|(i, s)| not_run_step(migration, i, s))
            .collect(),
        error: None,
    }
}

/// Collects what happens in a run into [`MigrationReport`]s.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Every migration started so far, in order.
    pub migrations: Vec<MigrationReport>,
    step_began: Option<Instant>,
    /// The index of the step last started.
    current_step: usize,
}

impl Recorder {
    /// Everything recorded so far, leaving the recorder empty.
    pub fn take(&mut self) -> Recorder {
        std::mem::take(self)
    }

    fn current(&mut self) -> Option<&mut MigrationReport> {
        self.migrations.last_mut()
    }

    fn step(&mut self, migration: &Migration, index: usize) -> Option<&mut StepReport> {
        let m = self.migrations.last_mut()?;
        if !m.steps.iter().any(|s| s.index == index + 1) {
            let steps = match m.direction {
                "down" => &migration.down,
                _ => &migration.up,
            };
            let step = steps.get(index)?;
            m.steps.push(not_run_step(migration, index, step));
        }
        m.steps.iter_mut().find(|s| s.index == index + 1)
    }

    /// The migrations of a run: those recorded, then the `planned` ones never started.
    pub fn finish(self, planned: &[&Migration], direction: Direction) -> Vec<MigrationReport> {
        let mut out = self.migrations;
        for m in planned {
            if !out.iter().any(|r| r.version == m.version) {
                out.push(not_run(m, direction));
            }
        }
        out
    }
}

impl Observer for Recorder {
    fn migration_started(&mut self, migration: &Migration, direction: Direction) {
        self.current_step = 0;
        self.migrations.push(MigrationReport {
            version: migration.version,
            name: migration.name.clone(),
            file: migration.path.display().to_string(),
            direction: direction_word(direction),
            outcome: MigrationOutcome::NotRun,
            duration_ms: 0,
            steps: Vec::new(),
            error: None,
        });
    }

    fn step_started(&mut self, migration: &Migration, index: usize, step: &RenderedStep) {
        self.step_began = Some(Instant::now());
        self.current_step = index;
        if let Some(s) = self.step(migration, index) {
            s.name = step.name.clone();
            s.step_type = step.step_type.clone();
            s.request = Some(request_line(step));
        }
    }

    fn step_finished(&mut self, migration: &Migration, step: &RenderedStep, result: &StepResult) {
        self.step_began = None;
        if let Some(s) = self.step(migration, self.current_step) {
            s.name = step.name.clone();
            s.step_type = step.step_type.clone();
            s.request = Some(request_line(step));
            s.outcome = StepOutcome::Ok;
            s.status_code = result.status;
            s.requests = result.requests;
            s.duration_ms = millis(result.duration);
            s.extracted = result.outputs.iter().map(|(n, _)| n.clone()).collect();
        }
    }

    fn step_failed(&mut self, migration: &Migration, index: usize, error: &ExecError) {
        let took = self.step_began.take().map(|t| millis(t.elapsed()));
        let status = match error {
            ExecError::Step {
                failure:
                    crate::plugin::StepFailure::Step(crate::plugin::StepError::RejectedStatus(r)),
                ..
            } => Some(r.status),
            _ => None,
        };
        if let Some(s) = self.step(migration, index) {
            s.outcome = StepOutcome::Failed;
            s.error = Some(mask::text(&error.to_string()));
            s.duration_ms = took.unwrap_or(0);
            s.status_code = status;
        }
    }

    fn migration_finished(
        &mut self,
        migration: &Migration,
        direction: Direction,
        outcome: &Outcome,
    ) {
        let steps = match direction {
            Direction::Up => &migration.up,
            Direction::Down => &migration.down,
        };
        if let Some(m) = self.current() {
            m.duration_ms = millis(outcome.duration);
            m.outcome = match (&outcome.error, direction) {
                (Some(_), _) => MigrationOutcome::Failed,
                (None, Direction::Up) => MigrationOutcome::Applied,
                (None, Direction::Down) => MigrationOutcome::RolledBack,
            };
            m.error = outcome.error.clone();
            for (i, step) in steps.iter().enumerate() {
                if !m.steps.iter().any(|s| s.index == i + 1) {
                    m.steps.push(not_run_step(migration, i, step));
                }
            }
            m.steps.sort_by_key(|s| s.index);
        }
    }

    fn dry_run_step(&mut self, _migration: &Migration, step: &RenderedStep) {
        let Some(m) = self.current() else {
            return;
        };
        m.outcome = match m.direction {
            "down" => MigrationOutcome::WouldRollBack,
            _ => MigrationOutcome::WouldApply,
        };
        let index = m.steps.len();
        let custom = step.method.is_empty();
        m.steps.push(StepReport {
            index: index + 1,
            name: step.name.clone(),
            step_type: step.step_type.clone(),
            request: Some(request_line(step)),
            outcome: StepOutcome::DryRun,
            status_code: None,
            requests: 0,
            duration_ms: 0,
            extracted: Vec::new(),
            error: None,
            would_send: Some(RequestView {
                method: step.method.clone(),
                url: mask::url(&step.url_with_queries()),
                headers: step
                    .headers
                    .iter()
                    .map(|(k, v)| NameValue {
                        name: k.clone(),
                        value: mask::header(k, v),
                    })
                    .collect(),
                body: step.body.as_deref().map(mask::text),
                auth: step.auth.clone(),
                params: custom.then(|| mask::text(&step.params)),
            }),
        });
    }
}

/// Prints a run's progress, one line per event (each prefixed with `[stage] ` in a stages
/// run), shows a spinner while a request is in flight, and records everything.
#[derive(Debug)]
pub struct Progress {
    prefix: String,
    dry_run: bool,
    /// What happened, for the summary, JSON and JUnit.
    pub recorder: Recorder,
    spinner: Option<ProgressBar>,
    /// A stage's own spinner (stages run): its message follows the request in flight.
    stage_spinner: Option<ProgressBar>,
    /// How many migrations the run plans, for `2 of 5`.
    total: Option<usize>,
    /// How many have started.
    started: usize,
}

impl Progress {
    /// Progress of a single-project run.
    pub fn new(dry_run: bool) -> Self {
        Self {
            prefix: String::new(),
            dry_run,
            recorder: Recorder::default(),
            spinner: None,
            stage_spinner: None,
            total: None,
            started: 0,
        }
    }

    /// Count migrations against the `total` the run plans (`2 of 5`).
    pub fn with_total(mut self, total: usize) -> Self {
        self.total = Some(total);
        self
    }

    /// Progress of one stage's migrations; `spinner` is the stage's own spinner line.
    pub fn for_stage(stage: &str, spinner: Option<ProgressBar>) -> Self {
        Self {
            prefix: format!("[{stage}] "),
            dry_run: false,
            recorder: Recorder::default(),
            spinner: None,
            stage_spinner: spinner,
            total: None,
            started: 0,
        }
    }

    fn say(&self, text: &str) {
        output::say(&format!("{}{text}", self.prefix));
    }

    fn request_done(&mut self) {
        output::finish_spinner(self.spinner.take());
        if let Some(bar) = &self.stage_spinner {
            bar.set_message(format!("{}running", self.prefix));
        }
    }
}

impl Observer for Progress {
    fn migration_started(&mut self, migration: &Migration, direction: Direction) {
        self.recorder.migration_started(migration, direction);
        let verb = match (direction, self.dry_run) {
            (Direction::Up, false) => "applying",
            (Direction::Down, false) => "rolling back",
            (Direction::Up, true) => "would apply",
            (Direction::Down, true) => "would roll back",
        };
        self.started += 1;
        let of = self
            .total
            .filter(|t| *t > 1)
            .map(|t| format!(", {} of {t}", self.started))
            .unwrap_or_default();
        self.say(&format!(
            "{verb} {} (version {}{of})",
            file_name(migration),
            migration.version
        ));
    }

    fn step_started(&mut self, migration: &Migration, index: usize, step: &RenderedStep) {
        self.recorder.step_started(migration, index, step);
        let text = format!("{}{}", self.prefix, request_line(step));
        match &self.stage_spinner {
            Some(bar) => bar.set_message(mask::text(&text)),
            None => {
                output::finish_spinner(self.spinner.take());
                self.spinner = output::spinner(&text);
            }
        }
    }

    fn step_finished(&mut self, migration: &Migration, step: &RenderedStep, result: &StepResult) {
        self.recorder.step_finished(migration, step, result);
        self.request_done();
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

    fn step_failed(&mut self, migration: &Migration, index: usize, error: &ExecError) {
        self.recorder.step_failed(migration, index, error);
        self.request_done();
        let step = self
            .recorder
            .migrations
            .last()
            .and_then(|m| m.steps.iter().find(|s| s.index == index + 1));
        let what = step
            .and_then(|s| s.request.clone())
            .unwrap_or_else(|| format!("step #{}", index + 1));
        let status = step
            .and_then(|s| s.status_code)
            .map(|c| format!("{c} "))
            .unwrap_or_default();
        let took = step.map_or(0, |s| s.duration_ms);
        output::always_say(&format!(
            "{}  {what} -> {status}{} ({took} ms)",
            self.prefix,
            paint("failed", Tone::Bad)
        ));
    }

    fn migration_finished(
        &mut self,
        migration: &Migration,
        direction: Direction,
        outcome: &Outcome,
    ) {
        self.recorder
            .migration_finished(migration, direction, outcome);
        let (verb, tone) = match (direction, outcome.error.is_some()) {
            (_, true) => ("failed", Tone::Bad),
            (Direction::Up, false) => ("applied", Tone::Good),
            (Direction::Down, false) => ("rolled back", Tone::Good),
        };
        let text = format!(
            "{} {} in {} ms",
            paint(verb, tone),
            file_name(migration),
            outcome.duration.as_millis()
        );
        if outcome.error.is_some() {
            output::always_say(&format!("{}{text}", self.prefix));
        } else {
            self.say(&text);
        }
    }

    fn dry_run_step(&mut self, migration: &Migration, step: &RenderedStep) {
        self.recorder.dry_run_step(migration, step);
        // A dry run's whole point is the requests, so they print even with --quiet.
        output::always_say(&format!(
            "{}  would send {}",
            self.prefix,
            step.describe_masked()
        ));
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        output::finish_spinner(self.spinner.take());
    }
}

/// `850ms`, `1.204s`: durations in summaries.
pub fn fmt_ms(ms: u64) -> String {
    crate::stages::fmt_duration(std::time::Duration::from_millis(ms))
}

/// The end-of-run table of a single-project run: one row per planned migration.
pub fn print_summary(migrations: &[MigrationReport], duration_ms: u64) {
    if migrations.is_empty() || output::quiet() {
        return;
    }
    let counts = crate::report::run::MigrationCounts::of(migrations);
    let mut parts = Vec::new();
    if counts.applied > 0 {
        parts.push(paint(&format!("{} applied", counts.applied), Tone::Good));
    }
    if counts.rolled_back > 0 {
        parts.push(paint(
            &format!("{} rolled back", counts.rolled_back),
            Tone::Good,
        ));
    }
    if counts.failed > 0 {
        parts.push(paint(&format!("{} failed", counts.failed), Tone::Bad));
    }
    if counts.not_run > 0 {
        parts.push(paint(&format!("{} not run", counts.not_run), Tone::Muted));
    }
    output::say(&format!(
        "{} {} in {}",
        paint("summary:", Tone::Strong),
        parts.join(", "),
        fmt_ms(duration_ms)
    ));
    let width = migrations
        .iter()
        .map(|m| m.file_name().len())
        .max()
        .unwrap_or(0);
    for m in migrations {
        let word = m.outcome.as_str().replace('_', " ");
        let tone = match m.outcome {
            MigrationOutcome::Failed => Tone::Bad,
            MigrationOutcome::NotRun => Tone::Muted,
            _ => Tone::Good,
        };
        let mut row = format!(
            "  {:<width$}  {}",
            m.file_name(),
            paint(&format!("{word:<11}"), tone)
        );
        if m.outcome != MigrationOutcome::NotRun {
            row.push_str(&format!("  {:<7}", fmt_ms(m.duration_ms)));
        }
        if let Some(s) = m.steps.iter().find(|s| s.outcome == StepOutcome::Failed) {
            row.push_str(&format!("  at step #{} ({})", s.index, s.name));
        }
        output::say(row.trim_end());
    }
}
