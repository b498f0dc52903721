//! scratch: per-phase timing of Runner::up (temporary)
use apirun::execute::{Observer, RenderedStep, StepResult};
use apirun::migration::Migration;
use apirun::state::{Direction, Outcome};
use std::time::Instant;

#[derive(Default)]
struct T {
    t0: Option<Instant>,
    step: Vec<f64>,
    commit: Vec<f64>,
    http: Vec<f64>,
}
impl Observer for T {
    fn migration_started(&mut self, _m: &Migration, _d: Direction) {
        self.t0 = Some(Instant::now());
    }
    fn step_finished(&mut self, _m: &Migration, _s: &RenderedStep, r: &StepResult) {
        let t0 = self.t0.expect("t0");
        self.step.push(t0.elapsed().as_secs_f64() * 1e6);
        self.http.push(r.duration.as_secs_f64() * 1e6);
        self.t0 = Some(Instant::now());
    }
    fn migration_finished(&mut self, _m: &Migration, _d: Direction, _o: &Outcome) {
        self.commit
            .push(self.t0.expect("t0").elapsed().as_secs_f64() * 1e6);
    }
}
fn med(v: &mut Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("cmp"));
    v[v.len() / 2]
}
fn main() {
    if std::env::args().nth(2).as_deref() == Some("wasm") { wasm(&std::env::args().nth(1).expect("dir")); return; }
    if std::env::args().nth(2).as_deref() == Some("big") { big(&std::env::args().nth(1).expect("dir")); return; }
    if std::env::args().nth(2).as_deref() == Some("micro") { micro(&std::env::args().nth(1).expect("dir")); return; }
    let dir = std::env::args().nth(1).expect("dir");
    let config =
        apirun::config::load(&std::path::Path::new(&dir).join("config.yaml")).expect("config");
    let migrations = apirun::migration::load_dir(&config.migrate_dir).expect("migs");
    let _ = std::fs::remove_file(std::path::Path::new(&dir).join("state.db"));
    let _ = std::fs::remove_file(std::path::Path::new(&dir).join("state.db-wal"));
    let mut store = apirun::execute::open_store(&config).expect("store");
    let runner = apirun::execute::Runner::new(&config).expect("runner");
    let mut t = T::default();
    let s = Instant::now();
    runner
        .up(
            &config,
            &migrations,
            store.as_mut(),
            &Default::default(),
            &mut t,
        )
        .expect("up");
    let total = s.elapsed().as_secs_f64() * 1e6 / migrations.len() as f64;
    println!(
        "per migration {total:.0}us; step(start->finished) {:.0}us (StepResult.duration {:.0}us); commit {:.0}us",
        med(&mut t.step),
        med(&mut t.http),
        med(&mut t.commit)
    );
}

#[allow(dead_code)]
fn micro(dir: &str) {
    let config = apirun::config::load(&std::path::Path::new(dir).join("config.yaml")).expect("config");
    let migrations = apirun::migration::load_dir(&config.migrate_dir).expect("migs");
    let runner = apirun::execute::Runner::new(&config).expect("runner");
    let renderer = apirun::template::Renderer::new();
    for nvars in [1usize, 200] {
        let mut vars = apirun::template::Vars::new();
        vars.insert("api_base", "http://127.0.0.1:9");
        for i in 0..nvars { vars.insert(format!("item_{i}"), i.to_string()); }
        let m = &migrations[50];
        let s = Instant::now();
        for _ in 0..1000 {
            let r = apirun::execute::render_step(&renderer, m, &m.up[0], &vars, true, false).expect("render");
            std::hint::black_box(r);
        }
        println!("render_step with {nvars} vars: {:.1}us", s.elapsed().as_secs_f64()*1e3);
        let s = Instant::now();
        for _ in 0..1000 { std::hint::black_box(vars.clone()); }
        println!("vars.clone with {nvars} vars: {:.1}us", s.elapsed().as_secs_f64()*1e3);
        let s = Instant::now();
        for _ in 0..1000 { std::hint::black_box(apirun::execute::auth_references(&renderer, m, &m.up[0]).expect("a")); }
        println!("auth_references: {:.1}us", s.elapsed().as_secs_f64()*1e3);
    }
    let _ = runner;
    // store
    let tmp = std::path::Path::new(dir).join("micro.db");
    let _ = std::fs::remove_file(&tmp);
    let _ = std::fs::remove_file(tmp.with_extension("db-wal"));
    let mut store = apirun::state::SqliteStore::open(&tmp, &Default::default()).expect("open");
    use apirun::state::{Store, RunStart};
    let st = |v: u64| RunStart { version: v, direction: Direction::Up, name: "x", checksum: "abc" };
    let mut id = store.begin(st(1)).expect("b");
    let outcome = Outcome { status_code: 201, env: vec![("item".into(), "1".into())], ..Default::default() };
    let s = Instant::now();
    for v in 1..=300u64 { id = store.succeed_and_begin(id, st(v), &outcome, st(v+1)).expect("sb"); }
    println!("succeed_and_begin: {:.1}us", s.elapsed().as_secs_f64()*1e6/300.0);
    // plugin.run against the real server
    let m = &migrations[50];
    let mut vars = apirun::template::Vars::new();
    vars.insert("api_base", apirun::config::env_pairs(&config).into_iter().next().expect("env").1);
    let r = apirun::execute::render_step(&renderer, m, &m.up[0], &vars, true, false).expect("render");
    let st = runner.step_types().get("http").expect("http");
    let client = apirun::http::HttpClient::new(apirun::config::client_settings(&config)).expect("client");
    for (label, n) in [("warm", 100), ("run", 1000)] {
        let s = Instant::now();
        for _ in 0..n {
            let ob = apirun::http::StepOutbound::new(client.clone(), st.policy.clone(), Default::default(), "x");
            std::hint::black_box(st.plugin.run(&r.params, Box::new(ob)).expect("run"));
        }
        println!("{label} plugin.run to server: {:.1}us", s.elapsed().as_secs_f64()*1e6/n as f64);
    }
    let rq = reqwest::blocking::Client::new();
    let url = r.url.clone();
    let s = Instant::now();
    for _ in 0..1000 { rq.post(&url).header("Content-Type", "application/json").body("{}").send().expect("send").text().expect("t"); }
    println!("plain reqwest: {:.1}us", s.elapsed().as_secs_f64()*1e6/1000.0);
    for (name, c) in [
        ("timeout(None)", reqwest::blocking::Client::builder().timeout(None::<std::time::Duration>).build().expect("c")),
        ("default", reqwest::blocking::Client::builder().build().expect("c")),
        ("no redirect + timeout None", reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).timeout(None::<std::time::Duration>).build().expect("c")),
    ] {
        for _ in 0..50 { c.post(&url).body("{}").send().expect("send").bytes().expect("t"); }
        let s = Instant::now();
        for _ in 0..1000 { c.post(&url).header("Content-Type", "application/json").body("{}").send().expect("send").bytes().expect("t"); }
        println!("reqwest {name}: {:.1}us", s.elapsed().as_secs_f64()*1e6/1000.0);
        let s = Instant::now();
        for _ in 0..1000 { c.post(&url).header("Content-Type", "application/json").timeout(std::time::Duration::from_secs(30)).body("{}").send().expect("send").bytes().expect("t"); }
        println!("reqwest {name} + per-request timeout: {:.1}us", s.elapsed().as_secs_f64()*1e6/1000.0);
    }
    let s = Instant::now();
    let req = apirun::http::Request { method: "POST".into(), url: url.clone(), headers: vec![("Content-Type".into(), "application/json".into())], body: Some(b"{}".to_vec()), timeout: None };
    for _ in 0..1000 { std::hint::black_box(client.execute(req.clone(), &st.policy).expect("x")); }
    println!("apirun HttpClient::execute: {:.1}us", s.elapsed().as_secs_f64()*1e6/1000.0);
}

#[allow(dead_code)]
pub fn big(dir: &str) {
    #[path = "../src/project.rs"]
    mod project;
    project::write_large_project(std::path::Path::new(dir), "http://127.0.0.1:9", 10_000, 9_990).expect("big");
}

#[allow(dead_code)]
fn wasm(dir: &str) {
    use apirun::plugin::bindings::{HttpRequest, HttpResponse, LogLevel};
    use apirun::plugin::{ComponentCache, Limits, Outbound, Runtime, TransportError};
    struct Canned;
    impl Outbound for Canned {
        fn send(&mut self, _r: HttpRequest) -> Result<HttpResponse, TransportError> {
            Ok(HttpResponse { status: 201, headers: vec![], body: br#"{"id":"7"}"#.to_vec() })
        }
        fn log(&mut self, _l: LogLevel, _m: &str) {}
    }
    let config = apirun::config::load(&std::path::Path::new(dir).join("config.yaml")).expect("config");
    let migrations = apirun::migration::load_dir(&config.migrate_dir).expect("migs");
    let m = &migrations[0];
    let mut vars = apirun::template::Vars::new();
    vars.insert("api_base", "http://127.0.0.1:9");
    let renderer = apirun::template::Renderer::new();
    let r = apirun::execute::render_step(&renderer, m, &m.up[0], &vars, true, false).expect("render");
    let rt = Runtime::new(ComponentCache::new(Some("/tmp/prof/cache".into()))).expect("rt");
    let p = rt.builtin_http(Limits::default()).expect("http");
    for _ in 0..200 { p.run(&r.params, Box::new(Canned)).expect("run"); }
    let mut v = Vec::new();
    for _ in 0..7 {
        let s = Instant::now();
        for _ in 0..1000 { std::hint::black_box(p.run(&r.params, Box::new(Canned)).expect("run")); }
        v.push(s.elapsed().as_secs_f64()*1e3);
    }
    println!("wasm per call: {:.1}us (min {:.1})", med(&mut v.clone()), v.iter().cloned().fold(f64::MAX, f64::min));
}
