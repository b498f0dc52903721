//! The apirun command line for end-to-end tests: the same entry point as the `apirun` binary.

fn main() -> std::process::ExitCode {
    apirun::cli::main()
}
