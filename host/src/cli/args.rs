//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// apirun: API migrations — versioned YAML files of HTTP calls, applied exactly once, each
/// step run in a sandboxed WebAssembly component.
#[derive(Debug, Parser)]
#[command(name = "apirun", version, about, long_about = None)]
#[command(
    after_help = "Examples:\n  apirun up --config config/config.yaml\n  apirun status --history\n  apirun up --output json --report-junit apirun.xml   # for CI\n  apirun stages up --dry-run --config stages.yaml\n\nExit codes: 0 success, 1 a step failed, 2 usage or input error, 3 state conflict (locked, in doubt, changed applied file), 4 a plugin hit a limit, 5 internal error."
)]
pub struct Cli {
    /// Path of config.yaml (default ./config/config.yaml; for `stages`, stages.yaml).
    #[arg(long, short = 'c', global = true, env = "APIRUN_CONFIG")]
    pub config: Option<PathBuf>,

    /// Print only errors and the final result.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    /// More log output (-v: debug, -vv: trace).
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Result format on stdout: `text` for people, `json` for programs (one document; progress
    /// then goes to stderr).
    #[arg(
        long,
        short = 'o',
        global = true,
        value_enum,
        default_value_t = OutputFormat::Text,
        env = "APIRUN_OUTPUT"
    )]
    pub output: OutputFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// What stdout holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    Text,
    /// One JSON document (fields documented in docs/cli.md).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations in version order.
    #[command(
        after_help = "Examples:\n  apirun up\n  apirun up --to 3\n  apirun up --dry-run\n  apirun up --output json --report-junit apirun.xml\n  echo 'Test: {{.vpc_id}}' | apirun up --dry-run   # render a template against the project's variables"
    )]
    Up(UpArgs),
    /// Roll back applied migrations above a version.
    #[command(
        after_help = "Examples:\n  apirun down --to 2     # leaves 2 applied\n  apirun down --all      # rolls back everything"
    )]
    Down(DownArgs),
    /// Show applied and pending migrations.
    #[command(
        after_help = "Examples:\n  apirun status\n  apirun status --history\n  apirun status --output json | jq .pending"
    )]
    Status(StatusArgs),
    /// Create a new, timestamped migration file.
    #[command(after_help = "Example:\n  apirun create \"create realm\"")]
    Create(CreateArgs),
    /// Check the config and every migration file without sending anything.
    #[command(after_help = "Example:\n  apirun validate --config config/config.yaml")]
    Validate,
    /// Poll the config's `wait.url` until the API answers, then exit.
    #[command(after_help = "Example:\n  apirun wait --config config/config.yaml && apirun up")]
    Wait,
    /// Record by hand what happened to a migration a crashed run left in doubt.
    #[command(
        after_help = "Examples:\n  apirun resolve 3 --applied\n  apirun resolve 3 --not-applied"
    )]
    Resolve(ResolveArgs),
    /// The same commands under `migrate` (`apirun migrate up`).
    #[command(
        subcommand,
        after_help = "Examples:\n  apirun migrate up\n  apirun migrate status"
    )]
    Migrate(MigrateCommand),
    /// Multi-stage runs from a stages.yaml (`--config`, default ./stages.yaml).
    #[command(
        subcommand,
        after_help = "Examples:\n  apirun stages validate\n  apirun stages up --dry-run\n  apirun stages up --report-junit stages.xml\n  apirun stages status --output json\n  apirun stages graph --format dot | dot -Tsvg > stages.svg"
    )]
    Stages(super::stages::StagesCommand),
    /// Step plugins: list the step types a project can use, inspect a component, start a new one.
    #[command(
        subcommand,
        after_help = "Examples:\n  apirun plugin list\n  apirun plugin inspect plugins/job.wasm\n  apirun plugin new notify"
    )]
    Plugin(super::plugin::PluginCommand),
    /// Print the JSON Schema of config.yaml, migration files or stages.yaml, for editors.
    #[command(
        after_help = "Examples:\n  apirun schema config > config.schema.json\n  apirun schema migration > migration.schema.json\n  # then, first line of a YAML file:\n  # yaml-language-server: $schema=./config.schema.json"
    )]
    Schema(SchemaArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  apirun completions bash > ~/.local/share/bash-completion/completions/apirun\n  apirun completions zsh > ~/.zfunc/_apirun\n  apirun completions fish > ~/.config/fish/completions/apirun.fish"
    )]
    Completions(CompletionsArgs),
}

/// Which file's schema `apirun schema` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// A project's config.yaml.
    Config,
    /// A migration file (`NNN_name.yaml`).
    Migration,
    /// stages.yaml.
    Stages,
}

/// `apirun schema KIND`.
#[derive(Debug, Args, Clone)]
pub struct SchemaArgs {
    /// The kind of file.
    #[arg(value_enum)]
    pub kind: SchemaKind,
}

/// `apirun completions SHELL`.
#[derive(Debug, Args, Clone)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Same as `apirun up`.
    #[command(after_help = "Example:\n  apirun migrate up --config config/config.yaml")]
    Up(UpArgs),
    /// Same as `apirun down`.
    #[command(after_help = "Example:\n  apirun migrate down --to 0")]
    Down(DownArgs),
    /// Same as `apirun status`.
    #[command(after_help = "Example:\n  apirun migrate status")]
    Status(StatusArgs),
}

#[derive(Debug, Args, Clone)]
pub struct UpArgs {
    /// Apply only up to and including this version.
    #[arg(long)]
    pub to: Option<u64>,
    /// Render and print every request; send nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write a JUnit XML report here: one test case per migration step.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to", "all"])))]
pub struct DownArgs {
    /// Roll back every version above this one (it stays applied); 0 rolls back all.
    #[arg(long)]
    pub to: Option<u64>,
    /// Roll back every applied migration.
    #[arg(long)]
    pub all: bool,
    /// Render and print every request; send nothing, record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also write a JUnit XML report here: one test case per migration step.
    #[arg(long, value_name = "FILE")]
    pub report_junit: Option<PathBuf>,
}

#[derive(Debug, Args, Clone)]
pub struct StatusArgs {
    /// Also list recent runs, newest first.
    #[arg(long)]
    pub history: bool,
    /// With --history: list every run.
    #[arg(long)]
    pub history_all: bool,
    /// With --history: how many runs to list.
    #[arg(long, default_value_t = 10)]
    pub history_limit: usize,
}

#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// What the migration does; becomes the file name (`create realm` → `…_create_realm.yaml`).
    #[arg(default_value = "task")]
    pub name: String,
}

#[derive(Debug, Args, Clone)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["applied", "not_applied"])))]
pub struct ResolveArgs {
    /// The version the crashed run left in doubt.
    pub version: u64,
    /// Its requests took effect: record it as applied (or rolled back, for a down run).
    #[arg(long)]
    pub applied: bool,
    /// Its requests did not take effect: record it as not applied, so the next run retries it.
    #[arg(long)]
    pub not_applied: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn down_requires_a_target() {
        assert!(Cli::try_parse_from(["apirun", "down"]).is_err());
        assert!(Cli::try_parse_from(["apirun", "down", "--to", "0"]).is_ok());
        assert!(Cli::try_parse_from(["apirun", "down", "--all"]).is_ok());
    }

    #[test]
    fn config_is_global() {
        let cli = Cli::try_parse_from(["apirun", "up", "--config", "x.yaml", "--dry-run"])
            .expect("parse");
        assert_eq!(cli.config, Some(PathBuf::from("x.yaml")));
        let cli =
            Cli::try_parse_from(["apirun", "--config", "y.yaml", "migrate", "up"]).expect("parse");
        assert_eq!(cli.config, Some(PathBuf::from("y.yaml")));
    }
}
