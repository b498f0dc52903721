//! apirun's benchmark harness: how close a run comes to the physical floor of its work (one
//! round trip plus one durable commit per migration), side by side in one run on one machine.
//!
//! `cargo run --release -p apirun-bench` builds `target/release/apirun`, starts a loopback
//! HTTP server, and measures:
//!
//! - the floor: N sequential POSTs from a plain reqwest blocking client loop to the same
//!   server, and one SQLite commit with apirun's durability settings (WAL, `synchronous=FULL`);
//! - `apirun up` over N migrations (one POST and one extracted value each), as a process and
//!   in-process (`Runner::up` alone, without process start-up), with two figures that explain
//!   the gap: apirun's own record of a migration (one commit) and rendering a step;
//! - the wasm step overhead per call (fresh store + instantiate + run, `send` answered in
//!   memory);
//! - cold start of a one-migration run, with and without the compiled-component cache;
//! - `stages up` over 8 independent stages × 10 migrations, `max_concurrent_stages` 1 and 4;
//! - `status` on a project of 10,000 migration files;
//! - the CPU time and peak memory of every apirun process (`wait4`'s rusage).
//!
//! Each figure is the median of `--reps` repetitions; the floor and the `up` runs take turns,
//! so that drift in the machine hits both alike. Every loop is bounded; the server listens on
//! 127.0.0.1 only; everything is written to a temporary directory that is removed at the end.
//! See docs/performance.md.

mod measure;
mod project;
mod server;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use apirun::plugin::bindings::{HttpRequest, HttpResponse, LogLevel};
use apirun::plugin::{ComponentCache, Limits, Outbound, Runtime, TransportError};

use measure::{Apirun, ProcessRun, human, human_kib, max_rss, median, median_cpu, median_elapsed};
use server::Server;

/// What to run, from the command line.
#[derive(Debug, Clone)]
struct Options {
    /// Migrations in the `up` benchmark.
    n: u64,
    /// Repetitions of each process measurement (the median is reported).
    reps: usize,
    /// Files in the `status` benchmark.
    status_files: u64,
    /// The apirun binary; built with cargo when not given.
    apirun: Option<PathBuf>,
    /// Only serve the loopback API for this long (for profiling apirun by hand).
    serve: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            n: 200,
            reps: 5,
            status_files: 10_000,
            apirun: None,
            serve: None,
        }
    }
}

const USAGE: &str = "usage: apirun-bench [--quick] [--n N] [--reps R] [--apirun PATH]

  --quick        one repetition of everything (a smoke run, figures are noisier)
  --n N          migrations in the `up` benchmark (default 200)
  --reps R       repetitions of each measurement, the median is reported (default 5)
  --apirun PATH  the apirun binary to measure (default: build target/release/apirun)
  --serve SECS   only run the loopback API for SECS seconds (at most 3600) and print its
                 address, to profile apirun against it by hand";

fn parse_args() -> Result<Options, String> {
    let mut opts = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => opts.reps = 1,
            "--n" => {
                opts.n = value("--n")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=100_000).contains(n))
                    .ok_or("--n takes a number from 1 to 100000")?;
            }
            "--reps" => {
                opts.reps = value("--reps")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or("--reps takes a number from 1 to 100")?;
            }
            "--apirun" => opts.apirun = Some(PathBuf::from(value("--apirun")?)),
            "--serve" => {
                let secs: u64 = value("--serve")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=3600).contains(n))
                    .ok_or("--serve takes a number of seconds from 1 to 3600")?;
                opts.serve = Some(Duration::from_secs(secs));
            }
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n\n{USAGE}")),
        }
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(duration) = opts.serve {
        return match Server::start() {
            Ok(server) => {
                println!("{}", server.url());
                std::thread::sleep(duration);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("apirun-bench: loopback server: {e}");
                ExitCode::from(1)
            }
        };
    }
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apirun-bench: {e}");
            ExitCode::from(1)
        }
    }
}

/// One line of the report.
struct Row {
    figure: String,
    measured: String,
    per: String,
    ratio: String,
    target: String,
    met: Option<bool>,
    cpu: Option<Duration>,
    rss: Option<u64>,
}

impl Row {
    fn new(figure: impl Into<String>, measured: impl Into<String>) -> Self {
        Self {
            figure: figure.into(),
            measured: measured.into(),
            per: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: None,
            cpu: None,
            rss: None,
        }
    }
    fn per(mut self, per: impl Into<String>) -> Self {
        self.per = per.into();
        self
    }
    fn ratio(mut self, ratio: impl Into<String>) -> Self {
        self.ratio = ratio.into();
        self
    }
    fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = target.into();
        self.met = Some(met);
        self
    }
    /// CPU time and peak memory of the (median) process runs behind this figure.
    fn process(mut self, runs: &[ProcessRun]) -> Self {
        self.cpu = Some(median_cpu(runs));
        self.rss = Some(max_rss(runs));
        self
    }
}

fn print_rows(rows: &[Row]) {
    let header = [
        "figure", "measured", "per unit", "ratio", "target", "met", "CPU", "peak RSS",
    ];
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.clone(),
                r.measured.clone(),
                r.per.clone(),
                r.ratio.clone(),
                r.target.clone(),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => String::new(),
                },
                r.cpu.map(human).unwrap_or_default(),
                r.rss.map(human_kib).unwrap_or_default(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            if i == 0 {
                s.push_str(c);
                s.push_str(&" ".repeat(pad));
            } else {
                s.push_str("  ");
                s.push_str(&" ".repeat(pad));
                s.push_str(c);
            }
        }
        s.trim_end().to_string()
    };
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    println!("{}", line(&head));
    println!(
        "{}",
        "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
    );
    for row in &cells {
        println!("{}", line(row));
    }
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        return f64::INFINITY;
    }
    a.as_secs_f64() / b.as_secs_f64()
}

fn run(opts: &Options) -> Result<(), String> {
    if cfg!(debug_assertions) {
        eprintln!(
            "apirun-bench: this is a debug build; in-process figures are meaningless. Use `cargo run --release -p apirun-bench`."
        );
    }
    let tmp = tempfile::Builder::new()
        .prefix("apirun-bench-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let root = tmp.path().to_path_buf();
    let cache = root.join("cache");
    std::fs::create_dir_all(&cache).map_err(|e| e.to_string())?;
    use_cache_dir(&cache);
    let exe = match &opts.apirun {
        Some(p) => {
            std::fs::canonicalize(p).map_err(|e| format!("--apirun {}: {e}", p.display()))?
        }
        None => build_apirun()?,
    };
    let apirun = Apirun {
        exe,
        scratch: root.clone(),
    };
    let server = Server::start().map_err(|e| format!("loopback server: {e}"))?;
    let api = server.url();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "apirun-bench: {} cores, N = {}, {} repetition(s) per figure (median), server {api}, binary {}",
        cores,
        opts.n,
        opts.reps,
        apirun.exe.display()
    );
    println!();

    let started = Instant::now();
    let mut rows = Vec::new();
    let n = opts.n;
    let reps = opts.reps;

    // A first run fills the compiled-component cache the `with cache` figures use.
    let warm = root.join("warm");
    project::write_project(&warm, &api, 1).map_err(|e| e.to_string())?;
    apirun.run(&warm, &cache, &["--config", "config.yaml", "up"])?;

    // --- the floor and apirun up over N, interleaved so that drift hits both alike ----------
    eprintln!("measuring the floor and apirun up over {n} migrations …");
    let http_floor = RoundTripFloor::new(&api)?;
    let commit_floor = CommitFloor::new(&root.join("floor.db"))?;
    let (mut rtts, mut commits, mut runs, mut steady) = (vec![], vec![], vec![], vec![]);
    let mut records = vec![];
    for i in 0..reps {
        rtts.push(http_floor.round(n)?);
        commits.push(commit_floor.round(n)?);
        records.push(record_commit(&root.join(format!("record-{i}.db")), n)?);
        let dir = root.join(format!("up-{i}"));
        project::write_project(&dir, &api, n).map_err(|e| e.to_string())?;
        let before = server.served();
        let run = apirun.run(&dir, &cache, &["--config", "config.yaml", "up"])?;
        check_applied(&run, n, server.served() - before)?;
        runs.push(run);
        std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        steady.push(in_process_up(&root.join(format!("inproc-{i}")), &api, n)?);
    }
    let (rtt, commit) = (median(&rtts), median(&commits));
    let floor = rtt + commit;
    rows.push(
        Row::new(
            format!("floor: {n} POSTs, reqwest loop"),
            human(rtt * n as u32),
        )
        .per(format!("{}/req", human(rtt))),
    );
    rows.push(
        Row::new(
            format!("floor: {n} SQLite commits (WAL, FULL)"),
            human(commit * n as u32),
        )
        .per(format!("{}/commit", human(commit))),
    );
    rows.push(
        Row::new("floor: round trip + commit", human(floor * n as u32))
            .per(format!("{}/migr.", human(floor))),
    );
    let total = median_elapsed(&runs);
    let per = total / n as u32;
    let r = ratio(per, floor);
    rows.push(
        Row::new(format!("apirun up, {n} migrations (process)"), human(total))
            .per(format!("{}/migr.", human(per)))
            .ratio(format!("{r:.2}× floor"))
            .target("≤ 1.15× floor", r <= 1.15)
            .process(&runs),
    );
    let steady = median(&steady);
    let per = steady / n as u32;
    let r = ratio(per, floor);
    rows.push(
        Row::new(
            format!("apirun up, {n} migrations (in-process Runner::up)"),
            human(steady),
        )
        .per(format!("{}/migr.", human(per)))
        .ratio(format!("{r:.2}× floor"))
        .target("≤ 1.15× floor", r <= 1.15),
    );
    // What the gap is made of: apirun's own record, and rendering with many variables set.
    let record = median(&records);
    rows.push(
        Row::new(
            "  of which: apirun's record, 1 commit",
            human(record * n as u32),
        )
        .per(format!("{}/commit", human(record)))
        .ratio(format!("{:.2}× floor commit", ratio(record, commit))),
    );
    let (few, many) = render_cost(&root, n)?;
    rows.push(
        Row::new(
            format!("  of which: render one step, {n} variables set"),
            human(many),
        )
        .per("/step")
        .ratio(format!("{:.1}× with 1 variable", ratio(many, few))),
    );

    // --- wasm step overhead -----------------------------------------------------------------
    eprintln!("measuring the wasm step overhead …");
    let wasm = wasm_overhead(&root, &cache, reps)?;
    rows.push(
        Row::new("wasm step: store + instantiate + run", human(wasm))
            .per("/call")
            .target("≤ 50 µs", wasm <= Duration::from_micros(50)),
    );

    // --- cold start ---------------------------------------------------------------------------
    eprintln!("measuring cold start …");
    let mut warm_runs = Vec::new();
    for i in 0..reps.max(3) * 2 {
        let dir = root.join(format!("cold-{i}"));
        project::write_project(&dir, &api, 1).map_err(|e| e.to_string())?;
        let run = apirun.run(&dir, &cache, &["--config", "config.yaml", "up"])?;
        check_applied(&run, 1, 1)?;
        warm_runs.push(run);
        std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
    }
    let mut cold_runs = Vec::new();
    for i in 0..reps.clamp(1, 3) {
        let dir = root.join(format!("cold-nocache-{i}"));
        let empty = root.join(format!("cache-empty-{i}"));
        project::write_project(&dir, &api, 1).map_err(|e| e.to_string())?;
        let run = apirun.run(&dir, &empty, &["--config", "config.yaml", "up"])?;
        check_applied(&run, 1, 1)?;
        cold_runs.push(run);
        std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        std::fs::remove_dir_all(&empty).map_err(|e| e.to_string())?;
    }
    let with_cache = median_elapsed(&warm_runs);
    let without = median_elapsed(&cold_runs);
    rows.push(
        Row::new("cold start, 1 migration, with cache", human(with_cache))
            .target("≤ 90 ms", with_cache <= Duration::from_millis(90))
            .process(&warm_runs),
    );
    rows.push(
        Row::new("cold start, 1 migration, without cache", human(without))
            .ratio(format!("{:.1}× with cache", ratio(without, with_cache)))
            .process(&cold_runs),
    );

    // --- stages ------------------------------------------------------------------------------
    eprintln!("measuring stages …");
    let (stages, per_stage) = (8usize, 10u64);
    let mut by_bound = Vec::new();
    for bound in [1usize, 4] {
        let mut runs = Vec::new();
        for i in 0..reps {
            let dir = root.join(format!("stages-{bound}-{i}"));
            project::write_stages(&dir, &api, stages, per_stage, bound)
                .map_err(|e| e.to_string())?;
            let before = server.served();
            let run = apirun.run(&dir, &cache, &["stages", "up", "--config", "stages.yaml"])?;
            let sent = server.served() - before;
            if sent != stages as u64 * per_stage {
                return Err(format!(
                    "stages up sent {sent} requests, expected {}",
                    stages as u64 * per_stage
                ));
            }
            runs.push(run);
            std::fs::remove_dir_all(&dir).map_err(|e| e.to_string())?;
        }
        by_bound.push((bound, median_elapsed(&runs), runs));
    }
    let serial = by_bound[0].1;
    for (bound, t, runs) in &by_bound {
        let r = ratio(*t, serial);
        let mut row = Row::new(
            format!("stages up, {stages} × {per_stage}, max_concurrent_stages {bound}"),
            human(*t),
        )
        .per(format!(
            "{}/migr.",
            human(*t / (stages as u32 * per_stage as u32))
        ))
        .process(runs);
        if *bound > 1 {
            row = row
                .ratio(format!("{r:.2}× serial"))
                .target("≤ 0.33× serial", r <= 1.0 / 3.0);
        }
        rows.push(row);
    }

    // --- status on a large project -----------------------------------------------------------
    let files = opts.status_files;
    eprintln!("measuring status on {files} files …");
    let big = root.join("large");
    let applied = files - 10;
    project::write_large_project(&big, &api, files, applied)?;
    // One run to warm the page cache, as on a machine where the project is in use.
    apirun.run(&big, &cache, &["--config", "config.yaml", "status"])?;
    let mut runs = Vec::new();
    for _ in 0..reps {
        let run = apirun.run(&big, &cache, &["--config", "config.yaml", "status"])?;
        if !run.stdout.starts_with(&format!("current: {applied}\n")) {
            return Err(format!("unexpected status output:\n{}", run.stdout));
        }
        runs.push(run);
    }
    let t = median_elapsed(&runs);
    rows.push(
        Row::new(format!("status, {files} migration files"), human(t))
            .per(format!("{}/file", human(t / files as u32)))
            .target("≤ 100 ms", t <= Duration::from_millis(100))
            .process(&runs),
    );

    println!();
    print_rows(&rows);
    let judged: Vec<&Row> = rows.iter().filter(|r| r.met.is_some()).collect();
    let met = judged.iter().filter(|r| r.met == Some(true)).count();
    println!();
    println!(
        "targets met: {met} of {}; harness time {}; requests served {}",
        judged.len(),
        human(started.elapsed()),
        server.served()
    );
    Ok(())
}

/// Point this process's own wasm runtime (`Runner::new` uses the process-wide one) at the
/// harness's cache, so nothing is written outside its temporary directory.
#[allow(unsafe_code)]
fn use_cache_dir(cache: &Path) {
    // SAFETY: called from `run` before this process starts any thread (the server, the wasm
    // runtime and reqwest's runtime all start later), so nothing reads the environment
    // concurrently.
    unsafe { std::env::set_var("APIRUN_CACHE_DIR", cache) };
}

/// Build `target/release/apirun` with cargo (a no-op when it is up to date) and return its path.
fn build_apirun() -> Result<PathBuf, String> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("the bench crate lives in the workspace")?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!("building target/release/apirun …");
    let status = std::process::Command::new(&cargo)
        .current_dir(workspace)
        .args(["build", "--release", "-p", "apirun", "--bin", "apirun"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building apirun failed".into());
    }
    // The bench binary lives in target/<profile>/; apirun in target/release/.
    let target = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| workspace.join("target"));
    let exe = target
        .join("release")
        .join(format!("apirun{}", std::env::consts::EXE_SUFFIX));
    if exe.is_file() {
        Ok(exe)
    } else {
        Err(format!(
            "{} not found after building; pass --apirun PATH",
            exe.display()
        ))
    }
}

fn check_applied(run: &ProcessRun, n: u64, sent: u64) -> Result<(), String> {
    let expected = format!("applied {n} migration(s)");
    if !run.stdout.contains(&expected) || sent != n {
        return Err(format!(
            "apirun up did not apply {n} migrations with {n} requests (sent {sent}):\n{}",
            run.stdout
        ));
    }
    Ok(())
}

/// The floor of the HTTP side: N sequential POSTs from a plain blocking reqwest client (one
/// kept-alive connection), the same body a benchmark migration sends.
struct RoundTripFloor {
    client: reqwest::blocking::Client,
    url: String,
}

impl RoundTripFloor {
    fn new(api: &str) -> Result<Self, String> {
        let floor = Self {
            client: reqwest::blocking::Client::new(),
            url: format!("{api}/items"),
        };
        for i in 0..20 {
            floor.send(i)?;
        }
        Ok(floor)
    }

    fn send(&self, i: u64) -> Result<(), String> {
        let response = self
            .client
            .post(&self.url)
            .header("Content-Type", "application/json")
            .body(format!("{{\"name\": \"item-{i}\", \"n\": {i}}}\n"))
            .send()
            .map_err(|e| format!("floor request: {e}"))?;
        if response.status().as_u16() != 201 {
            return Err(format!("floor request: status {}", response.status()));
        }
        response.text().map_err(|e| format!("floor request: {e}"))?;
        Ok(())
    }

    /// One round of `n` requests; the time per request.
    fn round(&self, n: u64) -> Result<Duration, String> {
        let t = Instant::now();
        for i in 1..=n {
            self.send(i)?;
        }
        Ok(t.elapsed() / n as u32)
    }
}

/// The floor of the state side: autocommitted one-row inserts into a SQLite file with
/// apirun's settings (WAL journal, `synchronous=FULL`): one durable commit each.
struct CommitFloor {
    conn: rusqlite::Connection,
}

impl CommitFloor {
    fn new(path: &Path) -> Result<Self, String> {
        let e = |e: rusqlite::Error| format!("floor commit: {e}");
        let conn = rusqlite::Connection::open(path).map_err(e)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(e)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(e)?;
        conn.execute_batch(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL)",
        )
        .map_err(e)?;
        let floor = Self { conn };
        floor.round(10)?;
        Ok(floor)
    }

    /// One round of `n` commits; the time per commit.
    fn round(&self, n: u64) -> Result<Duration, String> {
        let e = |e: rusqlite::Error| format!("floor commit: {e}");
        let mut insert = self
            .conn
            .prepare_cached("INSERT INTO runs (version, state) VALUES (?1, 'succeeded')")
            .map_err(e)?;
        let t = Instant::now();
        for i in 1..=n {
            insert
                .execute([i64::try_from(i).unwrap_or(i64::MAX)])
                .map_err(e)?;
        }
        Ok(t.elapsed() / n as u32)
    }
}

/// apirun's own record of a migration in a run, alone: per call of
/// [`apirun::state::Store::succeed_and_begin`] (migration N succeeded with one stored value,
/// N+1 started), one durable commit each, on a fresh SQLite store.
fn record_commit(path: &Path, n: u64) -> Result<Duration, String> {
    use apirun::state::{Direction, Outcome, RunStart, SqliteStore, Store, TableNames};
    let mut store = SqliteStore::open(path, &TableNames::default()).map_err(|e| e.to_string())?;
    let start = |version: u64| RunStart {
        version,
        direction: Direction::Up,
        name: "create item",
        checksum: "0123456789abcdef",
    };
    let mut id = store.begin(start(1)).map_err(|e| e.to_string())?;
    let t = Instant::now();
    for v in 1..=n {
        let outcome = Outcome {
            status_code: 201,
            env: vec![(format!("item_{v}"), v.to_string())],
            ..Outcome::default()
        };
        id = store
            .succeed_and_begin(id, start(v), &outcome, start(v + 1))
            .map_err(|e| e.to_string())?;
    }
    Ok(t.elapsed() / n as u32)
}

/// Rendering one benchmark step with one variable set, and with `n` set (as for the last
/// migration of a run of `n`, each having extracted one value): per render, 1,000 renders.
fn render_cost(root: &Path, n: u64) -> Result<(Duration, Duration), String> {
    let dir = root.join("render");
    project::write_project(&dir, "http://127.0.0.1:9", 1).map_err(|e| e.to_string())?;
    let migrations =
        apirun::migration::load_dir(&dir.join("migration")).map_err(|e| format!("{e:?}"))?;
    let migration = migrations.first().ok_or("no migration")?;
    let step = migration.up.first().ok_or("no step")?;
    let renderer = apirun::template::Renderer::new();
    let mut vars = apirun::template::Vars::new();
    vars.insert("api_base", "http://127.0.0.1:9");
    let time = |vars: &apirun::template::Vars| -> Result<Duration, String> {
        let t = Instant::now();
        for _ in 0..1_000 {
            apirun::execute::render_step(&renderer, migration, step, vars, true, false)
                .map_err(|d| d.message.clone())?;
        }
        Ok(t.elapsed() / 1_000)
    };
    let few = time(&vars)?;
    for v in 1..n {
        vars.insert(format!("item_{v}"), v.to_string());
    }
    let many = time(&vars)?;
    Ok((few, many))
}

/// `Runner::up` alone over N migrations of a fresh project in `dir`, in this process: the
/// per-migration cost without process start-up, engine creation and plugin loading.
fn in_process_up(dir: &Path, api: &str, n: u64) -> Result<Duration, String> {
    project::write_project(dir, api, n).map_err(|e| e.to_string())?;
    let config = apirun::config::load(&dir.join("config.yaml")).map_err(|e| format!("{e:?}"))?;
    let migrations =
        apirun::migration::load_dir(&config.migrate_dir).map_err(|e| format!("{e:?}"))?;
    let mut store = apirun::execute::open_store(&config).map_err(|e| e.to_string())?;
    let runner = apirun::execute::Runner::new(&config).map_err(|e| e.to_string())?;
    let t = Instant::now();
    let summary = runner
        .up(
            &config,
            &migrations,
            store.as_mut(),
            &apirun::execute::UpOptions::default(),
            &mut apirun::execute::Silent,
        )
        .map_err(|e| e.to_string())?;
    let elapsed = t.elapsed();
    if summary.results.len() as u64 != n {
        return Err(format!(
            "in-process up applied {} of {n}",
            summary.results.len()
        ));
    }
    drop(runner);
    drop(store);
    std::fs::remove_dir_all(dir).map_err(|e| e.to_string())?;
    Ok(elapsed)
}

/// Answers every request in memory: the step runs without network.
struct Canned;

impl Outbound for Canned {
    fn send(&mut self, _request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Ok(HttpResponse {
            status: 201,
            headers: vec![],
            body: br#"{"id":"7"}"#.to_vec(),
        })
    }
    fn log(&mut self, _level: LogLevel, _message: &str) {}
}

/// Per call of the built-in `http` step: a fresh store, instantiation from the pre-linked
/// component, the guest's `run` (params parsed, the request built, `send` answered by
/// [`Canned`], the status checked, one value extracted) and teardown. The params are those
/// apirun renders for a benchmark migration. Median of `reps` rounds of 1,000 calls.
fn wasm_overhead(root: &Path, cache: &Path, reps: usize) -> Result<Duration, String> {
    let dir = root.join("wasm");
    project::write_project(&dir, "http://127.0.0.1:9", 1).map_err(|e| e.to_string())?;
    let migrations =
        apirun::migration::load_dir(&dir.join("migration")).map_err(|e| format!("{e:?}"))?;
    let migration = migrations.first().ok_or("no migration")?;
    let step = migration.up.first().ok_or("no step")?;
    let mut vars = apirun::template::Vars::new();
    vars.insert("api_base", "http://127.0.0.1:9");
    let renderer = apirun::template::Renderer::new();
    let rendered = apirun::execute::render_step(&renderer, migration, step, &vars, true, false)
        .map_err(|d| d.message.clone())?;
    let runtime =
        Runtime::new(ComponentCache::new(Some(cache.to_path_buf()))).map_err(|e| e.to_string())?;
    let plugin = runtime
        .builtin_http(Limits::default())
        .map_err(|e| e.to_string())?;
    let call = || -> Result<(), String> {
        let out = plugin
            .run(&rendered.params, Box::new(Canned))
            .map_err(|e| e.to_string())?;
        if out != [("item_1".to_string(), "7".to_string())] {
            return Err(format!("unexpected outputs {out:?}"));
        }
        Ok(())
    };
    for _ in 0..100 {
        call()?;
    }
    const CALLS: u32 = 1_000;
    let mut rounds = Vec::new();
    for _ in 0..reps.max(3) {
        let t = Instant::now();
        for _ in 0..CALLS {
            call()?;
        }
        rounds.push(t.elapsed() / CALLS);
    }
    Ok(median(&rounds))
}
