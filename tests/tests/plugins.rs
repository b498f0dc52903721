//! Custom step plugins end to end: the example `job` plugin (examples/plugins/job, built from
//! source by build.rs) registered in config.yaml and used by a migration; the sha256 pin, the
//! capability policy (deny by default, top-level allowlist, audit lines), WIT version checks,
//! params validation, and `apirun plugin list | inspect | new`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apirun::plugin::registry::sha256_hex;
use apirun_tests::{MockApi, Project, Reply, Run, apirun_exe};
use serde_json::json;

const JOB: &str = env!("APIRUN_GUEST_JOB");
const WIT_NEXT: &str = env!("APIRUN_GUEST_WIT_NEXT");
const WIT_COMPAT: &str = env!("APIRUN_GUEST_WIT_COMPAT");

fn sha256_of(path: &str) -> String {
    sha256_hex(&std::fs::read(path).expect("guest built by build.rs"))
}

/// `127.0.0.1:PORT` of a mock API.
fn host_of(api: &MockApi) -> String {
    api.url().trim_start_matches("http://").to_string()
}

/// An API with an asynchronous job: POST /jobs starts `j-1`, GET /jobs/j-1 answers `running`
/// twice, then `done` with a result; POST /exports/exp-42/ack acknowledges it.
fn job_api() -> MockApi {
    let polls = Arc::new(AtomicUsize::new(0));
    MockApi::start(move |req| match (req.method.as_str(), req.path()) {
        ("POST", "/jobs") => Reply::json(202, json!({"id": "j-1"})),
        ("GET", "/jobs/j-1") => {
            let n = polls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 {
                Reply::json(200, json!({"status": "running"}))
            } else {
                Reply::json(
                    200,
                    json!({"status": "done", "result": {"export_id": "exp-42"}}),
                )
            }
        }
        ("POST", "/exports/exp-42/ack") => Reply::json(200, json!({"ok": true})),
        _ => Reply::text(404, "not found"),
    })
}

/// The `plugins:` entry for the job plugin.
struct JobEntry {
    sha256: Option<String>,
    allowed_hosts: Vec<String>,
}

/// A project whose config registers the job plugin as `job`, with `extra` top-level config
/// lines, and two migrations: a `job` step, then an `http` step using its output.
fn job_project(api: &MockApi, entry: &JobEntry, extra: &str) -> Project {
    let p = Project::new();
    let mut plugin = format!("  - name: job\n    path: {JOB}\n");
    if let Some(sha) = &entry.sha256 {
        plugin.push_str(&format!("    sha256: {sha}\n"));
    }
    if !entry.allowed_hosts.is_empty() {
        plugin.push_str(&format!(
            "    allowed_hosts: [{}]\n",
            entry.allowed_hosts.join(", ")
        ));
    }
    plugin.push_str("    limits: {timeout: 30s, memory: 64MiB}\n");
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\nplugins:\n{plugin}{extra}",
            api.url()
        ),
    );
    p.write(
        "config/migration/001_export.yaml",
        r#"up:
  name: export the realm
  type: job
  params:
    url: "{{.base}}/jobs"
    body: {realm: demo}
    interval_ms: 20
    max_polls: 5
    id_output: job_id
    outputs:
      export_id: result.export_id
"#,
    );
    p.write(
        "config/migration/002_ack.yaml",
        r#"up:
  name: acknowledge the export
  request:
    method: POST
    url: "{{.base}}/exports/{{.export_id}}/ack"
  response:
    result_code: ["200"]
"#,
    );
    p
}

fn pinned_and_allowed(api: &MockApi) -> JobEntry {
    JobEntry {
        sha256: Some(sha256_of(JOB)),
        allowed_hosts: vec![host_of(api)],
    }
}

#[test]
fn job_step_starts_polls_until_done_and_extracts_the_result() {
    let api = job_api();
    let p = job_project(&api, &pinned_and_allowed(&api), "");
    let run = p.apirun(&["up"]);
    run.ok();
    assert!(
        run.stdout.contains("step `job` (4 request(s))"),
        "{}",
        run.stdout
    );

    let got: Vec<(String, String)> = api
        .received()
        .iter()
        .map(|r| (r.method.clone(), r.url.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("POST", "/jobs"),
        ("GET", "/jobs/j-1"),
        ("GET", "/jobs/j-1"),
        ("GET", "/jobs/j-1"),
        ("POST", "/exports/exp-42/ack"),
    ]
    .iter()
    .map(|(m, u)| (m.to_string(), u.to_string()))
    .collect();
    assert_eq!(got, expected);
    let start = &api.received()[0];
    assert_eq!(start.body, r#"{"realm":"demo"}"#);
    assert_eq!(start.header("Content-Type"), Some("application/json"));

    let env = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT version, name, value FROM stored_env ORDER BY version, name",
    );
    assert_eq!(
        env,
        vec![
            vec!["1".to_string(), "export_id".into(), "exp-42".into()],
            vec!["1".to_string(), "job_id".into(), "j-1".into()],
        ]
    );

    // Every request the plugin asked for has an audit line: plugin, step, method, host,
    // decision and status; never the path or query.
    let audit: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("outbound request"))
        .collect();
    assert_eq!(audit.len(), 5, "{}", run.stderr);
    let host = host_of(&api);
    let first = audit[0];
    for part in [
        "plugin=\"job\"",
        "step=\"001_export.yaml #1 (export the realm)\"",
        "method=\"POST\"",
        &format!("host=\"{host}\""),
        "decision=\"allowed\"",
        "status=202",
    ] {
        assert!(first.contains(part), "`{part}` missing in {first}");
    }
    assert!(!first.contains("/jobs"), "{first}");
    assert!(audit[4].contains("plugin=\"http\""), "{}", audit[4]);
}

#[test]
fn wrong_sha256_pin_is_refused_before_anything_is_sent() {
    let api = job_api();
    let entry = JobEntry {
        sha256: Some("0".repeat(64)),
        allowed_hosts: vec![host_of(&api)],
    };
    let p = job_project(&api, &entry, "");
    for args in [&["up"][..], &["validate"][..]] {
        let run = p.apirun(args);
        run.expect_code(2);
        let actual = sha256_of(JOB);
        assert!(
            run.stderr.contains(&format!(
                "plugin `job`: {JOB} has sha256 {actual}, but the config pins {}",
                "0".repeat(64)
            )),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("config.yaml:"),
            "located: {}",
            run.stderr
        );
    }
    assert!(api.received().is_empty(), "{:?}", api.received());
}

#[test]
fn plugin_without_allowed_hosts_reaches_nothing() {
    let api = job_api();
    let entry = JobEntry {
        sha256: Some(sha256_of(JOB)),
        allowed_hosts: Vec::new(),
    };
    let p = job_project(&api, &entry, "");
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    let host = host_of(&api);
    let message = run
        .stderr
        .lines()
        .find(|l| l.starts_with("Error:"))
        .unwrap_or_default();
    for part in [
        "001_export.yaml #1 (export the realm)",
        "request denied",
        &format!("host `{host}`"),
        "plugin `job`",
        "allowed: none",
    ] {
        assert!(
            message.contains(part),
            "`{part}` missing in: {}",
            run.stderr
        );
    }
    assert!(
        run.stderr.contains("decision=\"denied\""),
        "the denial is audited: {}",
        run.stderr
    );
    assert!(api.received().is_empty(), "{:?}", api.received());
}

#[test]
fn top_level_allowed_hosts_restrict_the_builtin_http_step() {
    let api = job_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\nallowed_hosts: [api.example.com]\n",
            api.url()
        ),
    );
    p.write(
        "config/migration/001_ack.yaml",
        "up:\n  request:\n    method: POST\n    url: \"{{.base}}/exports/exp-42/ack\"\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    let host = host_of(&api);
    assert!(
        run.stderr.contains(&format!(
            "host `{host}` is not in the allowed hosts of step type `http` (allowed: api.example.com)"
        )),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty(), "{:?}", api.received());

    // Listing the host lets the same step through.
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\nallowed_hosts: [api.example.com, \"{host}\"]\n",
            api.url()
        ),
    );
    p.apirun(&["up"]).ok();
    assert_eq!(api.count("POST", "/exports/exp-42/ack"), 1);
}

#[test]
fn top_level_allowed_hosts_also_bound_a_plugin() {
    let api = job_api();
    let p = job_project(
        &api,
        &pinned_and_allowed(&api),
        "allowed_hosts: [api.example.com]\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    assert!(run.stderr.contains("plugin `job`"), "{}", run.stderr);
    assert!(api.received().is_empty(), "{:?}", api.received());
}

#[test]
fn a_plugin_built_against_another_wit_minor_is_refused_with_both_versions() {
    let api = job_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nplugins:\n  - name: next\n    path: {WIT_NEXT}\n    allowed_hosts: [\"{}\"]\n",
            host_of(&api)
        ),
    );
    p.write(
        "config/migration/001_next.yaml",
        "up:\n  type: next\n  params: {}\n",
    );
    for args in [&["up"][..], &["validate"][..]] {
        let run = p.apirun(args);
        run.expect_code(2);
        assert!(
            run.stderr.contains(
                "plugin `next` was built against apirun:step@0.2.0, which this apirun cannot run: \
                 it implements apirun:step@0.1.1 and runs plugins built against apirun:step@0.1.0 to 0.1.1"
            ),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("hint: upgrade apirun to one that implements apirun:step@0.2.0"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("config.yaml:"),
            "located: {}",
            run.stderr
        );
    }
    assert!(api.received().is_empty());

    let inspect = p.apirun(&["plugin", "inspect", WIT_NEXT]);
    inspect.expect_code(2);
    assert!(
        inspect
            .stdout
            .contains("world:      apirun:step/step-plugin@0.2.0"),
        "{}",
        inspect.stdout
    );
    assert!(
        inspect.stdout.contains("compatible: no"),
        "{}",
        inspect.stdout
    );
}

#[test]
fn a_plugin_built_against_wit_0_1_0_still_runs() {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!("migrate_dir: migration\nplugins:\n  - name: compat\n    path: {WIT_COMPAT}\n"),
    );
    p.write(
        "config/migration/001_compat.yaml",
        "up:\n  type: compat\n  params: {mode: ok}\n",
    );
    p.apirun(&["up"]).ok();
    let env = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT name, value FROM stored_env",
    );
    assert_eq!(env, vec![vec!["ok".to_string(), "yes".into()]]);
}

#[test]
fn a_wasi_sleep_past_the_time_limit_stops_the_step_at_once() {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nplugins:\n  - name: compat\n    path: {WIT_COMPAT}\n    limits: {{timeout: 2s}}\n"
        ),
    );
    p.write(
        "config/migration/001_nap.yaml",
        "up:\n  - name: short nap\n    type: compat\n    params: {mode: wasi_sleep, ms: 20}\n  - name: long nap\n    type: compat\n    params: {mode: wasi_sleep, ms: 600000}\n",
    );
    let started = std::time::Instant::now();
    let run = p.apirun(&["up"]);
    run.expect_code(4);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(60),
        "the sleep was not cut short"
    );
    assert!(
        run.stderr.contains("001_nap.yaml #2 (long nap)")
            && run
                .stderr
                .contains("would not finish within its time limit of 2s")
            && run.stderr.contains("wait on the WASI clock for 600000 ms"),
        "{}",
        run.stderr
    );
}

#[test]
fn validate_checks_custom_params_through_the_plugin_and_points_at_them() {
    let api = job_api();
    let p = job_project(&api, &pinned_and_allowed(&api), "");
    std::fs::remove_file(p.path().join("config/migration/002_ack.yaml")).expect("rm");
    let run = p.apirun(&["validate"]);
    run.ok();
    assert!(
        run.stdout
            .contains("checked the params of 1 custom step(s) with their plugins"),
        "{}",
        run.stdout
    );

    p.write(
        "config/migration/003_bad.yaml",
        "up:\n  name: bad job\n  type: job\n  params:\n    url: \"{{.base}}/jobs\"\n    max_pols: 3\n",
    );
    let run = p.apirun(&["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "step 003_bad.yaml #1 (bad job): invalid params for step type `job`: max_pols: unknown field `max_pols`"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("003_bad.yaml:6:5"),
        "points at the key: {}",
        run.stderr
    );

    // `up` runs the same check over every pending migration before sending anything: the
    // valid 001 is not applied either.
    let run = p.apirun(&["up"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown field `max_pols`"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty(), "{:?}", api.received());
}

/// Values only known at run time (here an auth token) are placeholders for `validate`, so the
/// plugin still checks the rest of the params.
#[test]
fn validate_renders_values_unknown_before_the_run_as_placeholders() {
    let api = job_api();
    let p = job_project(
        &api,
        &pinned_and_allowed(&api),
        "auth:\n  - type: basic\n    name: admin\n    config: {username: ada, password: s3cret}\n",
    );
    std::fs::remove_file(p.path().join("config/migration/002_ack.yaml")).expect("rm");
    p.write(
        "config/migration/003_token.yaml",
        "up:\n  type: job\n  params:\n    url: \"{{.base}}/jobs\"\n    body: {token: \"{{.auth.admin}}\"}\n    max_polls: 0\n",
    );
    let run = p.apirun(&["validate"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("invalid params for step type `job`: max_polls: 0 is not between 1 and 1000"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    assert!(api.received().is_empty(), "{:?}", api.received());
}

#[test]
fn plugin_list_shows_builtin_and_registered_step_types_with_their_capabilities() {
    let api = job_api();
    let host = host_of(&api);
    let p = job_project(
        &api,
        &pinned_and_allowed(&api),
        &format!("allowed_hosts: [\"{host}\", api.example.com]\n"),
    );
    let run = p.apirun(&["plugin", "list", "--config", "config/config.yaml"]);
    run.ok();
    let out = &run.stdout;
    let sha = sha256_of(JOB);
    for line in [
        "http (built-in)".to_string(),
        format!("  allowed hosts: {host}, api.example.com (top-level allowed_hosts)"),
        "job".to_string(),
        format!("  path:          {JOB}"),
        "  version:       0.1.0".to_string(),
        "  wit:           apirun:step@0.1.1".to_string(),
        format!("  sha256:        {sha} (pinned)"),
        format!(
            "  allowed hosts: {host} (and only where the top-level allowed_hosts allow: {host}, api.example.com)"
        ),
        "  limits:        memory 64 MiB, fuel 10000000000, time 30s, outputs 1 MiB".to_string(),
    ] {
        assert!(
            out.lines().any(|l| l == line),
            "missing line `{line}` in:\n{out}"
        );
    }

    let json = p.apirun(&["plugin", "list", "--config", "config/config.yaml", "--json"]);
    json.ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    let types = v["step_types"].as_array().expect("step_types");
    assert_eq!(types.len(), 2);
    assert_eq!(types[1]["name"], "job");
    assert_eq!(types[1]["sha256"], sha.as_str());
    assert_eq!(types[1]["allowed_hosts"], json!([host]));
    assert_eq!(types[1]["limits"]["timeout_ms"], 30000);
    assert_eq!(types[0]["builtin"], true);

    // A plugin that cannot be used is listed with its error, and the command fails.
    let denied = job_project(
        &api,
        &JobEntry {
            sha256: Some("0".repeat(64)),
            allowed_hosts: Vec::new(),
        },
        "",
    );
    let run = denied.apirun(&["plugin", "list", "--config", "config/config.yaml"]);
    run.expect_code(2);
    assert!(
        run.stdout.contains(
            "  allowed hosts: none: the entry has no allowed_hosts, so every request is denied"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("does not match the pinned sha256"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("`job`"), "{}", run.stderr);
    assert!(api.received().is_empty());
}

#[test]
fn plugin_inspect_describes_a_component_without_registering_it() {
    let p = Project::new();
    let run = p.apirun(&["plugin", "inspect", JOB]);
    run.ok();
    let size = std::fs::metadata(JOB).expect("job wasm").len();
    for line in [
        format!("file:       {JOB}"),
        "world:      apirun:step/step-plugin@0.1.1".to_string(),
        "name:       job".to_string(),
        "version:    0.1.0".to_string(),
        format!("size:       {size} bytes"),
        format!("sha256:     {}", sha256_of(JOB)),
        "compatible: yes (this apirun implements apirun:step@0.1.1)".to_string(),
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "missing `{line}` in:\n{}",
            run.stdout
        );
    }
    assert!(
        run.stdout.contains("    apirun:step/host@0.1.1"),
        "{}",
        run.stdout
    );

    let json = p.apirun(&["plugin", "inspect", JOB, "--json"]);
    json.ok();
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["name"], "job");
    assert_eq!(v["wit"], "apirun:step@0.1.1");
    assert_eq!(v["compatible"], true);

    let not_wasm = p.write("notes.txt", "hello");
    let run = p.apirun(&["plugin", "inspect", &not_wasm.display().to_string()]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not a valid component"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("wasm32-wasip2"), "{}", run.stderr);
}

#[test]
fn plugin_new_refuses_bad_names_and_existing_folders() {
    let p = Project::new();
    let run = p.apirun(&["plugin", "new", "Bad Name"]);
    run.expect_code(2);
    assert!(run.stderr.contains("invalid plugin name"), "{}", run.stderr);
    p.write("taken/file", "x");
    let run = p.apirun(&["plugin", "new", "ok", "--dir", "taken"]);
    run.expect_code(2);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
}

/// Cargo for building a generated crate: the variables cargo sets for this test process must
/// not leak into it, and a target dir beside this build's keeps its dependencies compiled
/// from one run to the next.
fn cargo(dir: &Path, args: &[&str]) -> Run {
    let target = apirun_exe()
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("plugin-new"))
        .unwrap_or_else(|| std::env::temp_dir().join("apirun-plugin-new"));
    let mut cmd =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", &target);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if matches!(
            key,
            "RUSTFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "CARGO_BUILD_TARGET"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
        ) || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST")
            || key.starts_with("CARGO_PRIMARY")
            || key.starts_with("CARGO_BIN_")
        {
            cmd.env_remove(key);
        }
    }
    Run::from(cmd.output().expect("run cargo"))
}

/// `apirun plugin new` → a crate whose native tests pass and which builds into a component
/// that apirun registers and runs. Slow (it compiles serde and wit-bindgen twice, for the
/// host and for wasm32-wasip2: minutes on a cold cache), so run it on purpose:
/// `cargo test -p apirun-tests --test plugins -- --ignored`.
#[test]
#[ignore = "builds a generated crate with cargo (slow); run with --ignored"]
fn plugin_new_generates_a_crate_that_tests_builds_and_runs() {
    let p = Project::new();
    let run = p.apirun(&["plugin", "new", "greet"]);
    run.ok();
    let sdk = std::fs::canonicalize(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk"))
        .expect("sdk dir");
    let manifest = p.read("greet/Cargo.toml");
    assert!(
        manifest.contains(&format!("apirun-sdk = {{ path = \"{}\" }}", sdk.display())),
        "{manifest}"
    );
    let dir = p.path().join("greet");

    let test = cargo(&dir, &["test", "--offline"]);
    test.ok();
    assert!(
        test.stdout.contains("test result: ok. 3 passed"),
        "{}",
        test.stdout
    );

    let build = cargo(
        &dir,
        &[
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--offline",
        ],
    );
    build.ok();
    let target = apirun_exe()
        .parent()
        .and_then(Path::parent)
        .map(|t| t.join("plugin-new"))
        .expect("target dir");
    let wasm = target.join("wasm32-wasip2/release/greet.wasm");
    assert!(wasm.is_file(), "{}", build.stderr);

    // The component registers and runs as generated.
    let api = MockApi::start(|_| Reply::json(200, json!({"items": [{"id": 7}]})));
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nplugins:\n  - name: greet\n    path: {}\n    sha256: {}\n    allowed_hosts: [\"{}\"]\n",
            wasm.display(),
            sha256_hex(&std::fs::read(&wasm).expect("wasm")),
            host_of(&api)
        ),
    );
    p.write(
        "config/migration/001_greet.yaml",
        &format!(
            "up:\n  type: greet\n  params:\n    url: \"{}/items\"\n    path: items.0.id\n",
            api.url()
        ),
    );
    p.apirun(&["up"]).ok();
    let env = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT name, value FROM stored_env",
    );
    assert_eq!(env, vec![vec!["value".to_string(), "7".into()]]);
}
