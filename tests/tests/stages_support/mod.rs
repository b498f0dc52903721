//! Shared by the `stages*` end-to-end tests: a loopback API that answers every stage, and
//! helpers that write stage projects and a stages.yaml.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use apirun_tests::{MockApi, Project, Received, Reply};
use serde_json::json;

/// The reply of the standard API: `POST /<x>` → 201 with `{"id": "id-<x>", "vpc": {"id":
/// "vpc-<x>"}, "result": "processed-<x>", "token": "tok-<x>-secret"}`; `DELETE` → 204; a path
/// starting with `/fail` → 500.
pub fn answer(req: &Received) -> Reply {
    let seg = req.path().trim_start_matches('/').replace('/', "-");
    if req.path().starts_with("/fail") {
        return Reply::text(500, "boom");
    }
    match req.method.as_str() {
        "DELETE" => Reply::text(204, ""),
        _ => Reply::json(
            201,
            json!({
                "id": format!("id-{seg}"),
                "vpc": {"id": format!("vpc-{seg}")},
                "result": format!("processed-{seg}"),
                "token": format!("tok-{seg}-secret"),
            }),
        ),
    }
}

/// The standard API.
pub fn api() -> MockApi {
    MockApi::start(answer)
}

/// An API that answers like [`answer`] after `delay_ms`, counting requests in flight and
/// remembering the most seen at once.
pub struct Gauge {
    pub now: Arc<AtomicUsize>,
    pub max: Arc<AtomicUsize>,
}

pub fn slow_api(delay_ms: u64) -> (MockApi, Gauge) {
    let now = Arc::new(AtomicUsize::new(0));
    let max = Arc::new(AtomicUsize::new(0));
    let (n, m) = (now.clone(), max.clone());
    let api = MockApi::start(move |req| {
        let current = n.fetch_add(1, Ordering::SeqCst) + 1;
        m.fetch_max(current, Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        n.fetch_sub(1, Ordering::SeqCst);
        answer(req)
    });
    (api, Gauge { now, max })
}

/// Write `<name>/config.yaml` (migrate_dir `migration`, `base` = the API's URL, plus `extra`
/// YAML appended) for a stage.
pub fn stage_config(p: &Project, name: &str, api: &MockApi, extra: &str) {
    p.write(
        &format!("{name}/config.yaml"),
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\n{extra}",
            api.url()
        ),
    );
}

/// A migration that POSTs `body` to `{{.base}}/<path>`, extracts `env_from` (name → JSON
/// path) and DELETEs `{{.base}}/<path>` on down.
pub fn post(path: &str, body: &str, env_from: &[(&str, &str)]) -> String {
    let mut text = format!(
        "up:\n  name: {path}\n  request:\n    method: POST\n    url: \"{{{{.base}}}}/{path}\"\n    body: '{body}'\n  response:\n    result_code: [\"201\"]\n"
    );
    if !env_from.is_empty() {
        text.push_str("    env_from:\n");
        for (k, v) in env_from {
            text.push_str(&format!("      {k}: {v}\n"));
        }
    }
    text.push_str(&format!(
        "down:\n  method: DELETE\n  url: \"{{{{.base}}}}/{path}\"\n"
    ));
    text
}

/// Write a stage: its config and its migrations (`(file name, content)`).
pub fn stage(p: &Project, name: &str, api: &MockApi, migrations: &[(&str, String)]) {
    stage_config(p, name, api, "");
    for (file, content) in migrations {
        p.write(&format!("{name}/migration/{file}"), content);
    }
}

/// The guide's four stages: setup → preprocessing → validation → cleanup. setup exports
/// `setup_id` and `vpc_id`; preprocessing takes `setup_id` and exports `processed_data`;
/// validation takes both; cleanup depends on validation.
pub fn guide_project(api: &MockApi) -> Project {
    let p = Project::new();
    stage(
        &p,
        "setup",
        api,
        &[(
            "001_setup.yaml",
            post(
                "setup",
                r#"{"step": "setup"}"#,
                &[("setup_id", "id"), ("vpc_id", "vpc.id")],
            ),
        )],
    );
    stage(
        &p,
        "preprocessing",
        api,
        &[(
            "001_process.yaml",
            post(
                "process",
                r#"{"setup": "{{.setup_id}}"}"#,
                &[("processed_data", "result")],
            ),
        )],
    );
    stage(
        &p,
        "validation",
        api,
        &[(
            "001_validate.yaml",
            post(
                "validate",
                r#"{"setup": "{{.setup_id}}", "data": "{{.processed_data}}"}"#,
                &[],
            ),
        )],
    );
    stage(
        &p,
        "cleanup",
        api,
        &[("001_cleanup.yaml", post("cleanup", "{}", &[]))],
    );
    p.write("stages.yaml", GUIDE_STAGES);
    p
}

/// stages.yaml of [`guide_project`] (declared out of order on purpose: order comes from the
/// graph).
pub const GUIDE_STAGES: &str = r#"apiVersion: apirun/v1
kind: StageOrchestration
stages:
  - name: cleanup
    config_path: cleanup/config.yaml
    depends_on: [validation]
  - name: setup
    config_path: setup/config.yaml
  - name: preprocessing
    config_path: preprocessing/config.yaml
    depends_on: [setup]
    env_from_stages:
      - stage: setup
        vars: [setup_id]
  - name: validation
    config_path: validation/config.yaml
    depends_on: [preprocessing]
    env_from_stages:
      - stage: setup
        vars: [setup_id]
      - stage: preprocessing
        vars: [processed_data]
"#;

/// `(method, path)` of every request the API received, in order.
pub fn calls(api: &MockApi) -> Vec<(String, String)> {
    api.received()
        .iter()
        .map(|r| (r.method.clone(), r.path().to_string()))
        .collect()
}

/// `(method, path)` pairs from string slices, for comparisons.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect()
}

/// The lines of `text` that contain `needle`.
pub fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}
