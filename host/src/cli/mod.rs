//! The command line: argument parsing, command handlers, exit codes and output.

mod args;
mod commands;
pub mod exit;
mod output;
mod plugin;
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
    match commands::run(&cli) {
        Ok(()) => exit::SUCCESS,
        Err(failure) => {
            eprint!("{}", failure.render());
            failure.code
        }
    }
}
