//! Golden tests of what apirun prints: plain text, JSON, JUnit, Mermaid and DOT, each compared
//! exactly with a file under `tests/golden/` after redacting paths, ports, durations and
//! timestamps. `UPDATE_GOLDEN=1 cargo test -p apirun-tests --test golden` rewrites them.

mod stages_support;

use apirun_tests::golden::{assert_golden, redact, transcript};
use apirun_tests::{MockApi, Project, Reply, Run, routes};
use serde_json::json;

/// Logs carry timings and are tested elsewhere: only warnings and errors here.
const ENV: &[(&str, &str)] = &[("APIRUN_LOG", "warn")];

fn run(p: &Project, args: &[&str]) -> Run {
    p.apirun_with(args, ENV, None)
}

/// Three migrations; the second fails at its second step (500 where 200 is expected).
fn failing_project() -> (MockApi, Project) {
    let api = MockApi::start(routes(vec![
        (("POST", "/vpcs"), Reply::json(201, json!({"id": "vpc-1"}))),
        (
            ("POST", "/subnets"),
            Reply::json(201, json!({"id": "sn-1"})),
        ),
        (("PUT", "/subnets/sn-1/tags"), Reply::text(500, "boom")),
        (("DELETE", "/vpcs/vpc-1"), Reply::text(204, "")),
    ]));
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\n  - name: api_token\n    value: s3cr3t-token-value\n",
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
      - name: Authorization
        value: "Bearer {{.api_token}}"
    body: '{"cidr": "10.0.0.0/16"}'
  response:
    result_code: ["201"]
    env_from:
      vpc_id: id
down:
  method: DELETE
  url: "{{.base}}/vpcs/{{.vpc_id}}"
"#,
    );
    p.write(
        "config/migration/002_subnet.yaml",
        r#"up:
  - name: create subnet
    request:
      method: POST
      url: "{{.base}}/subnets"
      body: '{"vpc": "{{.vpc_id}}"}'
    response:
      result_code: ["201"]
      env_from:
        subnet_id: id
  - name: tag subnet
    request:
      method: PUT
      url: "{{.base}}/subnets/{{.subnet_id}}/tags"
    response:
      result_code: ["200"]
  - name: read back
    request:
      method: GET
      url: "{{.base}}/subnets/{{.subnet_id}}"
"#,
    );
    p.write(
        "config/migration/003_route.yaml",
        "up:\n  name: add route\n  request:\n    method: POST\n    url: \"{{.base}}/routes\"\n",
    );
    (api, p)
}

#[test]
fn up_failure_plain_and_junit() {
    let (_api, p) = failing_project();
    let args = ["up", "--report-junit", "reports/apirun.xml"];
    let out = run(&p, &args);
    out.expect_code(1);
    assert_golden("up_failure.txt", &transcript(&p, &args, &out));
    assert_golden(
        "up_failure.junit.xml",
        &redact(p.path(), &p.read("reports/apirun.xml")),
    );

    let args = ["status"];
    let out = run(&p, &args);
    out.ok();
    assert_golden("status.txt", &transcript(&p, &args, &out));
    let out = run(&p, &["status", "--output", "json"]);
    out.ok();
    assert_golden("status.json", &redact(p.path(), &out.stdout));
}

#[test]
fn up_failure_json() {
    let (_api, p) = failing_project();
    let out = run(&p, &["up", "--output", "json"]);
    out.expect_code(1);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(value["exit_code"], 1);
    assert!(!out.stdout.contains("s3cr3t-token-value"), "{}", out.stdout);
    assert_golden("up_failure.json", &redact(p.path(), &out.stdout));
}

#[test]
fn up_dry_run_json_masks_secrets() {
    let (api, p) = failing_project();
    let out = run(&p, &["up", "--dry-run", "-o", "json"]);
    out.ok();
    assert!(api.received().is_empty(), "a dry run sends nothing");
    assert!(!out.stdout.contains("s3cr3t-token-value"), "{}", out.stdout);
    assert_golden("up_dry_run.json", &redact(p.path(), &out.stdout));
}

#[test]
fn a_mistake_in_a_file_is_rendered_once_in_the_house_format() {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        "migrat_dir: migration\nstore:\n  type: sqlite\n  sqlite:\n    pth: x.db\n",
    );
    let args = ["validate"];
    let out = run(&p, &args);
    out.expect_code(2);
    assert_golden("validate_unknown_keys.txt", &transcript(&p, &args, &out));
    let out = run(&p, &["validate", "--output", "json"]);
    out.expect_code(2);
    assert_golden("validate_unknown_keys.json", &redact(p.path(), &out.stdout));
}

/// a → b (takes `a_id` from a); a → c (condition false: skipped); b → d (fails).
fn stages_project() -> (MockApi, Project) {
    use stages_support::*;
    let api = api();
    let p = Project::new();
    stage(
        &p,
        "a",
        &api,
        &[("001_a.yaml", post("a", "{}", &[("a_id", "id")]))],
    );
    stage(
        &p,
        "b",
        &api,
        &[("001_b.yaml", post("b", r#"{"a": "{{.a_id}}"}"#, &[]))],
    );
    stage(&p, "c", &api, &[("001_c.yaml", post("c", "{}", &[]))]);
    stage(&p, "d", &api, &[("001_d.yaml", post("fail", "{}", &[]))]);
    p.write(
        "stages.yaml",
        r#"stages:
  - name: a
    config_path: a/config.yaml
  - name: b
    config_path: b/config.yaml
    depends_on: [a]
    env_from_stages:
      - stage: a
        vars: [a_id]
  - name: c
    config_path: c/config.yaml
    depends_on: [a]
    condition: "{{.environment}} == 'production'"
  - name: d
    config_path: d/config.yaml
    depends_on: [b]
global:
  env: {environment: staging}
"#,
    );
    (api, p)
}

#[test]
fn stages_plain_json_junit_and_pictures() {
    let (_api, p) = stages_project();

    let out = run(&p, &["stages", "graph", "--no-state"]);
    out.ok();
    assert_golden("stages_graph_no_state.mmd", &out.stdout);

    let out = run(&p, &["stages", "up", "--dry-run", "--output", "json"]);
    out.ok();
    assert_golden("stages_up_dry_run.json", &redact(p.path(), &out.stdout));

    let args = ["stages", "up", "--report-junit", "stages.xml"];
    let out = run(&p, &args);
    out.expect_code(1);
    assert_golden("stages_up.txt", &transcript(&p, &args, &out));
    assert_golden(
        "stages_up.junit.xml",
        &redact(p.path(), &p.read("stages.xml")),
    );

    let out = run(&p, &["stages", "status", "--output", "json"]);
    out.ok();
    assert_golden("stages_status.json", &redact(p.path(), &out.stdout));

    let out = run(&p, &["stages", "graph"]);
    out.ok();
    assert_golden("stages_graph.mmd", &out.stdout);
    let out = run(&p, &["stages", "graph", "--format", "dot"]);
    out.ok();
    assert_golden("stages_graph.dot", &out.stdout);
}

#[test]
fn stages_run_result_as_json() {
    let (_api, p) = stages_project();
    let out = run(&p, &["stages", "up", "-o", "json"]);
    out.expect_code(1);
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(value["counts"]["failed"], 1);
    assert_golden("stages_up.json", &redact(p.path(), &out.stdout));
}

#[test]
fn quiet_prints_failures_and_the_final_line_only() {
    let (_api, p) = failing_project();
    let args = ["up", "--quiet"];
    let out = run(&p, &args);
    out.expect_code(1);
    assert_golden("up_quiet.txt", &transcript(&p, &args, &out));
}

#[test]
fn down_result_as_json_and_junit() {
    let (_api, p) = failing_project();
    run(&p, &["up"]).expect_code(1);
    let args = [
        "down",
        "--all",
        "--output",
        "json",
        "--report-junit",
        "down.xml",
    ];
    let out = run(&p, &args);
    out.ok();
    let value: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(value["counts"]["rolled_back"], 1);
    assert_eq!(value["current_version"], 0);
    assert_golden("down.json", &redact(p.path(), &out.stdout));
    assert_golden("down.junit.xml", &redact(p.path(), &p.read("down.xml")));
}
