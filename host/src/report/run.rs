//! What a run did, as data: the documented JSON of `--output json` and the source of the JUnit
//! report. Field names are part of apirun's interface (docs/cli.md lists them); add fields,
//! never rename them. Every text in here was masked before it was stored.

use serde::Serialize;

/// How one migration ended in a run (or would, in a dry run).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationOutcome {
    /// `up` applied it.
    Applied,
    /// `down` rolled it back.
    RolledBack,
    /// It failed; see its error and the failed step.
    Failed,
    /// It was planned but the run stopped before it (an earlier one failed).
    NotRun,
    /// Dry run of `up`.
    WouldApply,
    /// Dry run of `down`.
    WouldRollBack,
}

impl MigrationOutcome {
    /// The word printed and written to JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::RolledBack => "rolled_back",
            Self::Failed => "failed",
            Self::NotRun => "not_run",
            Self::WouldApply => "would_apply",
            Self::WouldRollBack => "would_roll_back",
        }
    }
}

/// How one step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// Its request went out and its checks passed.
    Ok,
    /// It failed; see its error.
    Failed,
    /// It did not run: an earlier step or migration failed.
    NotRun,
    /// Dry run: rendered, not sent.
    DryRun,
}

/// A request as a dry run shows it (secrets masked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestView {
    /// Empty for a custom step type.
    pub method: String,
    /// The URL with its query parameters.
    pub url: String,
    /// `(name, value)` in order.
    pub headers: Vec<NameValue>,
    /// The rendered body.
    pub body: Option<String>,
    /// The auth entry whose credential the host would inject.
    pub auth: Option<String>,
    /// For a custom step type: the JSON handed to the plugin.
    pub params: Option<String>,
}

/// A header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameValue {
    /// Its name.
    pub name: String,
    /// Its value (masked).
    pub value: String,
}

/// One step of a migration in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Its position in the migration's `up` or `down`, from 1.
    pub index: usize,
    /// Its name (the migration's name when the step has none).
    pub name: String,
    /// `http`, or a custom step type.
    #[serde(rename = "type")]
    pub step_type: String,
    /// `POST http://…`, or `step job` for a custom step type; absent when it never rendered.
    pub request: Option<String>,
    /// How it ended.
    pub outcome: StepOutcome,
    /// The last HTTP status it received.
    pub status_code: Option<u16>,
    /// How many requests it sent.
    pub requests: u32,
    /// How long it took, retries included.
    pub duration_ms: u64,
    /// Names of the variables it extracted (values stay in the store).
    pub extracted: Vec<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Dry run: what would be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_send: Option<RequestView>,
}

/// One migration in a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationReport {
    /// Its version.
    pub version: u64,
    /// Its name (from the file name).
    pub name: String,
    /// Its file, as apirun found it.
    pub file: String,
    /// `up` or `down`.
    pub direction: &'static str,
    /// How it ended.
    pub outcome: MigrationOutcome,
    /// How long it took.
    pub duration_ms: u64,
    /// Its steps, in order; steps that did not run are listed as `not_run`.
    pub steps: Vec<StepReport>,
    /// Why it failed.
    pub error: Option<String>,
}

impl MigrationReport {
    /// The file name alone, for people and JUnit suite names.
    pub fn file_name(&self) -> &str {
        self.file.rsplit(['/', '\\']).next().unwrap_or(&self.file)
    }
}

/// A mistake or failure, as data (the same text stderr shows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// The exit code the process ends with.
    pub exit_code: u8,
    /// What went wrong.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
    /// Mistakes in files, each with its place.
    pub diagnostics: Vec<DiagnosticReport>,
}

/// A mistake in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticReport {
    /// What is wrong.
    pub message: String,
    /// The file.
    pub file: Option<String>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl From<&super::Diagnostic> for DiagnosticReport {
    fn from(d: &super::Diagnostic) -> Self {
        let mask = super::mask::text;
        Self {
            message: mask(&d.message),
            file: d.location.as_ref().map(|l| l.file.display().to_string()),
            line: d.location.as_ref().map(|l| l.line),
            column: d.location.as_ref().map(|l| l.column),
            hint: d.hint.as_deref().map(mask),
        }
    }
}

/// Counts of a single-project run, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MigrationCounts {
    /// Applied (up) — or, in a dry run, that would be.
    pub applied: usize,
    /// Rolled back (down) — or, in a dry run, that would be.
    pub rolled_back: usize,
    /// Failed.
    pub failed: usize,
    /// Planned but not run.
    pub not_run: usize,
}

impl MigrationCounts {
    /// Count `migrations` by outcome.
    pub fn of(migrations: &[MigrationReport]) -> Self {
        let mut c = Self::default();
        for m in migrations {
            match m.outcome {
                MigrationOutcome::Applied | MigrationOutcome::WouldApply => c.applied += 1,
                MigrationOutcome::RolledBack | MigrationOutcome::WouldRollBack => {
                    c.rolled_back += 1
                }
                MigrationOutcome::Failed => c.failed += 1,
                MigrationOutcome::NotRun => c.not_run += 1,
            }
        }
        c
    }
}

/// The result of `apirun up` or `apirun down` (also in a dry run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectRun {
    /// `up` or `down`.
    pub command: String,
    /// Whether the command succeeded.
    pub ok: bool,
    /// The exit code.
    pub exit_code: u8,
    /// A dry run sends nothing.
    pub dry_run: bool,
    /// Wall-clock time of the run.
    pub duration_ms: u64,
    /// The newest applied version after the run.
    pub current_version: Option<u64>,
    /// Migrations by outcome.
    pub counts: MigrationCounts,
    /// Every migration the run planned, in run order.
    pub migrations: Vec<MigrationReport>,
    /// Why it failed.
    pub error: Option<ErrorReport>,
}

/// One stage of a `stages up|down` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageRunReport {
    /// The stage.
    pub name: String,
    /// `up` or `down` (a rollback is `down`).
    pub direction: &'static str,
    /// `succeeded`, `failed`, `skipped`, `rolled_back` or `not_started`.
    pub outcome: &'static str,
    /// Why it was skipped or not started.
    pub reason: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// Versions applied (up) or rolled back (down) by this run.
    pub versions: Vec<u64>,
    /// How many variables it exports after the run.
    pub extracted_vars: usize,
    /// Its `on_failure`.
    pub on_failure: &'static str,
    /// Its migrations in this run.
    pub migrations: Vec<MigrationReport>,
}

/// Counts of a stages run, by outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StageCounts {
    /// Stages that succeeded.
    pub succeeded: usize,
    /// Stages rolled back (down).
    pub rolled_back: usize,
    /// Stages that failed.
    pub failed: usize,
    /// Stages skipped (false condition, failed dependency).
    pub skipped: usize,
    /// Stages the run never started.
    pub not_started: usize,
}

impl StageCounts {
    /// Count `stages` by outcome.
    pub fn of(stages: &[StageRunReport]) -> Self {
        let mut c = Self::default();
        for s in stages {
            match s.outcome {
                "succeeded" => c.succeeded += 1,
                "rolled_back" => c.rolled_back += 1,
                "failed" => c.failed += 1,
                "skipped" => c.skipped += 1,
                _ => c.not_started += 1,
            }
        }
        c
    }
}

/// The result of `apirun stages up|down`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagesRun {
    /// `stages up` or `stages down`.
    pub command: String,
    /// Whether the command succeeded.
    pub ok: bool,
    /// The exit code.
    pub exit_code: u8,
    /// Always false here (a stages dry run prints its plan).
    pub dry_run: bool,
    /// Wall-clock time of the run.
    pub duration_ms: u64,
    /// Which stages were selected (`all stages`, `--stage x`, …).
    pub selection: String,
    /// Selected stages by outcome.
    pub counts: StageCounts,
    /// Every selected stage, in run order.
    pub stages: Vec<StageRunReport>,
    /// Stages rolled back by `rollback_on_failure`, in that order.
    pub rolled_back: Vec<StageRunReport>,
    /// Why it failed.
    pub error: Option<ErrorReport>,
}

/// Milliseconds, saturating, for JSON.
pub fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
