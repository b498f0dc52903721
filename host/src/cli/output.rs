//! Where and how commands print: the streams, colour, spinners, logs and JSON.
//!
//! - **stdout** holds results: progress lines and summaries in text mode, exactly one JSON
//!   document with `--output json` (progress lines then go to stderr, so a pipe gets only JSON).
//! - **stderr** holds logs, errors (rendered once, by `exit`), and on a terminal the spinners.
//! - **Colour** only when the stream is a terminal, `NO_COLOR` is unset and `TERM` is not
//!   `dumb`. **Spinners** only when stderr is a terminal and neither `--quiet` nor `TERM=dumb`;
//!   everything else is line-oriented, one line per event, for CI logs and pipes.
//!
//! The spinners live in one process-wide [`MultiProgress`] so parallel stages show together;
//! every other write to the terminal (progress lines, logs) goes through it, so a line never
//! lands in the middle of a spinner.

use std::io::{IsTerminal, Write};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::{LogFormat, LogLevel, LoggingConfig};
use crate::report::mask;

use super::Cli;
use super::args::OutputFormat;

/// How this process prints, decided once from the command line and the terminal.
#[derive(Debug, Clone, Copy)]
struct Mode {
    json: bool,
    quiet: bool,
    color_stdout: bool,
    color_stderr: bool,
}

static MODE: OnceLock<Mode> = OnceLock::new();
static LIVE: OnceLock<MultiProgress> = OnceLock::new();
static JSON_EMITTED: AtomicBool = AtomicBool::new(false);

fn mode() -> Mode {
    MODE.get().copied().unwrap_or(Mode {
        json: false,
        quiet: false,
        color_stdout: false,
        color_stderr: false,
    })
}

fn colour_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::env::var("TERM").map_or(true, |t| t != "dumb")
}

/// Decide how this process prints (the first call wins).
pub fn init(cli: &Cli) {
    let json = cli.output == OutputFormat::Json;
    let mode = Mode {
        json,
        quiet: cli.quiet,
        color_stdout: std::io::stdout().is_terminal() && colour_allowed(),
        color_stderr: std::io::stderr().is_terminal() && colour_allowed(),
    };
    let _ = MODE.set(mode);
    JSON_EMITTED.store(false, Ordering::SeqCst);
    let spinners = std::io::stderr().is_terminal()
        && !cli.quiet
        && std::env::var("TERM").map_or(true, |t| t != "dumb");
    if spinners {
        let _ = LIVE.set(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
    }
}

/// Whether `--output json` is in effect.
pub fn json() -> bool {
    mode().json
}

/// Whether `--quiet` is in effect.
pub fn quiet() -> bool {
    mode().quiet
}

/// Whether errors on stderr may be coloured.
pub fn color_stderr() -> bool {
    mode().color_stderr
}

/// Run `f` with the spinners cleared, so what it writes is not overdrawn.
fn suspended<R>(f: impl FnOnce() -> R) -> R {
    match LIVE.get() {
        Some(live) => live.suspend(f),
        None => f(),
    }
}

/// A progress line: on stdout in text mode, on stderr with `--output json`; nothing with
/// `--quiet`. Masked.
pub fn say(text: &str) {
    if quiet() {
        return;
    }
    always_say(text);
}

/// A progress line that is shown even with `--quiet` (failures).
pub fn always_say(text: &str) {
    let text = mask::text(text);
    suspended(|| {
        if json() {
            let _ = writeln!(std::io::stderr().lock(), "{}", strip_style(&text));
        } else {
            let _ = writeln!(std::io::stdout().lock(), "{text}");
        }
    });
}

/// A result line of text mode (printed even with `--quiet`; not with `--output json`, whose
/// document says the same). Masked.
pub fn result(text: &str) {
    if json() {
        return;
    }
    let text = mask::text(text);
    suspended(|| {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    });
}

/// Print the command's JSON document on stdout (the one document of `--output json`).
pub fn emit_json(value: &impl serde::Serialize) {
    let text = serde_json::to_string_pretty(value)
        .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialize the result: {e}\"}}"));
    // Every field was masked when it was made; masking the document too costs little and
    // catches a field someone forgets (a secret inside a JSON string stays a JSON string).
    let text = mask::text(&text);
    JSON_EMITTED.store(true, Ordering::SeqCst);
    suspended(|| {
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    });
}

/// Whether a command already printed its JSON document.
pub fn json_emitted() -> bool {
    JSON_EMITTED.load(Ordering::SeqCst)
}

/// Write to stderr between spinner frames (errors).
pub fn eprint(text: &str) {
    suspended(|| {
        let _ = write!(std::io::stderr().lock(), "{text}");
    });
}

/// What a word means, for colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Done as asked.
    Good,
    /// Failed.
    Bad,
    /// Skipped, not run.
    Muted,
    /// Needs attention.
    Warn,
    /// Headings.
    Strong,
}

/// `text` in the colour of `tone` when stdout is a colour terminal (and never in JSON mode,
/// whose progress goes to stderr).
pub fn paint(text: &str, tone: Tone) -> String {
    let m = mode();
    if !m.color_stdout || m.json {
        return text.to_string();
    }
    style(text, tone)
}

/// `text` in the colour of `tone`, unconditionally.
pub fn style(text: &str, tone: Tone) -> String {
    let code = match tone {
        Tone::Good => "32",
        Tone::Bad => "1;31",
        Tone::Muted => "2",
        Tone::Warn => "33",
        Tone::Strong => "1",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `text` without ANSI colour sequences.
pub fn strip_style(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// A spinner on stderr, shown while something is in flight (a request, a running stage);
/// `None` unless stderr is a terminal. Its text is masked.
pub fn spinner(message: &str) -> Option<ProgressBar> {
    let live = LIVE.get()?;
    let bar = live.add(ProgressBar::new_spinner());
    let style = ProgressStyle::with_template("{spinner} {msg} {elapsed:.dim}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_message(mask::text(message));
    bar.enable_steady_tick(Duration::from_millis(100));
    Some(bar)
}

/// Remove a spinner.
pub fn finish_spinner(bar: Option<ProgressBar>) {
    if let Some(bar) = bar {
        bar.finish_and_clear();
        if let Some(live) = LIVE.get() {
            live.remove(&bar);
        }
    }
}

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
    let terminal = std::io::stderr().is_terminal() && colour_allowed();
    let ansi =
        terminal && (format == LogFormat::Color || logging.and_then(|l| l.color).unwrap_or(true));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text | LogFormat::Color => builder.with_ansi(ansi).without_time().try_init(),
    };
}

/// stderr for logs, written between spinner frames.
struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        suspended(|| std::io::stderr().lock().write_all(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_colour_sequences() {
        assert_eq!(
            strip_style(&format!("a {} c", style("b", Tone::Bad))),
            "a b c"
        );
    }
}
