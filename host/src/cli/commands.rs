//! Command handlers: each loads what it needs, runs, prints, and returns a [`Failure`] for the
//! one place that renders errors.

use std::collections::BTreeSet;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::{Value, json};

use super::args::{
    Cli, Command, CompletionsArgs, CreateArgs, DownArgs, MigrateCommand, ResolveArgs, SchemaArgs,
    SchemaKind, StatusArgs, UpArgs,
};
use super::exit::{self, Failure};
use super::output;
use super::progress::{self, Progress};
use crate::config::{self, Config};
use crate::execute::{self, DownOptions, Runner, UpOptions};
use crate::migration::{self, Migration};
use crate::report::junit;
use crate::report::run::{MigrationCounts, MigrationReport, ProjectRun, millis};
use crate::state::{self, Direction, RunGuard, RunState, Store};

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
        Command::Schema(a) => schema(a),
        Command::Completions(a) => completions(a),
    }
}

/// The command's name in JSON documents (`up`, `stages status`, …).
pub fn name(command: &Command) -> String {
    use super::plugin::PluginCommand;
    use super::stages::StagesCommand;
    match command {
        Command::Up(_) | Command::Migrate(MigrateCommand::Up(_)) => "up".into(),
        Command::Down(_) | Command::Migrate(MigrateCommand::Down(_)) => "down".into(),
        Command::Status(_) | Command::Migrate(MigrateCommand::Status(_)) => "status".into(),
        Command::Create(_) => "create".into(),
        Command::Validate => "validate".into(),
        Command::Wait => "wait".into(),
        Command::Resolve(_) => "resolve".into(),
        Command::Stages(c) => format!(
            "stages {}",
            match c {
                StagesCommand::Up(_) => "up",
                StagesCommand::Down(_) => "down",
                StagesCommand::Status => "status",
                StagesCommand::Validate => "validate",
                StagesCommand::Graph(_) => "graph",
            }
        ),
        Command::Plugin(c) => format!(
            "plugin {}",
            match c {
                PluginCommand::List(_) => "list",
                PluginCommand::Inspect(_) => "inspect",
                PluginCommand::New(_) => "new",
            }
        ),
        Command::Schema(_) => "schema".into(),
        Command::Completions(_) => "completions".into(),
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
    let began = Instant::now();
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
        let rendered = crate::report::mask::text(&rendered);
        if output::json() {
            output::emit_json(&json!({ "command": "up", "ok": true, "rendered": rendered }));
            return Ok(());
        }
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
    let before = session.store.applied()?;
    let planned = execute::plan_up(&session.migrations, &before, args.to);
    let mut progress = Progress::new(args.dry_run).with_total(planned.len());
    let result = runner.up(
        &session.config,
        &session.migrations,
        session.store.as_mut(),
        &opts,
        &mut progress,
    );
    let migrations = progress.recorder.take().finish(&planned, Direction::Up);
    drop(progress);
    let failure = result.err().map(Failure::from);
    let current = current_version(session.store.as_ref());
    let counts = MigrationCounts::of(&migrations);
    let lines = if args.dry_run {
        vec![format!(
            "dry run: {} migration(s) would be applied; nothing was sent",
            planned.len()
        )]
    } else if failure.is_some() && counts.failed + counts.applied == 0 {
        // Refused before anything ran (in doubt, locked, cannot roll back): the error says it.
        Vec::new()
    } else if failure.is_some() {
        vec![format!(
            "stopped after a failure: {} of {} migration(s) applied; current version {}",
            counts.applied,
            planned.len(),
            current.unwrap_or(0)
        )]
    } else if migrations.is_empty() {
        vec![format!(
            "no pending migrations (current version {})",
            current.unwrap_or(0)
        )]
    } else {
        vec![format!(
            "applied {} migration(s); current version {}",
            counts.applied,
            current.unwrap_or(0)
        )]
    };
    finish_run(
        "up",
        args.dry_run,
        began,
        current,
        migrations,
        &lines,
        failure,
        args.report_junit.as_deref(),
    )
}

fn down(cli: &Cli, args: &DownArgs) -> Result<(), Failure> {
    let began = Instant::now();
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
    let before = session.store.applied()?;
    let planned: Vec<&Migration> = execute::plan_down(&before, to)
        .into_iter()
        .filter_map(|v| session.migrations.iter().find(|m| m.version == v))
        .collect();
    let mut progress = Progress::new(args.dry_run).with_total(planned.len());
    let result = runner.down(
        &session.config,
        &session.migrations,
        session.store.as_mut(),
        &opts,
        &mut progress,
    );
    let migrations = progress.recorder.take().finish(&planned, Direction::Down);
    drop(progress);
    let failure = result.err().map(Failure::from);
    let current = current_version(session.store.as_ref());
    let counts = MigrationCounts::of(&migrations);
    let lines = if args.dry_run {
        vec![format!(
            "dry run: {} migration(s) would be rolled back; nothing was sent",
            execute::plan_down(&before, to).len()
        )]
    } else if failure.is_some() && counts.failed + counts.rolled_back == 0 {
        // Refused before anything ran (in doubt, locked, cannot roll back): the error says it.
        Vec::new()
    } else if failure.is_some() {
        vec![format!(
            "stopped after a failure: {} of {} migration(s) rolled back; current version {}",
            counts.rolled_back,
            planned.len(),
            current.unwrap_or(0)
        )]
    } else if migrations.is_empty() {
        vec![format!(
            "nothing to roll back (current version {})",
            current.unwrap_or(0)
        )]
    } else {
        vec![format!(
            "rolled back {} migration(s); current version {}",
            counts.rolled_back,
            current.unwrap_or(0)
        )]
    };
    finish_run(
        "down",
        args.dry_run,
        began,
        current,
        migrations,
        &lines,
        failure,
        args.report_junit.as_deref(),
    )
}

/// The newest applied version, if the store can still say.
fn current_version(store: &dyn Store) -> Option<u64> {
    store
        .applied()
        .ok()
        .map(|a| a.iter().map(|a| a.version).max().unwrap_or(0))
}

/// What `up` and `down` print at the end: the summary table and final line (text), or the JSON
/// document; the JUnit report; then the run's failure for the one place that renders errors.
#[allow(clippy::too_many_arguments)]
fn finish_run(
    command: &str,
    dry_run: bool,
    began: Instant,
    current: Option<u64>,
    migrations: Vec<MigrationReport>,
    lines: &[String],
    failure: Option<Failure>,
    junit_path: Option<&Path>,
) -> Result<(), Failure> {
    let duration_ms = millis(began.elapsed());
    let code = failure.as_ref().map_or(exit::SUCCESS, |f| f.code);
    let run = ProjectRun {
        command: command.to_string(),
        ok: failure.is_none(),
        exit_code: code,
        dry_run,
        duration_ms,
        current_version: current,
        counts: MigrationCounts::of(&migrations),
        migrations,
        error: failure.as_ref().map(Failure::report),
    };
    let junit_failure = junit_path.and_then(|path| {
        let xml = crate::report::mask::text(&junit::render(
            &format!("apirun {command}"),
            &junit::project_suites(&run.migrations),
        ));
        write_report(path, &xml).err()
    });
    if output::json() {
        output::emit_json(&run);
    } else {
        let started = run
            .migrations
            .iter()
            .any(|m| m.outcome != crate::report::run::MigrationOutcome::NotRun);
        if !dry_run && started {
            progress::print_summary(&run.migrations, duration_ms);
        }
        for line in lines {
            output::result(line);
        }
    }
    match (failure, junit_failure) {
        (Some(f), _) | (None, Some(f)) => Err(f),
        (None, None) => Ok(()),
    }
}

/// Write a report file (JUnit), creating its folder.
pub(super) fn write_report(path: &Path, text: &str) -> Result<(), Failure> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            Failure::new(
                exit::INTERNAL,
                format!("cannot create {}: {e}", parent.display()),
            )
        })?;
    }
    std::fs::write(path, text).map_err(|e| {
        Failure::new(
            exit::INTERNAL,
            format!("cannot write the report {}: {e}", path.display()),
        )
    })
}

fn format_versions(versions: impl IntoIterator<Item = u64>) -> String {
    let v: Vec<String> = versions.into_iter().map(|v| v.to_string()).collect();
    format!("[{}]", v.join(" "))
}

fn status(cli: &Cli, args: &StatusArgs) -> Result<(), Failure> {
    let config = load_config(cli)?;
    // Versions, paths and checksums are all status needs: the files are hashed, not parsed.
    let migrations = migration::scan(&config.migrate_dir).map_err(Failure::from)?;
    let store = execute::open_store(&config)?;
    let applied = store.applied()?;
    let current = applied.iter().map(|a| a.version).max().unwrap_or(0);
    let pending = execute::plan_up(&migrations, &applied, None);
    let added_late: Vec<&&migration::MigrationFile> =
        pending.iter().filter(|m| m.version < current).collect();
    let declared: BTreeSet<u64> = migrations.iter().map(|m| m.version).collect();
    let without_file: Vec<u64> = applied
        .iter()
        .map(|a| a.version)
        .filter(|v| !declared.contains(v))
        .collect();
    let drift = execute::checksum_drift(&migrations, &applied);
    let in_doubt = store.in_doubt()?;
    let holder = state::lock_holder(&config)?;
    let runs = if args.history {
        let limit = if args.history_all {
            None
        } else {
            Some(args.history_limit.max(1))
        };
        Some(store.history(limit)?)
    } else {
        None
    };
    if output::json() {
        let changed: BTreeSet<u64> = migrations
            .iter()
            .filter(|m| {
                applied.iter().any(|a| {
                    a.version == m.version && a.checksum.as_ref().is_some_and(|c| *c != m.checksum)
                })
            })
            .map(|m| m.version)
            .collect();
        let mut rows: Vec<Value> = Vec::new();
        for a in &applied {
            let file = migrations.iter().find(|m| m.version == a.version);
            rows.push(json!({
                "version": a.version,
                "name": file.map(|m| m.name.clone()).or_else(|| a.name.clone()),
                "file": file.map(|m| m.path.display().to_string()),
                "state": if file.is_some() { "applied" } else { "applied_without_file" },
                "applied_at": a.applied_at,
                "changed_since_applied": changed.contains(&a.version),
            }));
        }
        for m in &pending {
            rows.push(json!({
                "version": m.version,
                "name": m.name,
                "file": m.path.display().to_string(),
                "state": "pending",
                "applied_at": null,
                "changed_since_applied": false,
            }));
        }
        rows.sort_by_key(|r| r["version"].as_u64());
        let value = json!({
            "command": "status",
            "ok": true,
            "config": config.path.display().to_string(),
            "store": store.describe(),
            "current": current,
            "applied": applied.iter().map(|a| a.version).collect::<Vec<_>>(),
            "pending": pending.iter().map(|m| m.version).collect::<Vec<_>>(),
            "migrations": rows,
            "added_after_newer": added_late.iter().map(|m| m.version).collect::<Vec<_>>(),
            "applied_without_file": without_file,
            "changed_files": drift.iter().map(|d| crate::report::mask::text(d)).collect::<Vec<_>>(),
            "in_doubt": in_doubt.iter().map(|r| json!({
                "run_id": r.id,
                "version": r.version,
                "direction": r.direction.as_str(),
                "started_at": r.ran_at,
            })).collect::<Vec<_>>(),
            "locked_by": holder.as_ref().map(|h| crate::report::mask::text(&h.description)),
            "history": runs.as_ref().map(|runs| runs.iter().map(|r| json!({
                "id": r.id,
                "version": r.version,
                "direction": r.direction.as_str(),
                "status_code": r.status_code,
                "failed": r.failed,
                "state": r.state.as_str(),
                "ran_at": r.ran_at,
                "finished_at": r.finished_at,
                "duration_ms": r.duration_ms,
                "error": r.error.as_deref().map(crate::report::mask::text),
            })).collect::<Vec<_>>()),
        });
        output::emit_json(&value);
        return Ok(());
    }
    println!("current: {current}");
    println!(
        "applied: {}",
        format_versions(applied.iter().map(|a| a.version))
    );
    println!(
        "pending: {}",
        format_versions(pending.iter().map(|m| m.version))
    );
    for m in &added_late {
        println!(
            "  note: {} (version {}) was added after version {current} was applied; `apirun up` applies it",
            m.path.display(),
            m.version
        );
    }
    for v in &without_file {
        println!("  warning: version {v} is applied but has no migration file");
    }
    for d in &drift {
        println!("  warning: {}", crate::report::mask::text(d));
    }
    for run in &in_doubt {
        println!(
            "  in doubt: version {} ({}) started {} and never finished; resolve with `apirun resolve {} --applied|--not-applied`",
            run.version,
            run.direction.as_str(),
            run.ran_at,
            run.version
        );
    }
    if let Some(holder) = &holder {
        println!(
            "  locked: {}",
            crate::report::mask::text(&holder.description)
        );
    }
    if let Some(runs) = runs {
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
    if output::json() {
        output::emit_json(&json!({
            "command": "create",
            "ok": true,
            "file": file.display().to_string(),
        }));
    } else {
        println!("{}", file.display());
    }
    Ok(())
}

fn validate(cli: &Cli) -> Result<(), Failure> {
    let config = load_config(cli)?;
    let report = execute::validate_project(&config)?;
    for line in &report.notes {
        output::always_say(line);
    }
    if !report.diagnostics.is_empty() {
        // An edited applied file is a conflict with the recorded state, not a mistake in the
        // file: when it is the only problem, the exit code says so.
        let only_drift = report.diagnostics.iter().all(is_drift);
        let mut failure = Failure::input(report.diagnostics);
        if only_drift {
            failure.code = exit::STATE_CONFLICT;
        }
        return Err(failure);
    }
    if output::json() {
        output::emit_json(&json!({
            "command": "validate",
            "ok": true,
            "config": config_path(cli).display().to_string(),
            "migrations": report.migrations,
            "notes": report.notes,
        }));
    } else {
        println!(
            "{}: {} migration file(s) valid",
            config_path(cli).display(),
            report.migrations
        );
    }
    Ok(())
}

/// Whether `d` is [`execute::checksum_drift`]'s report of an applied file edited afterwards.
fn is_drift(d: &crate::report::Diagnostic) -> bool {
    d.location.is_none() && d.message.contains("changed after it was applied")
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
    if output::json() {
        output::emit_json(&json!({ "command": "wait", "ok": true }));
    } else {
        println!("API is up");
    }
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
    let recorded = if args.applied {
        "applied"
    } else {
        "not applied"
    };
    if output::json() {
        output::emit_json(&json!({
            "command": "resolve",
            "ok": true,
            "version": args.version,
            "direction": run.direction.as_str(),
            "recorded_as": recorded.replace(' ', "_"),
        }));
    } else {
        println!(
            "recorded version {} ({}) as {recorded}",
            args.version,
            run.direction.as_str()
        );
    }
    Ok(())
}

fn schema(args: &SchemaArgs) -> Result<(), Failure> {
    let value = match args.kind {
        SchemaKind::Config => config::json_schema(),
        SchemaKind::Migration => migration::json_schema(),
        SchemaKind::Stages => crate::stages::json_schema(),
    };
    // Always JSON: a schema is a JSON document whatever `--output` says.
    output::emit_json(&value);
    Ok(())
}

fn completions(args: &CompletionsArgs) -> Result<(), Failure> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "apirun", &mut out);
    use std::io::Write;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| Failure::new(exit::INTERNAL, format!("cannot write to stdout: {e}")))
}
