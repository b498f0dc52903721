//! The command line: argument parsing, command handlers, exit codes and output.

mod args;
mod commands;
pub mod exit;
mod output;
mod plugin;
mod progress;
mod stages;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use exit::Failure;

/// Entry point of the `apirun` binary.
pub fn main() -> ExitCode {
    ExitCode::from(run_from(std::env::args_os()))
}

/// Run the command line with `args` (the first is the program name); returns the exit code.
pub fn run_from<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() {
                exit::USAGE
            } else {
                exit::SUCCESS
            };
            let _ = err.print();
            return code;
        }
    };
    output::init(&cli);
    match commands::run(&cli) {
        Ok(()) => exit::SUCCESS,
        Err(failure) => {
            // With --output json, stdout always holds one document: the command's own, or
            // this one for a failure before the command had anything to say.
            if output::json() && !output::json_emitted() {
                output::emit_json(&serde_json::json!({
                    "command": commands::name(&cli.command),
                    "ok": false,
                    "exit_code": failure.code,
                    "error": failure.report(),
                }));
            }
            output::eprint(&failure.render_styled(output::color_stderr()));
            failure.code
        }
    }
}
