//! Command handlers: each loads what it needs, runs, prints, and returns a [`Failure`] for the
//! one place that renders errors.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use super::args::{
    Cli, Command, CreateArgs, DownArgs, MigrateCommand, ResolveArgs, StatusArgs, UpArgs,
};
use super::exit::{self, Failure};
use super::output::Progress;
use crate::config::{self, Config};
use crate::execute::{self, DownOptions, Runner, UpOptions};
use crate::migration::{self, Migration};
use crate::state::{self, RunGuard, RunState, Store};

pub fn run(cli: &Cli) -> Result<(), Failure> {
    // Commands that load a project's config set logging up from it (see `load_config`).
    if !uses_project_config(&cli.command) {
        super::output::init_logging(cli, None);
    }
    match &cli.command {
        Command::Up(a) | Command::Migrate(MigrateCommand::Up(a)) => up(cli, a),
        Command::Down(a) | Command::Migrate(MigrateCommand::Down(a)) => down(cli, a),
        Command::Status(a) | Command::Migrate(MigrateCommand::Status(a)) => status(cli, a),
        Command::Create(a) => create(cli, a),
        Command::Validate => validate(cli),
        Command::Wait => wait(cli),
        Command::Resolve(a) => resolve(cli, a),
        Command::Stages(c) => super::stages::run(cli, c),
        Command::Plugin(c) => super::plugin::run(cli, c),
    }
}

fn uses_project_config(command: &Command) -> bool {
    matches!(
        command,
        Command::Up(_)
            | Command::Down(_)
            | Command::Status(_)
            | Command::Validate
            | Command::Wait
            | Command::Resolve(_)
            | Command::Migrate(_)
    )
}

fn config_path(cli: &Cli) -> PathBuf {
    cli.config.clone().unwrap_or_else(Config::default_path)
}

/// Load the project's config and set up logging from its `logging` section.
fn load_config(cli: &Cli) -> Result<Config, Failure> {
    let config = config::load(&config_path(cli)).map_err(Failure::from)?;
    super::output::init_logging(cli, Some(&config.logging));
    Ok(config)
}

fn load_migrations(config: &Config) -> Result<Vec<Migration>, Failure> {
    let sources = migration::discover(&config.migrate_dir).map_err(Failure::from)?;
    migration::load_all(&sources).map_err(Failure::from)
}

/// A project ready to run: config, migrations, and its store opened under the run lock.
struct Session {
    config: Config,
    migrations: Vec<Migration>,
    store: Box<dyn Store>,
    _lock: RunGuard,
}

fn open_session(cli: &Cli, command: &str, lock: bool) -> Result<Session, Failure> {
    let config = load_config(cli)?;
    let migrations = load_migrations(&config)?;
    let lock = if lock {
        state::acquire_run_lock(&config, command)?
    } else {
        RunGuard::none()
    };
    let store = execute::open_store(&config)?;
    Ok(Session {
        config,
        migrations,
        store,
        _lock: lock,
    })
}

/// The template piped on stdin in a dry run (`echo '{{.vpc_id}}' | apirun up --dry-run`).
fn piped_template() -> Option<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return None;
    }
    let mut text = String::new();
    stdin.lock().read_to_string(&mut text).ok()?;
    (!text.trim().is_empty()).then_some(text)
}

fn up(cli: &Cli, args: &UpArgs) -> Result<(), Failure> {
    let mut session = open_session(cli, "apirun up", !args.dry_run)?;
    let runner = Runner::new(&session.config)?;
    if !args.dry_run {
        runner.wait(&session.config)?;
    }
    if args.dry_run
        && let Some(template) = piped_template()
    {
        let stored = session.store.stored_env()?;
        let vars = runner.base_vars(&session.config, &[], &stored, &Default::default());
        let rendered = runner
            .renderer()
            .render(&template, &vars)
            .map_err(|e| Failure::new(exit::USAGE, format!("<stdin>: {e}")))?;
        print!("{rendered}");
        if !rendered.ends_with('\n') {
            println!();
        }
        return Ok(());
    }
    let opts = UpOptions {
        to: args.to,
        dry_run: args.dry_run,
        inherited: Vec::new(),
    };
    let mut progress = Progress::new(cli.quiet, args.dry_run);
    let summary = runner.up(
        &session.config,
        &session.migrations,
        session.store.as_mut(),
        &opts,
        &mut progress,
    )?;
    let applied = session.store.applied()?;
    let current = applied.iter().map(|a| a.version).max().unwrap_or(0);
    if args.dry_run {
        let pending = execute::plan_up(&session.migrations, &applied, args.to);
        println!(
            "dry run: {} migration(s) would be applied; nothing was sent",
            pending.len()
        );
    } else if summary.results.is_empty() {
        println!("no pending migrations (current version {current})");
    } else {
        println!(
            "applied {} migration(s); current version {current}",
            summary.results.len()
        );
    }
    Ok(())
}

fn down(cli: &Cli, args: &DownArgs) -> Result<(), Failure> {
    let mut session = open_session(cli, "apirun down", !args.dry_run)?;
    let runner = Runner::new(&session.config)?;
    if !args.dry_run {
        runner.wait(&session.config)?;
    }
    let to = if args.all { 0 } else { args.to.unwrap_or(0) };
    let opts = DownOptions {
        to,
        dry_run: args.dry_run,
        inherited: Vec::new(),
    };
    let mut progress = Progress::new(cli.quiet, args.dry_run);
    let summary = runner.down(
        &session.config,
        &session.migrations,
        session.store.as_mut(),
        &opts,
        &mut progress,
    )?;
    let applied = session.store.applied()?;
    let current = applied.iter().map(|a| a.version).max().unwrap_or(0);
    if args.dry_run {
        println!(
            "dry run: {} migration(s) would be rolled back; nothing was sent",
            execute::plan_down(&applied, to).len()
        );
    } else if summary.results.is_empty() {
        println!("nothing to roll back (current version {current})");
    } else {
        println!(
            "rolled back {} migration(s); current version {current}",
            summary.results.len()
        );
    }
    Ok(())
}

fn format_versions(versions: impl IntoIterator<Item = u64>) -> String {
    let v: Vec<String> = versions.into_iter().map(|v| v.to_string()).collect();
    format!("[{}]", v.join(" "))
}

fn status(cli: &Cli, args: &StatusArgs) -> Result<(), Failure> {
    let config = load_config(cli)?;
    let migrations = load_migrations(&config)?;
    let store = execute::open_store(&config)?;
    let applied = store.applied()?;
    let current = applied.iter().map(|a| a.version).max().unwrap_or(0);
    println!("current: {current}");
    println!(
        "applied: {}",
        format_versions(applied.iter().map(|a| a.version))
    );
    let pending = execute::plan_up(&migrations, &applied, None);
    println!(
        "pending: {}",
        format_versions(pending.iter().map(|m| m.version))
    );
    for m in pending.iter().filter(|m| m.version < current) {
        println!(
            "  note: {} (version {}) was added after version {current} was applied; `apirun up` applies it",
            m.path.display(),
            m.version
        );
    }
    let declared: BTreeSet<u64> = migrations.iter().map(|m| m.version).collect();
    for a in &applied {
        if !declared.contains(&a.version) {
            println!(
                "  warning: version {} is applied but has no migration file",
                a.version
            );
        }
    }
    for drift in execute::checksum_drift(&migrations, &applied) {
        println!("  warning: {drift}");
    }
    for run in store.in_doubt()? {
        println!(
            "  in doubt: version {} ({}) started {} and never finished; resolve with `apirun resolve {} --applied|--not-applied`",
            run.version,
            run.direction.as_str(),
            run.ran_at,
            run.version
        );
    }
    if let Some(holder) = state::lock_holder(&config)? {
        println!("  locked: {}", holder.description);
    }
    if args.history {
        let limit = if args.history_all {
            None
        } else {
            Some(args.history_limit.max(1))
        };
        let runs = store.history(limit)?;
        println!("history:");
        for r in runs {
            let state = match r.state {
                RunState::Started => " state=in-doubt",
                RunState::Resolved => " state=resolved",
                _ => "",
            };
            println!(
                "#{} v={} dir={} code={} failed={} at={}{}{}",
                r.id,
                r.version,
                r.direction.as_str(),
                r.status_code,
                r.failed,
                r.ran_at,
                r.duration_ms
                    .map(|d| format!(" duration={d}ms"))
                    .unwrap_or_default(),
                state
            );
        }
    }
    Ok(())
}

fn create(cli: &Cli, args: &CreateArgs) -> Result<(), Failure> {
    let path = config_path(cli);
    let dir = if path.is_file() {
        load_config(cli)?.migrate_dir
    } else {
        path.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| p.join("migration"))
            .unwrap_or_else(|| Path::new("migration").to_path_buf())
    };
    let file = migration::create(&dir, &args.name, time::OffsetDateTime::now_utc())
        .map_err(Failure::from)?;
    println!("{}", file.display());
    Ok(())
}

fn validate(cli: &Cli) -> Result<(), Failure> {
    let config = load_config(cli)?;
    let report = execute::validate_project(&config)?;
    for line in &report.notes {
        println!("{line}");
    }
    if !report.diagnostics.is_empty() {
        return Err(Failure::input(report.diagnostics));
    }
    println!(
        "{}: {} migration file(s) valid",
        config_path(cli).display(),
        report.migrations
    );
    Ok(())
}

fn wait(cli: &Cli) -> Result<(), Failure> {
    let config = load_config(cli)?;
    if config.wait.is_none() {
        return Err(Failure::new(
            exit::USAGE,
            format!("{}: no `wait` section", config.path.display()),
        )
        .with_hint(
            "add `wait: {url: http://host/health, status: 200, timeout: 60s}` to config.yaml",
        ));
    }
    Runner::new(&config)?.wait(&config)?;
    println!("API is up");
    Ok(())
}

fn resolve(cli: &Cli, args: &ResolveArgs) -> Result<(), Failure> {
    let mut session = open_session(cli, "apirun resolve", true)?;
    let runs = session.store.in_doubt()?;
    let Some(run) = runs.iter().find(|r| r.version == args.version) else {
        return Err(Failure::new(
            exit::USAGE,
            format!("version {} has no run in doubt", args.version),
        )
        .with_hint("`apirun status` lists runs in doubt"));
    };
    session.store.resolve(run.id, args.applied)?;
    println!(
        "recorded version {} ({}) as {}",
        args.version,
        run.direction.as_str(),
        if args.applied {
            "applied"
        } else {
            "not applied"
        }
    );
    Ok(())
}
