//! Loading migration files in the Go original's exact formats and the new ones, and the errors
//! users see.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::report::{Diagnostic, Location};

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> MigrationSource {
        let path = self.path(rel);
        std::fs::write(&path, text).expect("write");
        MigrationSource {
            version: 1,
            name: "m".into(),
            path,
        }
    }

    fn load(&self, text: &str) -> Result<Migration, LoadError> {
        load_file(&self.write("001_m.yaml", text))
    }

    fn ok(&self, text: &str) -> Migration {
        match self.load(text) {
            Ok(m) => m,
            Err(e) => panic!("expected the migration to load, got:\n{e}"),
        }
    }

    fn errors(&self, text: &str) -> Vec<Diagnostic> {
        match self.load(text) {
            Ok(m) => panic!("expected an error, loaded {m:#?}"),
            Err(e) => e.diagnostics(),
        }
    }

    fn error(&self, text: &str) -> Diagnostic {
        let mut list = self.errors(text);
        assert_eq!(list.len(), 1, "expected one problem, got {list:#?}");
        list.remove(0)
    }

    fn loc(&self, line: usize, column: usize) -> Location {
        Location::new(self.path("001_m.yaml"), line, column)
    }

    fn at(&self, line: usize, column: usize) -> Option<Location> {
        Some(self.loc(line, column))
    }
}

fn pairs(list: &[Pair]) -> Vec<(&str, &str)> {
    list.iter()
        .map(|p| (p.name.as_str(), p.value.value.as_str()))
        .collect()
}

fn codes(r: &Response) -> Vec<&str> {
    r.result_code.iter().map(|c| c.value.as_str()).collect()
}

fn named(list: &[(String, crate::report::Located<String>)]) -> Vec<(&str, &str)> {
    list.iter()
        .map(|(n, v)| (n.as_str(), v.value.as_str()))
        .collect()
}

/// `examples/keycloak_migration/migration/002_create_user.yaml` of the Go original, verbatim.
const KEYCLOAK_CREATE_USER: &str = r#"up:
  name: create sample user in sample realm
  env:
    firstname: Sample
    lastname: User
  request:
    auth_name: keycloak
    method: POST
    url: "{{.env.kc_base}}/admin/realms/{{.env.realm}}/users"
    headers:
      - name: Authorization
        value: "{{.auth.keycloak}}"
    queries: [ ]
    body: |
      {
        "username": "{{.env.username}}",
        "enabled": true
      }
  response:
    # 201: created, 409: already exists
    result_code: [ "201", "409" ]

down:
  name: delete sample user
  auth: keycloak
  env: { }
  # First, find the user's internal id by username, then delete by id
  find:
    request:
      auth_name: keycloak
      method: GET
      url: "{{.env.kc_base}}/admin/realms/{{.env.realm}}/users?username={{.env.username}}&exact=true"
      headers:
        - name: Authorization
          value: "{{.auth.keycloak}}"
      queries: [ ]
      body: ""
    response:
      result_code: [ "200" ]
      env_from:
        user_id: "0.id"
  method: DELETE
  url: "{{.env.kc_base}}/admin/realms/{{.env.realm}}/users/{{.user_id}}"
  headers:
    - name: Authorization
      value: "{{.auth.keycloak}}"
  queries: [ ]
  body: ""
"#;

#[test]
fn the_go_single_step_up_loads_with_every_field() {
    let d = Dir::new();
    let m = d.ok(KEYCLOAK_CREATE_USER);
    assert_eq!((m.version, m.name.as_str()), (1, "m"));
    assert_eq!(m.up.len(), 1);
    let s = &m.up[0];
    assert_eq!(
        s.name.as_deref(),
        Some("create sample user in sample realm")
    );
    assert_eq!(s.kind, StepKind::Main);
    assert_eq!(s.step_type.value, "http");
    assert!(s.is_http());
    assert_eq!(s.location, d.loc(2, 3));
    assert_eq!(
        named(&s.env),
        [("firstname", "Sample"), ("lastname", "User")]
    );
    assert_eq!(s.env[1].1.location, d.loc(5, 15));
    let r = &s.request;
    assert_eq!(r.method.value, "POST");
    assert_eq!(r.method.location, d.loc(8, 13));
    assert_eq!(
        r.url.value,
        "{{.env.kc_base}}/admin/realms/{{.env.realm}}/users"
    );
    assert_eq!(r.url.location, d.loc(9, 10));
    assert_eq!(pairs(&r.headers), [("Authorization", "{{.auth.keycloak}}")]);
    assert_eq!(r.headers[0].value.location, d.loc(12, 16));
    assert!(r.queries.is_empty());
    let body = r.body.as_ref().expect("body");
    assert_eq!(
        body.value,
        "{\n  \"username\": \"{{.env.username}}\",\n  \"enabled\": true\n}\n"
    );
    assert_eq!(
        body.location,
        d.loc(15, 7),
        "a block body points at its first content line"
    );
    assert_eq!(r.body_file, None);
    assert_eq!(r.render_body, None);
    assert_eq!(
        r.auth_name.as_ref().map(|a| a.value.as_str()),
        Some("keycloak")
    );
    assert_eq!(codes(&s.response), ["201", "409"]);
    assert_eq!(s.response.result_code[1].location, d.loc(21, 27));
    assert!(s.response.env_from.is_empty());
    assert_eq!(s.response.env_missing, EnvMissing::Skip);
    assert_eq!(
        (s.params.as_ref(), s.retry.as_ref(), s.timeout),
        (None, None, None)
    );
}

#[test]
fn the_go_flat_down_becomes_find_then_main() {
    let d = Dir::new();
    let m = d.ok(KEYCLOAK_CREATE_USER);
    assert!(m.can_roll_back());
    assert_eq!(m.down.len(), 2);
    let find = &m.down[0];
    assert_eq!(find.kind, StepKind::Find);
    assert_eq!(find.name.as_deref(), Some("delete sample user"));
    assert_eq!(find.location, d.loc(29, 5));
    assert_eq!(find.request.method.value, "GET");
    assert_eq!(
        find.request.url.value,
        "{{.env.kc_base}}/admin/realms/{{.env.realm}}/users?username={{.env.username}}&exact=true"
    );
    assert_eq!(find.request.body, None, "an empty body is no body");
    assert_eq!(codes(&find.response), ["200"]);
    assert_eq!(named(&find.response.env_from), [("user_id", "0.id")]);
    assert_eq!(find.response.env_from[0].1.location, d.loc(41, 18));
    let main = &m.down[1];
    assert_eq!(main.kind, StepKind::Main);
    assert_eq!(main.name.as_deref(), Some("delete sample user"));
    assert_eq!(main.location, d.loc(24, 3));
    assert_eq!(main.request.method.value, "DELETE");
    assert_eq!(main.request.method.location, d.loc(42, 11));
    assert_eq!(
        main.request.url.value,
        "{{.env.kc_base}}/admin/realms/{{.env.realm}}/users/{{.user_id}}"
    );
    assert_eq!(
        pairs(&main.request.headers),
        [("Authorization", "{{.auth.keycloak}}")]
    );
    assert_eq!(
        main.request
            .auth_name
            .as_ref()
            .map(|a| (a.value.as_str(), a.location.line)),
        Some(("keycloak", 25))
    );
    assert_eq!(
        codes(&main.response),
        ["2xx"],
        "the flat form accepts any 2xx"
    );
    assert!(main.env.is_empty());
}

#[test]
fn flat_down_without_find_is_one_step_with_env() {
    let d = Dir::new();
    let m = d.ok(
        "up:\n  request: {method: GET, url: http://x}\ndown:\n  name: noop\n  env: {id: 7}\n  method: get\n  url: \"{{.api}}/health\"\n",
    );
    assert_eq!(m.down.len(), 1);
    assert_eq!(m.down[0].request.method.value, "GET");
    assert_eq!(named(&m.down[0].env), [("id", "7")]);
    assert_eq!(m.down[0].request.auth_name, None);
}

#[test]
fn nested_down_accepts_its_own_result_codes() {
    let d = Dir::new();
    let m = d.ok(
        "up:\n  request: {method: POST, url: http://x/items}\ndown:\n  name: remove\n  auth: admin\n  env:\n    id: \"{{.item_id}}\"\n  request:\n    method: DELETE\n    url: \"http://x/items/{{.id}}\"\n  response:\n    result_code: [\"200\", \"404\"]\n",
    );
    assert_eq!(m.down.len(), 1);
    let s = &m.down[0];
    assert_eq!(s.kind, StepKind::Main);
    assert_eq!(s.name.as_deref(), Some("remove"));
    assert_eq!(s.request.method.value, "DELETE");
    assert_eq!(codes(&s.response), ["200", "404"]);
    assert_eq!(
        s.request.auth_name.as_ref().map(|a| a.value.as_str()),
        Some("admin")
    );
    assert_eq!(named(&s.env), [("id", "{{.item_id}}")]);
}

#[test]
fn multi_step_lists_under_up_and_down() {
    let d = Dir::new();
    let m = d.ok(r#"up:
  - name: create realm
    request:
      method: POST
      url: http://kc/realms
      body: '{"realm": "demo"}'
    response:
      result_code: [201]
      env_from:
        realm_id: id
        realm_name: realm
  - name: create client
    env:
      realm: "{{.realm_name}}"
    request:
      method: post
      url: "http://kc/realms/{{.realm}}/clients"
down:
  - name: delete client
    request: {method: DELETE, url: "http://kc/clients/x"}
  - method: DELETE
    url: "http://kc/realms/{{.realm_id}}"
"#);
    let names: Vec<Option<&str>> = m.up.iter().map(|s| s.name.as_deref()).collect();
    assert_eq!(names, [Some("create realm"), Some("create client")]);
    assert_eq!(m.up[0].location, d.loc(2, 5));
    assert_eq!(m.up[1].location, d.loc(12, 5));
    assert_eq!(codes(&m.up[0].response), ["201"]);
    assert_eq!(
        named(&m.up[0].response.env_from),
        [("realm_id", "id"), ("realm_name", "realm")]
    );
    assert_eq!(m.up[1].request.method.value, "POST");
    assert_eq!(m.down.len(), 2);
    assert_eq!(m.down[0].request.url.value, "http://kc/clients/x");
    assert_eq!(m.down[1].name, None);
    assert_eq!(
        codes(&m.down[1].response),
        ["2xx"],
        "a flat item in a list keeps the flat default"
    );
}

#[test]
fn methods_any_case_head_and_options() {
    let d = Dir::new();
    for (written, stored) in [
        ("get", "GET"),
        ("Patch", "PATCH"),
        ("HEAD", "HEAD"),
        ("options", "OPTIONS"),
        (" delete ", "DELETE"),
    ] {
        let m = d.ok(&format!(
            "up:\n  request:\n    method: \"{written}\"\n    url: http://x\n"
        ));
        assert_eq!(m.up[0].request.method.value, stored);
        assert_eq!(m.up[0].request.method.location, d.loc(3, 13));
    }
    let e = d.error("up:\n  request:\n    method: \"GET /x\"\n    url: http://x\n");
    assert_eq!(e.message, "invalid HTTP method `GET /x`");
    assert_eq!(e.location, d.at(3, 13));
}

#[test]
fn http_steps_need_method_and_url() {
    let d = Dir::new();
    let list = d.errors("up:\n  name: x\n  request:\n    headers: []\n");
    let got: Vec<(&str, Option<Location>)> = list
        .iter()
        .map(|e| (e.message.as_str(), e.location.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("`up.request.method` is required", d.at(4, 5)),
            ("`up.request.url` is required", d.at(4, 5)),
        ]
    );
    let e = d.error("up:\n  name: x\n");
    assert_eq!(e.message, "`up.request` is required");
    assert_eq!(e.location, d.at(2, 3));
    let e = d.error("up:\n  request: {method: GET, url: \"  \"}\n");
    assert_eq!(e.message, "`up.request.url` must not be empty");
    let list = d.errors("up:\n  request: {method: GET, url: http://x}\ndown:\n  name: undo\n");
    let got: Vec<(&str, Option<Location>)> = list
        .iter()
        .map(|e| (e.message.as_str(), e.location.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("`down.method` is required", d.at(4, 3)),
            ("`down.url` is required", d.at(4, 3))
        ]
    );
}

#[test]
fn headers_as_a_mapping_are_refused_with_the_list_form() {
    let d = Dir::new();
    let e = d.error("up:\n  request:\n    method: GET\n    url: http://x\n    headers:\n      Authorization: Bearer x\n");
    assert_eq!(
        e.message,
        "`up.request.headers` must be a list of `{name, value}` entries, found a mapping"
    );
    assert_eq!(e.location, d.at(6, 7));
    assert_eq!(
        e.hint.as_deref(),
        Some("write it as a list:\n       - name: Authorization\n         value: Bearer x")
    );
}

#[test]
fn queries_and_header_values_of_any_scalar_type() {
    let d = Dir::new();
    let m = d.ok(
        "up:\n  request:\n    method: GET\n    url: http://x\n    queries:\n      - name: page\n        value: 2\n      - name: all\n        value: true\n      - name: empty\n    headers:\n      - {name: X-A, value: a}\n      - {name: X-A, value: b}\n",
    );
    let r = &m.up[0].request;
    assert_eq!(
        pairs(&r.queries),
        [("page", "2"), ("all", "true"), ("empty", "")]
    );
    assert_eq!(
        pairs(&r.headers),
        [("X-A", "a"), ("X-A", "b")],
        "repeated headers are kept in order"
    );
    let e = d.error(
        "up:\n  request:\n    method: GET\n    url: http://x\n    queries:\n      - value: 1\n",
    );
    assert_eq!(e.message, "`up.request.queries[0].name` is required");
}

#[test]
fn body_file_resolves_against_the_migration_directory() {
    let d = Dir::new();
    std::fs::create_dir(d.path("artifact")).expect("mkdir");
    std::fs::write(d.path("artifact/dashboard.json"), "{}").expect("write");
    let m = d.ok("up:\n  request:\n    method: POST\n    url: http://x\n    body_file: artifact/dashboard.json\n    render_body: false\n");
    let r = &m.up[0].request;
    assert_eq!(
        r.body_file.as_ref().map(|f| f.value.clone()),
        Some(d.path("artifact/dashboard.json"))
    );
    assert_eq!(
        r.body_file.as_ref().map(|f| f.location.clone()),
        Some(d.loc(5, 16))
    );
    assert_eq!(r.render_body, Some(false));
    let m = d.ok("up:\n  request:\n    method: POST\n    url: http://x\n    body_file: \"{{.dir}}/x.json\"\n");
    assert_eq!(
        m.up[0].request.body_file.as_ref().map(|f| f.value.clone()),
        Some(d.path("{{.dir}}/x.json")),
        "a templated path is checked when rendered"
    );
}

#[test]
fn missing_body_file_is_located_with_a_hint() {
    let d = Dir::new();
    // The Go original read body_file relative to the working directory.
    let e = d.error(
        "up:\n  request:\n    method: POST\n    url: http://x\n    body_file: \"examples/grafana_migration/artifact/001_dashboard.json\"\n",
    );
    assert_eq!(
        e.message,
        format!(
            "body file not found: {}",
            d.path("examples/grafana_migration/artifact/001_dashboard.json")
                .display()
        )
    );
    assert_eq!(e.location, d.at(5, 16));
    assert!(
        e.hint
            .as_deref()
            .is_some_and(|h| h.contains("relative to the migration file's directory"))
    );
    let list = d.errors("up:\n  request:\n    method: POST\n    url: http://x\n    body: x\n    body_file: 001_m.yaml\n");
    assert_eq!(
        list[0].message,
        "`up.request.body` and `up.request.body_file` are both set"
    );
}

#[test]
fn mapping_and_list_bodies_become_json_text() {
    let d = Dir::new();
    let m = d.ok(
        "up:\n  request:\n    method: POST\n    url: http://x\n    body:\n      name: \"{{.name}}\"\n      enabled: true\n      count: 3\n      tags: [a, b]\n",
    );
    let body = m.up[0].request.body.as_ref().expect("body");
    assert_eq!(
        body.value,
        r#"{"name":"{{.name}}","enabled":true,"count":3,"tags":["a","b"]}"#
    );
    assert_eq!(body.location, d.loc(6, 7));
    let m = d.ok("up:\n  request:\n    method: POST\n    url: http://x\n    body: [1, \"two\"]\n");
    assert_eq!(
        m.up[0].request.body.as_ref().map(|b| b.value.as_str()),
        Some(r#"[1,"two"]"#)
    );
}

#[test]
fn result_codes_in_every_written_form() {
    let d = Dir::new();
    let code_list = |codes_yaml: &str| {
        let m = d.ok(&format!("up:\n  request: {{method: GET, url: http://x}}\n  response:\n    result_code: {codes_yaml}\n"));
        codes(&m.up[0].response)
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(code_list("200"), ["200"]);
    assert_eq!(code_list("\"204\""), ["204"]);
    assert_eq!(code_list("[200, \"404\"]"), ["200", "404"]);
    assert_eq!(code_list("[\"2XX\", 301]"), ["2xx", "301"]);
    assert_eq!(code_list("[\"${{.expected}}\"]"), ["${{.expected}}"]);
    assert!(code_list("[]").is_empty());
    let e = d.error("up:\n  request: {method: GET, url: http://x}\n  response:\n    result_code: [\"200\", ok]\n");
    assert_eq!(
        e.message,
        "invalid status `ok` in `up.response.result_code`"
    );
    assert_eq!(e.location, d.at(4, 26));
}

#[test]
fn env_missing_and_env_from() {
    let d = Dir::new();
    let m = d.ok("up:\n  request: {method: GET, url: http://x}\n  response:\n    env_from: {a: data.id, b: \"items.#(name==\\\"x\\\").id\"}\n    env_missing: FAIL\n");
    let r = &m.up[0].response;
    assert_eq!(
        named(&r.env_from),
        [("a", "data.id"), ("b", "items.#(name==\"x\").id")]
    );
    assert_eq!(r.env_missing, EnvMissing::Fail);
    assert_eq!(r.env_missing.as_str(), "fail");
    let e = d.error(
        "up:\n  request: {method: GET, url: http://x}\n  response:\n    env_missing: warn\n",
    );
    assert_eq!(e.message, "invalid `up.response.env_missing`: `warn`");
    assert_eq!(e.hint.as_deref(), Some("valid values: `skip`, `fail`"));
    let e = d.error(
        "up:\n  request: {method: GET, url: http://x}\n  response:\n    env_from: {a: \"\"}\n",
    );
    assert_eq!(e.message, "`up.response.env_from.a` has no path");
}

#[test]
fn retry_and_timeout_per_step() {
    let d = Dir::new();
    let m = d.ok(
        "up:\n  request: {method: POST, url: http://x}\n  timeout: 30s\n  retry:\n    attempts: 3\n    backoff: 250ms\n    statuses: [503, \"5xx\", 429]\n    methods: [post, put]\n",
    );
    let s = &m.up[0];
    assert_eq!(s.timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        s.retry,
        Some(Retry {
            attempts: 3,
            backoff: Duration::from_millis(250),
            statuses: vec![
                StatusPattern::Code(503),
                StatusPattern::Class(5),
                StatusPattern::Code(429)
            ],
            methods: Some(vec!["POST".into(), "PUT".into()]),
            location: d.loc(5, 5),
        })
    );
    let m = d.ok("up:\n  request: {method: GET, url: http://x}\n  retry: {attempts: 2}\n");
    let r = m.up[0].retry.as_ref().expect("retry");
    assert_eq!(
        (r.attempts, r.backoff, r.statuses.len(), r.methods.is_none()),
        (2, Duration::from_secs(1), 0, true)
    );
    let list = d.errors("up:\n  request: {method: GET, url: http://x}\n  timeout: 0s\n  retry: {attempts: 0, statuses: [\"5x\"], backoff: soon}\n");
    let messages: Vec<&str> = list.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`up.timeout` must be greater than 0",
            "invalid `up.retry.attempts`: 0",
            "invalid status `5x` in `up.retry.statuses`",
            "invalid duration for `up.retry.backoff`: `soon` is not a duration",
        ]
    );
}

#[test]
fn custom_step_types_take_params_and_need_no_request() {
    let d = Dir::new();
    let m = d.ok("up:\n  - name: notify\n    type: slack\n    params:\n      channel: \"#ops\"\n      text: \"{{.realm}} created\"\n");
    let s = &m.up[0];
    assert_eq!(s.step_type.value, "slack");
    assert_eq!(s.step_type.location, d.loc(3, 11));
    assert!(!s.is_http());
    let params = s.params.as_ref().expect("params");
    assert_eq!(
        params.value,
        json!({"channel": "#ops", "text": "{{.realm}} created"})
    );
    assert_eq!(params.location, d.loc(5, 7));
    assert_eq!(s.request.method.value, "");
    assert_eq!(s.request.url.location, d.loc(2, 5));
    assert_eq!(
        check_step_types(std::slice::from_ref(&m), &["slack"]),
        Vec::new()
    );
    let unknown = check_step_types(&[m], &["slacks"]);
    assert_eq!(unknown.len(), 1);
    assert_eq!(unknown[0].message, "unknown step type `slack`");
    assert_eq!(unknown[0].hint.as_deref(), Some("did you mean `slacks`?"));
    let e = d.error("up:\n  request: {method: GET, url: http://x}\n  params: {a: 1}\n");
    assert_eq!(e.message, "`up.params` has no effect on an `http` step");
}

#[test]
fn unknown_keys_suggest_the_close_one_at_the_exact_place() {
    let d = Dir::new();
    let e = d.error("up:\n  name: x\n  reqest:\n    method: GET\n");
    assert_eq!(e.message, "unknown key `reqest` in `up`");
    assert_eq!(e.location, d.at(3, 3));
    assert_eq!(e.hint.as_deref(), Some("did you mean `request`?"));
    let list = d.errors(
        "up:\n  request:\n    method: GET\n    url: http://x\n    header: []\n  respons: {}\n",
    );
    let got: Vec<(&str, Option<&str>, Option<Location>)> = list
        .iter()
        .map(|e| (e.message.as_str(), e.hint.as_deref(), e.location.clone()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "unknown key `header` in `up.request`",
                Some("did you mean `headers`?"),
                d.at(5, 5)
            ),
            (
                "unknown key `respons` in `up`",
                Some("did you mean `response`?"),
                d.at(6, 3)
            ),
        ]
    );
    let e = d.error("up:\n  request: {method: GET, url: http://x}\nrollback: {}\n");
    assert_eq!(e.message, "unknown key `rollback`");
    assert_eq!(e.hint.as_deref(), Some("valid keys: `up`, `down`"));
}

#[test]
fn mixing_the_flat_and_nested_down_forms_is_explained() {
    let d = Dir::new();
    let list = d.errors("up:\n  request: {method: GET, url: http://x}\ndown:\n  method: DELETE\n  request:\n    url: http://x\n");
    assert_eq!(
        list[0].message,
        "`down.method` belongs to the flat down form, but this step has `request:`"
    );
    assert_eq!(list[0].location, d.at(4, 3));
    assert_eq!(list[1].message, "`down.request.method` is required");
}

#[test]
fn file_level_mistakes() {
    let d = Dir::new();
    let e = d.error("");
    assert_eq!(e.message, "migration file is empty");
    assert_eq!(e.location, d.at(1, 1));
    let e = d.error("down:\n  method: GET\n  url: http://x\n");
    assert_eq!(e.message, "`up` is required");
    let e = d.error("up: []\n");
    assert_eq!(e.message, "`up` has no steps");
    let e = d.error("up: do it\n");
    assert_eq!(
        e.message,
        "`up` must be a step (a mapping) or a list of steps, found a string"
    );
    let e = d.error("up:\n  - request: {method: GET, url: http://x}\n  - name: [x]\n    request: {method: GET, url: http://x}\n");
    assert_eq!(e.message, "`up[1].name` must be a string, found a list");
    assert_eq!(e.location, d.at(3, 11));
    let e = d.error(
        "up:\n  request: {method: GET, url: http://x}\n  request: {method: GET, url: http://y}\n",
    );
    assert_eq!(e.message, "duplicate key `request`");
}

#[test]
fn no_down_means_no_rollback() {
    let d = Dir::new();
    let m = d.ok("up:\n  request: {method: GET, url: http://x}\n");
    assert!(m.down.is_empty());
    assert!(!m.can_roll_back());
    let m = d.ok("up:\n  request: {method: GET, url: http://x}\ndown:\n");
    assert!(m.down.is_empty());
}

#[test]
fn checksum_is_the_sha256_of_the_bytes() {
    let d = Dir::new();
    let m = d.ok("up:\n  request: {method: GET, url: http://x}\n");
    assert_eq!(
        m.checksum,
        "431223bbb34fcee71ca06961d34e1524da8a186c8f271d130964fca54359339f"
    );
}

#[test]
fn load_all_reports_the_problems_of_every_file() {
    let d = Dir::new();
    std::fs::write(
        d.path("001_good.yaml"),
        "up:\n  request: {method: GET, url: http://x}\n",
    )
    .expect("write");
    std::fs::write(d.path("002_bad.yaml"), "up:\n  reqest: {}\n").expect("write");
    std::fs::write(d.path("003_worse.yaml"), "up: [\n").expect("write");
    let sources = discover(d.dir.path()).expect("discover");
    let err = load_all(&sources).expect_err("two bad files");
    let files: Vec<String> = err
        .diagnostics()
        .iter()
        .map(|e| {
            e.location
                .as_ref()
                .map(|l| l.file.file_name().map(|f| f.to_string_lossy().into_owned()))
                .unwrap_or_default()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(files, ["002_bad.yaml", "003_worse.yaml"]);
    std::fs::remove_file(d.path("002_bad.yaml")).expect("rm");
    std::fs::remove_file(d.path("003_worse.yaml")).expect("rm");
    let all = load_dir(d.dir.path()).expect("loads");
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].version, all[0].name.as_str()), (1, "good"));
}

#[test]
fn a_go_stage_migration_loads_unchanged() {
    let d = Dir::new();
    let m = d.ok(r#"# Create VPC infrastructure
up:
  name: create-vpc
  env:
    vpc_name: "{{.project_name}}-vpc"
  request:
    auth_name: aws_api
    method: POST
    url: "{{.api_base}}/vpc"
    headers:
      - name: Content-Type
        value: application/json
    body: |
      {
        "cidr_block": "{{.vpc_cidr}}"
      }
  response:
    result_code: ["201"]
    env_from:
      vpc_id: "vpc.id"
      vpc_cidr: "vpc.cidr_block"

down:
  name: delete-vpc
  auth: aws_api
  find:
    request:
      method: GET
      url: "{{.api_base}}/vpc?name={{.vpc_name}}"
    response:
      result_code: ["200"]
      env_from:
        vpc_id: "vpcs.0.id"
  method: DELETE
  url: "{{.api_base}}/vpc/{{.vpc_id}}""#);
    assert_eq!(
        m.up[0].request.body.as_ref().map(|b| b.location.line),
        Some(14)
    );
    assert_eq!(
        named(&m.up[0].response.env_from),
        [("vpc_id", "vpc.id"), ("vpc_cidr", "vpc.cidr_block")]
    );
    let kinds: Vec<StepKind> = m.down.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [StepKind::Find, StepKind::Main]);
    assert_eq!(
        m.down[1]
            .request
            .auth_name
            .as_ref()
            .map(|a| a.value.as_str()),
        Some("aws_api")
    );
    assert_eq!(m.down[0].request.auth_name, None);
}
