//! `apirun up` / `status` / `down` end to end: the real command line, a loopback API, a real
//! SQLite file.

use apirun_tests::{MockApi, Project, Reply, routes};
use serde_json::json;

fn api() -> MockApi {
    MockApi::start(routes(vec![
        (
            ("POST", "/vpcs"),
            Reply::json(
                201,
                json!({"vpc": {"id": "vpc-123", "subnets": [{"id": "sn-1"}, {"id": "sn-2"}]}}),
            ),
        ),
        (
            ("POST", "/vpcs/vpc-123/routes"),
            Reply::json(200, json!({"route": {"id": 77, "ok": true}})),
        ),
        (("DELETE", "/vpcs/vpc-123/routes/77"), Reply::text(204, "")),
        (("DELETE", "/vpcs/vpc-123"), Reply::text(404, "")),
    ]))
}

fn project(api: &MockApi) -> Project {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\n  - name: team\n    value: core\n",
            api.url()
        ),
    );
    p.write(
        "config/migration/001_create_vpc.yaml",
        r#"up:
  name: create vpc
  request:
    method: POST
    url: "{{.base}}/vpcs"
    headers:
      - name: X-Team
        value: "{{.env.team}}"
    body: |
      {"team": "{{.team}}"}
  response:
    result_code: ["201"]
    env_from:
      vpc_id: vpc.id
      subnet_id: vpc.subnets.1.id
      subnet_count: "vpc.subnets.#"
down:
  name: delete vpc
  method: DELETE
  url: "{{.base}}/vpcs/{{.vpc_id}}"
"#,
    );
    p.write(
        "config/migration/002_add_route.yaml",
        r#"up:
  name: add route
  request:
    method: post
    url: "{{.base}}/vpcs/{{.vpc_id}}/routes"
    queries:
      - name: subnet
        value: "{{.subnet_id}}"
    body: '{"count": {{.subnet_count}}}'
  response:
    result_code: ["200", "201"]
    env_from:
      route_id: route.id
down:
  request:
    method: DELETE
    url: "{{.base}}/vpcs/{{.vpc_id}}/routes/{{.route_id}}"
  response:
    result_code: ["204", "404"]
"#,
    );
    p
}

#[test]
fn applies_in_order_passing_extracted_values_and_records_state() {
    let api = api();
    let p = project(&api);
    let run = p.apirun(&["up"]);
    run.ok();
    assert!(
        run.stdout
            .contains("applied 2 migration(s); current version 2"),
        "{}",
        run.stdout
    );

    let got = api.received();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].path(), "/vpcs");
    assert_eq!(got[0].header("X-Team"), Some("core"));
    assert_eq!(got[0].body.trim(), r#"{"team": "core"}"#);
    assert_eq!(got[0].header("Content-Type"), Some("application/json"));
    assert_eq!(got[1].method, "POST");
    assert_eq!(got[1].url, "/vpcs/vpc-123/routes?subnet=sn-2");
    assert_eq!(got[1].body, r#"{"count": 2}"#);

    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert_eq!(rows, vec![vec!["1".to_string()], vec!["2".to_string()]]);
    let env = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT version, name, value FROM stored_env ORDER BY version, name",
    );
    assert_eq!(
        env,
        vec![
            vec!["1".to_string(), "subnet_count".into(), "2".into()],
            vec!["1".to_string(), "subnet_id".into(), "sn-2".into()],
            vec!["1".to_string(), "vpc_id".into(), "vpc-123".into()],
            vec!["2".to_string(), "route_id".into(), "77".into()],
        ]
    );
    let applied_at = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT applied_at FROM schema_migrations",
    );
    assert!(
        applied_at.iter().all(|r| r[0].ends_with('Z')),
        "{applied_at:?}"
    );

    // A second run sends nothing.
    let again = p.apirun(&["up"]);
    again.ok();
    assert!(
        again
            .stdout
            .contains("no pending migrations (current version 2)"),
        "{}",
        again.stdout
    );
    assert_eq!(api.received().len(), 2);

    let status = p.apirun(&["status"]);
    status.ok();
    assert!(
        status
            .stdout
            .starts_with("current: 2\napplied: [1 2]\npending: []\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn a_stored_value_is_used_by_a_later_run() {
    let api = api();
    let p = project(&api);
    p.apirun(&["up", "--to", "1"]).ok();
    assert_eq!(api.received().len(), 1);
    let status = p.apirun(&["status"]);
    assert!(status.stdout.contains("pending: [2]"), "{}", status.stdout);
    p.apirun(&["migrate", "up"]).ok();
    let got = api.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].url, "/vpcs/vpc-123/routes?subnet=sn-2");
}

#[test]
fn a_missing_variable_is_an_error_and_nothing_is_sent() {
    let api = api();
    let p = project(&api);
    p.write(
        "config/migration/001_create_vpc.yaml",
        "up:\n  name: create vpc\n  request:\n    method: POST\n    url: \"{{.base}}/vpcs/{{.vpc_idd}}\"\n  response:\n    result_code: [\"201\"]\n",
    );
    let run = p.apirun(&["up"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("map has no entry for key \"vpc_idd\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("001_create_vpc.yaml:5"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT COUNT(*) FROM schema_migrations",
    );
    assert_eq!(rows, vec![vec!["0".to_string()]]);
}

#[test]
fn dry_run_sends_nothing_and_records_nothing() {
    let api = api();
    let p = project(&api);
    let run = p.apirun(&["up", "--dry-run"]);
    run.ok();
    assert!(api.received().is_empty(), "{:?}", api.received());
    assert!(run.stdout.contains("would send POST"), "{}", run.stdout);
    assert!(
        run.stdout.contains("<vpc_id from 001_create_vpc.yaml>"),
        "{}",
        run.stdout
    );
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT COUNT(*) FROM migration_runs",
    );
    assert_eq!(rows, vec![vec!["0".to_string()]]);
}

#[test]
fn rejected_status_fails_the_migration_and_records_the_failure() {
    let api = MockApi::start(|_| Reply::json(500, json!({"error": "boom"})));
    let p = project(&api);
    let run = p.apirun(&["up"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("status 500 not in accepted set [201]"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("boom"), "{}", run.stderr);
    assert_eq!(api.received().len(), 1, "the second migration must not run");
    let rows = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT version, status_code, failed, state FROM migration_runs",
    );
    assert_eq!(
        rows,
        vec![vec![
            "1".to_string(),
            "500".into(),
            "1".into(),
            "failed".into()
        ]]
    );
    let applied = p.sql_rows(
        "config/migration/apirun.db",
        "SELECT COUNT(*) FROM schema_migrations",
    );
    assert_eq!(applied, vec![vec!["0".to_string()]]);
}

#[test]
fn down_rolls_back_to_a_version_and_accepts_listed_statuses() {
    let api = api();
    let p = project(&api);
    p.apirun(&["up"]).ok();
    p.apirun(&["down", "--to", "1"]).ok();
    let got = api.received();
    assert_eq!(
        got.last().map(|r| (r.method.as_str(), r.url.as_str())),
        Some(("DELETE", "/vpcs/vpc-123/routes/77"))
    );
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.starts_with("current: 1\napplied: [1]\n"),
        "{}",
        status.stdout
    );
    // version 1's flat down form needs 2xx; the API answers 404, so it fails and stays applied
    let run = p.apirun(&["down", "--all"]);
    run.expect_code(1);
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.starts_with("current: 1\n"),
        "{}",
        status.stdout
    );
}

#[test]
fn down_needs_a_target() {
    let api = api();
    let p = project(&api);
    let run = p.apirun(&["down"]);
    run.expect_code(2);
    assert!(run.stderr.contains("--to"), "{}", run.stderr);
}

#[test]
fn piped_template_is_rendered_against_project_variables() {
    let api = api();
    let p = project(&api);
    p.apirun(&["up", "--to", "1"]).ok();
    let run = p.apirun_with(
        &[
            "migrate",
            "up",
            "--config",
            "config/config.yaml",
            "--dry-run",
        ],
        &[],
        Some("Test: {{.vpc_id}}"),
    );
    run.ok();
    assert_eq!(run.stdout.trim(), "Test: vpc-123");
    assert_eq!(api.received().len(), 1);
}
