//! The `apirun` command-line tool.

fn main() -> std::process::ExitCode {
    apirun::cli::main()
}
