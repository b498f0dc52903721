//! Single-project features end to end: the formats users bring, auth, retries, wait, state
//! safety (crash, concurrent runs, edited files), each against a loopback API.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use apirun_tests::{MockApi, Project, Received, Reply, apirun_command, routes};
use serde_json::json;

fn config(api: &MockApi, extra: &str) -> String {
    format!(
        "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\n{extra}",
        api.url()
    )
}

fn ok_api() -> MockApi {
    MockApi::start(|r: &Received| match (r.method.as_str(), r.path()) {
        ("POST", "/token") => Reply::json(
            200,
            json!({"access_token": "tok-123", "token_type": "Bearer", "expires_in": 300}),
        ),
        _ => Reply::json(200, json!({"id": "x1", "items": [1, 2, 3]})),
    })
}

#[test]
fn basic_auth_is_injected_for_auth_name_and_readable_in_templates() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            "auth:\n  - type: basic\n    name: admin\n    config:\n      username: root\n      password: \"s3cr3t+pw\"\n",
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n    auth_name: admin\n",
    );
    p.write(
        "config/migration/002_b.yaml",
        "up:\n  name: b\n  request:\n    method: GET\n    url: \"{{.base}}/b\"\n    headers:\n      - name: X-Creds\n        value: \"{{.auth.admin}}\"\n      - name: Authorization\n        value: \"Custom mine\"\n    auth_name: admin\n",
    );
    let run = p.apirun(&["up"]);
    run.ok();
    let got = api.received();
    assert_eq!(
        got[0].header("Authorization"),
        Some("Basic cm9vdDpzM2NyM3QrcHc=")
    );
    assert_eq!(
        got[1].header("X-Creds"),
        Some("cm9vdDpzM2NyM3QrcHc="),
        "value inserted verbatim, + kept"
    );
    assert_eq!(
        got[1].header("Authorization"),
        Some("Custom mine"),
        "a step's own Authorization wins"
    );
    assert!(!run.all().contains("s3cr3t+pw"), "{}", run.all());
}

#[test]
fn oauth2_client_credentials_is_acquired_once_per_run() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            &format!(
                "auth:\n  - type: oauth2\n    name: kc\n    config:\n      grant_type: client_credentials\n      grant_config:\n        client_id: apirun\n        client_secret: very-secret\n        token_url: {}/token\n        scopes: [openid, admin]\n",
                api.url()
            ),
        ),
    );
    for (i, name) in ["001_a.yaml", "002_b.yaml"].iter().enumerate() {
        p.write(
            &format!("config/migration/{name}"),
            &format!("up:\n  name: m{i}\n  request:\n    method: POST\n    url: \"{{{{.base}}}}/items\"\n    auth_name: kc\n    body: '{{\"n\": {i}}}'\n"),
        );
    }
    let run = p.apirun(&["up"]);
    run.ok();
    assert_eq!(api.count("POST", "/token"), 1, "one token request per run");
    let token_req = api
        .received()
        .into_iter()
        .find(|r| r.path() == "/token")
        .expect("token request");
    assert!(
        token_req.body.contains("grant_type=client_credentials"),
        "{}",
        token_req.body
    );
    assert!(
        token_req.body.contains("client_secret=very-secret"),
        "{}",
        token_req.body
    );
    assert!(
        token_req.body.contains("scope=openid+admin"),
        "{}",
        token_req.body
    );
    let items: Vec<Received> = api
        .received()
        .into_iter()
        .filter(|r| r.path() == "/items")
        .collect();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .all(|r| r.header("Authorization") == Some("Bearer tok-123"))
    );
    assert!(!run.all().contains("very-secret"));
}

#[test]
fn oauth2_password_flat_form() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            &format!(
                "auth:\n  - type: oauth2\n    name: kc\n    config:\n      grant_type: password\n      client_id: cli\n      username: alice\n      password: pw\n      token_url: {}/token\n",
                api.url()
            ),
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/me\"\n    headers:\n      - name: Authorization\n        value: \"Bearer {{.auth.kc}}\"\n",
    );
    p.apirun(&["up"]).ok();
    let token_req = api
        .received()
        .into_iter()
        .find(|r| r.path() == "/token")
        .expect("token request");
    assert!(
        token_req.body.contains("grant_type=password"),
        "{}",
        token_req.body
    );
    assert!(
        token_req.body.contains("username=alice"),
        "{}",
        token_req.body
    );
    let me = api
        .received()
        .into_iter()
        .find(|r| r.path() == "/me")
        .expect("request");
    assert_eq!(me.header("Authorization"), Some("Bearer tok-123"));
}

#[test]
fn failed_auth_is_an_error_and_the_step_is_not_sent() {
    let api = MockApi::start(routes(vec![(
        ("POST", "/token"),
        Reply::json(401, json!({"error": "invalid_client"})),
    )]));
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            &format!(
                "auth:\n  - type: oauth2\n    name: kc\n    config:\n      grant_type: client_credentials\n      grant_config:\n        client_id: a\n        client_secret: b\n        token_url: {}/token\n",
                api.url()
            ),
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: POST\n    url: \"{{.base}}/items\"\n    auth_name: kc\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    assert!(run.stderr.contains("auth `kc` (oauth2)"), "{}", run.stderr);
    assert!(run.stderr.contains("401"), "{}", run.stderr);
    assert_eq!(api.count("POST", "/items"), 0);
}

#[test]
fn retries_only_where_asked_and_never_a_post_unless_named() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let api = MockApi::start(move |r: &Received| {
        if r.path() == "/flaky" {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            if n < 2 {
                return Reply::text(503, "busy");
            }
        }
        if r.path() == "/post-flaky" {
            return Reply::text(503, "busy");
        }
        Reply::json(200, json!({"ok": true}))
    });
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    p.write(
        "config/migration/001_get.yaml",
        "up:\n  name: get\n  retry:\n    attempts: 3\n    backoff: 10ms\n    statuses: [\"5xx\"]\n  request:\n    method: GET\n    url: \"{{.base}}/flaky\"\n  response:\n    result_code: [\"200\"]\n",
    );
    p.write(
        "config/migration/002_post.yaml",
        "up:\n  name: post\n  retry:\n    attempts: 3\n    backoff: 10ms\n    statuses: [503]\n  request:\n    method: POST\n    url: \"{{.base}}/post-flaky\"\n  response:\n    result_code: [\"200\"]\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    assert_eq!(
        api.count("GET", "/flaky"),
        3,
        "GET retried until it succeeded"
    );
    assert_eq!(
        api.count("POST", "/post-flaky"),
        1,
        "a POST is not retried unless the step names it"
    );
    // Naming POST makes it retryable.
    p.write(
        "config/migration/002_post.yaml",
        "up:\n  name: post\n  retry:\n    attempts: 3\n    backoff: 10ms\n    statuses: [503]\n    methods: [POST]\n  request:\n    method: POST\n    url: \"{{.base}}/post-flaky\"\n  response:\n    result_code: [\"200\"]\n",
    );
    p.apirun(&["up"]).expect_code(1);
    assert_eq!(api.count("POST", "/post-flaky"), 4);
}

#[test]
fn wait_polls_until_the_api_is_up() {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let api = MockApi::start(move |r: &Received| {
        if r.path() == "/health" && counter.fetch_add(1, Ordering::SeqCst) < 2 {
            return Reply::text(503, "starting");
        }
        Reply::json(200, json!({"ok": true}))
    });
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            "wait:\n  url: \"{{.base}}/health\"\n  status: 200\n  timeout: 10s\n  interval: 50ms\n",
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n",
    );
    p.apirun(&["wait"]).ok();
    assert_eq!(api.count("GET", "/health"), 3);
    p.apirun(&["up"]).ok();
    assert_eq!(api.count("GET", "/health"), 4);
    assert_eq!(api.count("GET", "/a"), 1);

    let down = MockApi::start(|_| Reply::text(503, "down"));
    p.write(
        "config/config.yaml",
        &config(
            &down,
            "wait:\n  url: \"{{.base}}/health\"\n  timeout: 300ms\n  interval: 50ms\n",
        ),
    );
    let run = p.apirun(&["wait"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("wait: timeout waiting for"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("last=503"), "{}", run.stderr);
}

#[test]
fn disabled_store_writes_nothing() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(&api, "store:\n  disabled: true\n"),
    );
    p.write("config/migration/001_a.yaml", "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n  response:\n    env_from:\n      id: id\n");
    p.write(
        "config/migration/002_b.yaml",
        "up:\n  name: b\n  request:\n    method: GET\n    url: \"{{.base}}/b/{{.id}}\"\n",
    );
    p.apirun(&["up"]).ok();
    p.apirun(&["up"]).ok();
    assert_eq!(
        api.count("GET", "/b/x1"),
        2,
        "stateless: every run applies everything"
    );
    let files: Vec<String> = walk(p.path());
    assert!(
        !files
            .iter()
            .any(|f| f.ends_with(".db") || f.ends_with(".lock")),
        "{files:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

#[test]
fn table_prefix_and_short_store_form() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            "store:\n  driver: sqlite\n  path: ./state/infra_state.db\n  table_prefix: infra\n",
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n",
    );
    p.apirun(&["up"]).ok();
    let rows = p.sql_rows(
        "config/state/infra_state.db",
        "SELECT version FROM infra_schema_migrations",
    );
    assert_eq!(rows, vec![vec!["1".to_string()]]);
    let runs = p.sql_rows(
        "config/state/infra_state.db",
        "SELECT COUNT(*) FROM infra_migration_runs",
    );
    assert_eq!(runs, vec![vec!["1".to_string()]]);
}

#[test]
fn body_file_render_body_and_verbatim_values() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(&api, "  - name: odd\n    value: \"a+b&c<d>'e\"\n"),
    );
    p.write(
        "config/migration/bodies/realm.json",
        "{\"name\": \"{{.odd}}\"}",
    );
    p.write(
        "config/migration/001_file.yaml",
        "up:\n  name: file\n  request:\n    method: PUT\n    url: \"{{.base}}/file?x={{.odd}}\"\n    body_file: bodies/realm.json\n",
    );
    p.write(
        "config/migration/002_raw.yaml",
        "up:\n  name: raw\n  request:\n    method: POST\n    url: \"{{.base}}/raw\"\n    render_body: false\n    body: 'keep {{.literal}}'\n",
    );
    p.apirun(&["up"]).ok();
    let got = api.received();
    assert_eq!(got[0].body, "{\"name\": \"a+b&c<d>'e\"}");
    assert_eq!(got[1].body, "keep {{.literal}}");
}

#[test]
fn unknown_key_names_file_line_and_suggests() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrat_dir: migration\nenv:\n  - name: base\n    value: {}\n",
            api.url()
        ),
    );
    let run = p.apirun(&["up"]);
    run.expect_code(2);
    assert!(run.stderr.contains("config.yaml:1:1"), "{}", run.stderr);
    assert!(run.stderr.contains("migrat_dir"), "{}", run.stderr);
    assert!(
        run.stderr.contains("did you mean `migrate_dir`?"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
}

#[test]
fn duplicate_versions_name_both_files() {
    let api = ok_api();
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    let m = "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n";
    p.write("config/migration/1_a.yaml", m);
    p.write("config/migration/001_b.yaml", m);
    let run = p.apirun(&["up"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("1_a.yaml") && run.stderr.contains("001_b.yaml"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
}

#[test]
fn a_lower_version_added_later_is_reported_and_applied() {
    let api = ok_api();
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    let m = |path: &str| {
        format!("up:\n  name: m\n  request:\n    method: GET\n    url: \"{{{{.base}}}}/{path}\"\n")
    };
    p.write("config/migration/001_a.yaml", &m("one"));
    p.write("config/migration/005_e.yaml", &m("five"));
    p.apirun(&["up"]).ok();
    p.write("config/migration/003_c.yaml", &m("three"));
    let status = p.apirun(&["status"]);
    assert!(status.stdout.contains("pending: [3]"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("was added after version 5 was applied"),
        "{}",
        status.stdout
    );
    p.apirun(&["up"]).ok();
    assert_eq!(api.count("GET", "/three"), 1);
    assert_eq!(api.count("GET", "/one"), 1);
}

#[test]
fn flat_down_with_find_and_nested_down_with_listed_codes() {
    let api = MockApi::start(routes(vec![
        (("POST", "/users"), Reply::json(201, json!({"id": 7}))),
        (
            ("GET", "/users"),
            Reply::json(200, json!({"users": [{"name": "bob", "id": 42}]})),
        ),
        (("DELETE", "/users/42"), Reply::text(204, "")),
        (("DELETE", "/groups/g1"), Reply::text(404, "gone")),
        (("POST", "/groups"), Reply::json(201, json!({"id": "g1"}))),
    ]));
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    p.write(
        "config/migration/001_user.yaml",
        r#"up:
  name: create user
  request:
    method: POST
    url: "{{.base}}/users"
    body: '{"name": "bob"}'
down:
  name: delete user
  method: DELETE
  url: "{{.base}}/users/{{.user_id}}"
  find:
    request:
      method: GET
      url: "{{.base}}/users"
    response:
      result_code: ["200"]
      env_from:
        user_id: users.0.id
"#,
    );
    p.write(
        "config/migration/002_group.yaml",
        r#"up:
  name: create group
  request:
    method: POST
    url: "{{.base}}/groups"
  response:
    env_from:
      group_id: id
down:
  request:
    method: DELETE
    url: "{{.base}}/groups/{{.group_id}}"
  response:
    result_code: ["200", "404"]
"#,
    );
    p.apirun(&["up"]).ok();
    p.apirun(&["down", "--to", "0"]).ok();
    assert_eq!(api.count("DELETE", "/groups/g1"), 1);
    assert_eq!(api.count("GET", "/users"), 1);
    assert_eq!(api.count("DELETE", "/users/42"), 1);
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.starts_with("current: 0\napplied: []\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn head_and_options_and_lower_case_methods() {
    let api = ok_api();
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    p.write(
        "config/migration/001_m.yaml",
        "up:\n  - name: head\n    request:\n      method: head\n      url: \"{{.base}}/h\"\n  - name: options\n    request:\n      method: OPTIONS\n      url: \"{{.base}}/o\"\n",
    );
    p.apirun(&["up"]).ok();
    assert_eq!(api.count("HEAD", "/h"), 1);
    assert_eq!(api.count("OPTIONS", "/o"), 1);
}

#[test]
fn editing_an_applied_migration_is_reported() {
    let api = ok_api();
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n",
    );
    p.apirun(&["up"]).ok();
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/changed\"\n",
    );
    let status = p.apirun(&["status"]);
    status.ok();
    assert!(
        status.stdout.contains("changed after it was applied"),
        "{}",
        status.stdout
    );
    let validate = p.apirun(&["validate"]);
    // An edited applied file conflicts with the recorded state (exit 3, docs/cli.md), unlike a
    // mistake in a file (2).
    validate.expect_code(3);
    assert!(
        validate.stderr.contains("changed after it was applied"),
        "{}",
        validate.stderr
    );
}

#[test]
fn create_writes_a_timestamped_file_that_validates() {
    let api = ok_api();
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    let run = p.apirun(&["create", "Create Realm!"]);
    run.ok();
    let path = run.stdout.trim().to_string();
    let name = std::path::Path::new(&path)
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name")
        .to_string();
    assert!(
        name.len() == "20261204171026_create_realm.yaml".len()
            && name.ends_with("_create_realm.yaml"),
        "{name}"
    );
    p.apirun(&["validate"]).ok();
}

#[test]
fn a_body_that_is_no_longer_json_after_rendering_is_refused() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(&api, "  - name: quote\n    value: 'say \"hi\"'\n"),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: POST\n    url: \"{{.base}}/a\"\n    body: |\n      {\n        \"msg\": \"{{.quote}}\"\n      }\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("not valid JSON after rendering"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("001_a.yaml:8"), "{}", run.stderr);
    assert!(run.stderr.contains("toJson"), "{}", run.stderr);
    assert!(api.received().is_empty());
}

#[test]
fn step_env_takes_precedence_and_go_template_forms_work() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            "  - name: who\n    value: config\n  - name: realm\n    value: Master\n",
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        r#"up:
  name: a
  env:
    who: step
  request:
    method: POST
    url: "{{.env.base}}/a"
    body: '{"who": "{{.who}}", "realm": "{{.realm | lower}}", "missing": "{{.nope | default "dflt"}}", "n": {{add 1 2}}, "prod": "{{if eq .realm "Master"}}yes{{else}}no{{end}}"}'
"#,
    );
    p.apirun(&["up"]).ok();
    assert_eq!(
        api.received()[0].body,
        r#"{"who": "step", "realm": "master", "missing": "dflt", "n": 3, "prod": "yes"}"#
    );
}

/// Start `apirun up` as a child process.
fn spawn_up(p: &Project) -> std::process::Child {
    apirun_command()
        .current_dir(p.path())
        .arg("up")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn apirun")
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_crash_mid_request_leaves_an_in_doubt_record_that_blocks_until_resolved() {
    let api = MockApi::start(|r: &Received| match r.path() {
        "/slow" => Reply::json(201, json!({"id": 1})).delayed(3000),
        _ => Reply::json(200, json!({})),
    });
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    p.write(
        "config/migration/001_slow.yaml",
        "up:\n  name: slow\n  request:\n    method: POST\n    url: \"{{.base}}/slow\"\n",
    );
    p.write(
        "config/migration/002_next.yaml",
        "up:\n  name: next\n  request:\n    method: GET\n    url: \"{{.base}}/next\"\n",
    );
    let mut child = spawn_up(&p);
    wait_until("the first request", || api.count("POST", "/slow") == 1);
    child.kill().expect("kill -9");
    let _ = child.wait();

    let run = p.apirun(&["up"]);
    run.expect_code(3);
    assert!(run.stderr.contains("version 1"), "{}", run.stderr);
    assert!(run.stderr.contains("apirun resolve"), "{}", run.stderr);
    assert_eq!(
        api.count("POST", "/slow"),
        1,
        "nothing is re-sent while in doubt"
    );
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.contains("in doubt: version 1"),
        "{}",
        status.stdout
    );

    p.apirun(&["resolve", "1", "--applied"]).ok();
    p.apirun(&["up"]).ok();
    assert_eq!(
        api.count("POST", "/slow"),
        1,
        "resolved as applied: not sent again"
    );
    assert_eq!(api.count("GET", "/next"), 1);
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert_eq!(rows, vec![vec!["1".to_string()], vec!["2".to_string()]]);
}

/// A run records the start of migration N+1 in the same commit as the success of N (one
/// durable commit per migration). Seen from the API, at the moment each request arrives: its
/// own migration is already durably recorded as started, every earlier one as succeeded.
#[test]
fn every_request_finds_its_migration_recorded_as_started_and_the_earlier_ones_finished() {
    let p = Project::new();
    let db = p.path().join("config/migration/apirun.db");
    // (request, the runs table as that request found it)
    type Seen = Vec<(String, Vec<String>)>;
    let seen: Arc<std::sync::Mutex<Seen>> = Arc::default();
    let log = seen.clone();
    let api = MockApi::start(move |r: &Received| {
        // The state as another process would read it while the request is in flight.
        let conn = rusqlite::Connection::open(&db).expect("open state");
        let mut stmt = conn
            .prepare("SELECT version, direction, state FROM migration_runs ORDER BY id")
            .expect("prepare");
        let rows: Vec<String> = stmt
            .query_map([], |row| {
                Ok(format!(
                    "{} {} {}",
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?
                ))
            })
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        log.lock()
            .expect("log")
            .push((format!("{} {}", r.method, r.path()), rows));
        Reply::json(201, json!({"id": "x"}))
    });
    p.write("config/config.yaml", &config(&api, ""));
    for v in 1..=3 {
        p.write(
            &format!("config/migration/00{v}_m.yaml"),
            &format!(
                "up:\n  request:\n    method: POST\n    url: \"{{{{.base}}}}/m{v}\"\n\
                 down:\n  method: DELETE\n  url: \"{{{{.base}}}}/m{v}\"\n"
            ),
        );
    }
    p.apirun(&["up"]).ok();
    p.apirun(&["down", "--to", "1"]).ok();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let seen = seen.lock().expect("log").clone();
    assert_eq!(
        seen,
        vec![
            ("POST /m1".to_string(), s(&["1 up started"])),
            (
                "POST /m2".to_string(),
                s(&["1 up succeeded", "2 up started"])
            ),
            (
                "POST /m3".to_string(),
                s(&["1 up succeeded", "2 up succeeded", "3 up started"])
            ),
            (
                "DELETE /m3".to_string(),
                s(&[
                    "1 up succeeded",
                    "2 up succeeded",
                    "3 up succeeded",
                    "3 down started"
                ])
            ),
            (
                "DELETE /m2".to_string(),
                s(&[
                    "1 up succeeded",
                    "2 up succeeded",
                    "3 up succeeded",
                    "3 down succeeded",
                    "2 down started"
                ])
            ),
        ]
    );
    // Nothing is left started once the run is over.
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT COUNT(*) FROM migration_runs WHERE state = 'started'",
    );
    assert_eq!(rows, vec![vec!["0".to_string()]]);
}

#[test]
fn two_concurrent_runs_apply_each_migration_once() {
    let api =
        MockApi::start(|r: &Received| Reply::json(201, json!({"path": r.path()})).delayed(300));
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    for v in 1..=3 {
        p.write(
            &format!("config/migration/00{v}_m.yaml"),
            &format!(
                "up:\n  name: m{v}\n  request:\n    method: POST\n    url: \"{{{{.base}}}}/m{v}\"\n"
            ),
        );
    }
    let first = spawn_up(&p);
    wait_until("the first run to start sending", || {
        !api.received().is_empty()
    });
    let second = p.apirun(&["up"]);
    second.expect_code(3);
    assert!(
        second.stderr.contains("locked by another run"),
        "{}",
        second.stderr
    );
    let out = first.wait_with_output().expect("first run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    p.apirun(&["up"]).ok();
    for v in 1..=3 {
        assert_eq!(api.count("POST", &format!("/m{v}")), 1, "migration {v}");
    }
}

#[test]
fn validate_reports_every_undefined_variable_and_unknown_auth_without_sending() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(
            &api,
            "auth:\n  - type: basic\n    name: admin\n    config: {username: a, password: b}\n",
        ),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: POST\n    url: \"{{.base}}/a\"\n  response:\n    env_from:\n      realm_id: id\n",
    );
    p.write(
        "config/migration/002_b.yaml",
        "up:\n  name: b\n  request:\n    method: GET\n    url: \"{{.base}}/r/{{.realm_id}}/{{.realm_idd}}\"\n    auth_name: admn\n    headers:\n      - name: X\n        value: \"{{.maybe | default \\\"d\\\"}}\"\n",
    );
    let run = p.apirun(&["validate"]);
    run.expect_code(2);
    assert!(run.stderr.contains("002_b.yaml:5"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("map has no entry for key \"realm_idd\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean `realm_id`?"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("unknown auth `admn`"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("\"maybe\""),
        "a variable with a default is not required: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("key \"realm_id\""),
        "extracted by 001: {}",
        run.stderr
    );
    assert!(run.stderr.contains("2 errors"), "{}", run.stderr);
    assert!(api.received().is_empty());
}

#[test]
fn delay_between_migrations_pauses_between_migrations() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(&api, "delay_between_migrations: 300ms\n"),
    );
    for v in 1..=3 {
        p.write(
            &format!("config/migration/00{v}_m.yaml"),
            &format!(
                "up:\n  name: m{v}\n  request:\n    method: GET\n    url: \"{{{{.base}}}}/m{v}\"\n"
            ),
        );
    }
    let started = Instant::now();
    p.apirun(&["up"]).ok();
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "two pauses of 300ms between three migrations"
    );
}

#[test]
fn down_dry_run_sends_nothing_and_keeps_state() {
    let api = MockApi::start(|r: &Received| match r.method.as_str() {
        "POST" => Reply::json(201, json!({"id": "r9"})),
        _ => Reply::text(204, ""),
    });
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, "auth:\n  - type: basic\n    name: admin\n    config: {username: u, password: topsecretpw}\n"));
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: POST\n    url: \"{{.base}}/r\"\n  response:\n    env_from:\n      rid: id\ndown:\n  name: del\n  auth: admin\n  method: DELETE\n  url: \"{{.base}}/r/{{.rid}}\"\n  headers:\n    - name: X-Token\n      value: \"{{.auth.admin}}\"\n",
    );
    p.apirun(&["up"]).ok();
    let run = p.apirun(&["down", "--all", "--dry-run"]);
    run.ok();
    assert!(run.stdout.contains("would send DELETE"), "{}", run.stdout);
    assert!(
        run.stdout.contains("/r/r9"),
        "stored values are used: {}",
        run.stdout
    );
    assert!(!run.all().contains("topsecretpw"), "{}", run.all());
    assert_eq!(api.received().len(), 1, "only the up request was ever sent");
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.starts_with("current: 1\n"),
        "{}",
        status.stdout
    );
    p.apirun(&["down", "--all"]).ok();
    let del = api
        .received()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("delete");
    assert_eq!(
        del.header("Authorization"),
        Some("Basic dTp0b3BzZWNyZXRwdw=="),
        "down.auth injects the header"
    );
}

#[test]
fn save_response_body_records_the_body() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(&api, "store:\n  save_response_body: true\n"),
    );
    p.write(
        "config/migration/001_a.yaml",
        "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a\"\n",
    );
    p.apirun(&["up"]).ok();
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT body FROM migration_runs",
    );
    assert_eq!(
        rows,
        vec![vec![r#"{"id":"x1","items":[1,2,3]}"#.to_string()]]
    );
}

#[test]
fn logging_json_and_level_from_config() {
    let api = ok_api();
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &config(&api, "logging:\n  level: debug\n  format: json\n"),
    );
    p.write("config/migration/001_a.yaml", "up:\n  name: a\n  request:\n    method: GET\n    url: \"{{.base}}/a?token=abc123secret\"\n");
    let run = p.apirun(&["up"]);
    run.ok();
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    for message in ["http request", "outbound request"] {
        assert!(
            lines.iter().any(|l| l["fields"]["message"] == message),
            "{message}: {}",
            run.stderr
        );
    }
    assert!(
        !run.stderr.contains("abc123secret"),
        "query secrets are masked: {}",
        run.stderr
    );

    p.write(
        "config/config.yaml",
        &config(&api, "logging:\n  level: warn\n"),
    );
    p.write(
        "config/migration/002_b.yaml",
        "up:\n  name: b\n  request:\n    method: GET\n    url: \"{{.base}}/b\"\n",
    );
    let quiet = p.apirun(&["up"]);
    quiet.ok();
    assert!(
        !quiet.stderr.contains("outbound request"),
        "{}",
        quiet.stderr
    );
}

#[test]
fn status_shows_who_holds_the_lock_and_the_history() {
    let api = MockApi::start(|r: &Received| match r.path() {
        "/slow" => Reply::json(201, json!({})).delayed(1500),
        _ => Reply::json(200, json!({})),
    });
    let p = Project::new();
    p.write("config/config.yaml", &config(&api, ""));
    p.write(
        "config/migration/001_slow.yaml",
        "up:\n  name: slow\n  request:\n    method: POST\n    url: \"{{.base}}/slow\"\n",
    );
    let child = spawn_up(&p);
    wait_until("the request", || api.count("POST", "/slow") == 1);
    let status = p.apirun(&["status"]);
    status.ok();
    assert!(status.stdout.contains("locked: pid"), "{}", status.stdout);
    assert!(status.stdout.contains("apirun up"), "{}", status.stdout);
    let out = child.wait_with_output().expect("run");
    assert!(out.status.success());
    let history = p.apirun(&["status", "--history"]);
    assert!(!history.stdout.contains("locked:"), "{}", history.stdout);
    assert!(
        history
            .stdout
            .contains("history:\n#1 v=1 dir=up code=201 failed=false at="),
        "{}",
        history.stdout
    );
}
