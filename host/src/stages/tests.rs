//! Unit tests of the stages module: loading, graph order, cycles and ranges.

use std::path::Path;

use super::*;

fn graph(edges: &[(&'static str, &[&'static str])]) -> Graph {
    Graph::from_edges(edges.iter().map(|(n, d)| (*n, d.to_vec())))
}

fn names(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn waves_are_sorted_by_name_whatever_the_declaration_order() {
    let g = graph(&[
        ("cleanup", &["validation"]),
        ("validation", &["preprocessing", "setup"]),
        ("preprocessing", &["setup"]),
        ("zeta", &[]),
        ("setup", &[]),
    ]);
    let waves = g.waves();
    assert_eq!(
        waves,
        vec![
            vec!["setup".to_string(), "zeta".into()],
            vec!["preprocessing".into()],
            vec!["validation".into()],
            vec!["cleanup".into()],
        ]
    );
    assert_eq!(
        names(&g.order()),
        ["setup", "zeta", "preprocessing", "validation", "cleanup"]
    );
    assert_eq!(
        g.upstream("cleanup").into_iter().collect::<Vec<_>>(),
        ["preprocessing", "setup", "validation"]
    );
    assert_eq!(
        g.downstream("preprocessing")
            .into_iter()
            .collect::<Vec<_>>(),
        ["cleanup", "validation"]
    );
}

#[test]
fn cycles_are_found_once_each_as_the_shortest_path_from_the_smallest_name() {
    let g = graph(&[
        ("a", &["b"]),
        ("b", &["c"]),
        ("c", &["a"]),
        ("x", &["y"]),
        ("y", &["x"]),
        ("self", &["self"]),
        ("free", &[]),
    ]);
    assert_eq!(
        g.cycles(),
        vec![
            vec!["a".to_string(), "b".into(), "c".into(), "a".into()],
            vec!["x".to_string(), "y".into(), "x".into()],
        ]
    );
    // Stages on a cycle never get into the order; the others do.
    // (A self-dependency is reported by loading; the order ignores it.)
    assert_eq!(names(&g.order()), ["free", "self"]);
    assert!(graph(&[("a", &[]), ("b", &["a"])]).cycles().is_empty());
}

#[test]
fn ranges_are_inclusive_and_down_is_reversed() {
    let g = graph(&[
        ("setup", &[]),
        ("preprocessing", &["setup"]),
        ("validation", &["preprocessing"]),
        ("cleanup", &["validation"]),
    ]);
    let sel = |stage: Option<&str>, from: Option<&str>, to: Option<&str>| Selection {
        stage: stage.map(str::to_string),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    };
    let up = |s: Selection| select(&g, Direction::Up, &s).map(|v| v.join(" "));
    let down = |s: Selection| select(&g, Direction::Down, &s).map(|v| v.join(" "));
    assert_eq!(
        up(Selection::all()).as_deref(),
        Ok("setup preprocessing validation cleanup")
    );
    assert_eq!(
        up(sel(None, Some("preprocessing"), Some("validation"))).as_deref(),
        Ok("preprocessing validation")
    );
    assert_eq!(up(sel(None, None, Some("setup"))).as_deref(), Ok("setup"));
    assert_eq!(
        up(sel(Some("validation"), None, None)).as_deref(),
        Ok("validation")
    );
    assert_eq!(
        down(Selection::all()).as_deref(),
        Ok("cleanup validation preprocessing setup")
    );
    assert_eq!(
        down(sel(Some("validation"), None, None)).as_deref(),
        Ok("validation")
    );
    assert_eq!(
        down(sel(None, Some("validation"), None)).as_deref(),
        Ok("validation preprocessing setup")
    );
    assert_eq!(
        down(sel(None, None, Some("validation"))).as_deref(),
        Ok("cleanup validation")
    );
    let err = up(sel(Some("validaton"), None, None)).expect_err("unknown");
    assert_eq!(err.to_string(), "--stage: stage `validaton` not found");
    let err = select(&g, Direction::Up, &sel(None, None, Some("validaton"))).expect_err("x");
    assert_eq!(err.hint(), "did you mean `validation`?");
    let err = up(sel(None, Some("cleanup"), Some("setup"))).expect_err("reversed");
    assert!(
        err.to_string()
            .starts_with("--from cleanup comes after --to setup in the up order"),
        "{err}"
    );
}

#[test]
fn batches_keep_the_waves_of_the_selected_stages() {
    let g = graph(&[("a", &[]), ("b", &[]), ("c", &["a", "b"]), ("d", &["c"])]);
    let selected: Vec<String> = ["b", "c", "d"].iter().map(|s| s.to_string()).collect();
    assert_eq!(
        batches(&g, &selected),
        vec![
            vec!["b".to_string()],
            vec!["c".to_string()],
            vec!["d".to_string()]
        ]
    );
}

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

#[test]
fn loads_every_key_with_defaults_and_resolves_config_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a/config.yaml", "migrate_dir: m\n");
    write(dir.path(), "b/config.yaml", "migrate_dir: m\n");
    write(
        dir.path(),
        "stages.yaml",
        r#"stages:
  - name: a
    config_path: a/config.yaml
    env:
      region: eu
      count: 3
  - name: b
    config_path: b/config.yaml
    depends_on: a
    env:
      - name: listed
        value: yes
    env_from_stages:
      - stage: a
        vars: [x, y]
    timeout: 5m
    on_failure: Skip_Dependents
    condition: "{{.listed}} == 'yes' "
global:
  env:
    environment: production
  wait_between_stages: 2s
  max_concurrent_stages: 3
  rollback_on_failure: true
"#,
    );
    let file = load(&dir.path().join("stages.yaml")).expect("loads");
    assert_eq!(file.api_version, DEFAULT_API_VERSION);
    assert_eq!(file.kind, DEFAULT_KIND);
    let a = file.stage("a").expect("a");
    assert_eq!(a.config_path, dir.path().join("a/config.yaml"));
    assert_eq!(a.on_failure, OnFailure::Stop);
    assert_eq!(
        a.env
            .iter()
            .map(|(k, v)| format!("{k}={}", v.value))
            .collect::<Vec<_>>(),
        ["region=eu", "count=3"]
    );
    let b = file.stage("b").expect("b");
    assert_eq!(b.depends_on[0].value, "a");
    assert_eq!(b.env[0].0, "listed");
    assert_eq!(b.env_from_stages[0].vars.len(), 2);
    assert_eq!(
        b.timeout.as_ref().map(|t| t.value),
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(b.on_failure, OnFailure::SkipDependents);
    assert_eq!(b.condition.as_ref().map(|c| c.location.line), Some(18));
    assert_eq!(
        file.global.wait_between_stages,
        Some(std::time::Duration::from_secs(2))
    );
    assert_eq!(file.global.max_concurrent_stages, 3);
    assert!(file.global.rollback_on_failure);
}

#[test]
fn problems_are_all_reported_in_file_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "a/config.yaml", "");
    write(
        dir.path(),
        "stages.yaml",
        "kind: StageOrchestration\nstage: []\n",
    );
    let err = load(&dir.path().join("stages.yaml")).expect_err("invalid");
    let list = err.diagnostics();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0].message, "no stages defined");
    assert_eq!(list[1].message, "unknown key `stage`");
    assert_eq!(list[1].hint.as_deref(), Some("did you mean `stages`?"));

    write(
        dir.path(),
        "stages.yaml",
        "stages:\n  - name: a\n    config_path: a/config.yaml\n    env_from_stages:\n      - stage: b\n  - config_path: a/config.yaml\n  - name: c\n    config_path: a/config.yaml\n    condition: production\n",
    );
    let err = load(&dir.path().join("stages.yaml")).expect_err("invalid");
    let messages: Vec<String> = err.diagnostics().into_iter().map(|d| d.message).collect();
    assert_eq!(
        messages,
        [
            "`stages[0].env_from_stages[0].vars` is required",
            "stage a: env_from_stages stage b not found",
            "`stages[1].name` is required",
            "stage c: invalid condition `production`: condition must render to true or false, or to a comparison `a == b` / `a != b`; it rendered to `production`",
        ]
    );
}
