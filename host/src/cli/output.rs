//! What commands print: log setup and the progress of a run.

use std::io::{IsTerminal, Write};

use crate::config::{LogFormat, LogLevel, LoggingConfig};
use crate::execute::{Observer, RenderedStep, StepResult};
use crate::migration::Migration;
use crate::report::mask;
use crate::state::{Direction, Outcome};

use super::Cli;

/// Logs go to stderr; stdout is kept for results. The level comes from `-v`/`--quiet`, else
/// the config's `logging.level`; `APIRUN_LOG` (a tracing filter) wins over both. The format
/// is the config's `logging.format` (text, json, color); colour only on a terminal and never
/// with `NO_COLOR`. The first call in a process decides; later calls do nothing.
pub fn init_logging(cli: &Cli, logging: Option<&LoggingConfig>) {
    let from_config = logging.map(|l| match l.level {
        LogLevel::Error => "error",
        LogLevel::Warn => "warn",
        LogLevel::Info => "info",
        LogLevel::Debug => "debug",
    });
    let level = if cli.quiet {
        "warn"
    } else {
        match cli.verbose {
            0 => from_config.unwrap_or("info"),
            1 => "debug",
            _ => "trace",
        }
    };
    if let Some(l) = logging {
        mask::set_enabled(l.mask_sensitive);
    }
    let filter = tracing_subscriber::EnvFilter::try_from_env("APIRUN_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!(
            "{level},wasmtime=warn,cranelift=warn,handlebars=warn"
        ))
    });
    let format = logging.map(|l| l.format).unwrap_or(LogFormat::Text);
    let terminal = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let ansi =
        terminal && (format == LogFormat::Color || logging.and_then(|l| l.color).unwrap_or(true));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text | LogFormat::Color => builder.with_ansi(ansi).without_time().try_init(),
    };
}

/// Prints a run's progress on stdout, one line per event.
#[derive(Debug)]
pub struct Progress {
    quiet: bool,
    dry_run: bool,
}

impl Progress {
    pub fn new(quiet: bool, dry_run: bool) -> Self {
        Self { quiet, dry_run }
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", mask::text(text));
        }
    }
}

fn file_name(m: &Migration) -> String {
    m.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.path.display().to_string())
}

impl Observer for Progress {
    fn migration_started(&mut self, migration: &Migration, direction: Direction) {
        let verb = match (direction, self.dry_run) {
            (Direction::Up, false) => "applying",
            (Direction::Down, false) => "rolling back",
            (Direction::Up, true) => "would apply",
            (Direction::Down, true) => "would roll back",
        };
        self.line(&format!(
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
        self.line(&text);
    }

    fn migration_finished(
        &mut self,
        migration: &Migration,
        direction: Direction,
        outcome: &Outcome,
    ) {
        let verb = match (direction, outcome.error.is_some()) {
            (_, true) => "failed",
            (Direction::Up, false) => "applied",
            (Direction::Down, false) => "rolled back",
        };
        self.line(&format!(
            "{verb} {} in {} ms",
            file_name(migration),
            outcome.duration.as_millis()
        ));
    }

    fn dry_run_step(&mut self, _migration: &Migration, step: &RenderedStep) {
        // A dry run's whole point is the requests, so they print even with --quiet.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "  would send {}", step.describe_masked());
    }
}
