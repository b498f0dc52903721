//! Control of a stages run end to end: conditions, `on_failure`, `rollback_on_failure`,
//! `timeout`, `wait_between_stages` and the `max_concurrent_stages` bound.

mod stages_support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use apirun_tests::Project;
use stages_support::*;

/// Independent stages `a`, `b`, `c` (each POSTs `/<name>`) plus `d` depending on `a`; `a`
/// POSTs `/fail-a` (500) when `a_fails`.
fn four(api: &apirun_tests::MockApi, a_fails: bool, a_extra: &str) -> Project {
    let p = Project::new();
    let a_path = if a_fails { "fail-a" } else { "a" };
    stage(&p, "a", api, &[("001_a.yaml", post(a_path, "{}", &[]))]);
    for s in ["b", "c", "d"] {
        stage(&p, s, api, &[("001_x.yaml", post(s, "{}", &[]))]);
    }
    p.write(
        "stages.yaml",
        &format!(
            "stages:\n  - name: a\n    config_path: a/config.yaml\n{a_extra}  - name: b\n    config_path: b/config.yaml\n  - name: c\n    config_path: c/config.yaml\n  - name: d\n    config_path: d/config.yaml\n    depends_on: [a]\n"
        ),
    );
    p
}

#[test]
fn a_false_condition_skips_the_stage_and_reports_it_as_skipped() {
    let api = api();
    let p = guide_project(&api);
    let stages = GUIDE_STAGES.replace(
        "  - name: cleanup\n    config_path: cleanup/config.yaml\n",
        "  - name: cleanup\n    config_path: cleanup/config.yaml\n    condition: \"{{.environment}} == 'production'\"\n",
    ) + "global:\n  env:\n    environment: staging\n";
    p.write("stages.yaml", &stages);
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    assert!(
        !calls(&api).contains(&("POST".to_string(), "/cleanup".to_string())),
        "{:?}",
        calls(&api)
    );
    assert!(
        run.stdout
            .contains("[cleanup] skipped: condition `{{.environment}} == 'production'` is false"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("all 4 stage(s) done: 3 succeeded, 1 skipped"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stderr
            .contains("stage executed successfully stage=cleanup"),
        "{}",
        run.stderr
    );
    let status = p.apirun(&["stages", "status"]);
    assert!(
        lines_with(&status.stdout, "stage=cleanup")[0].starts_with("stage=cleanup status=skipped "),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("  reason: condition `{{.environment}} == 'production'` is false"),
        "{}",
        status.stdout
    );
    // The Go-template form, true this time.
    p.write(
        "stages.yaml",
        &stages.replace(
            "\"{{.environment}} == 'production'\"",
            "'{{ eq .env.environment \"staging\" }}'",
        ),
    );
    p.apirun(&["stages", "up"]).ok();
    assert_eq!(
        calls(&api).last(),
        Some(&("POST".to_string(), "/cleanup".to_string()))
    );
}

#[test]
fn dependents_of_a_skipped_stage_run_unless_they_need_its_values() {
    let api = api();
    let p = guide_project(&api);
    let stages = GUIDE_STAGES.replace(
        "  - name: setup\n    config_path: setup/config.yaml\n",
        "  - name: setup\n    config_path: setup/config.yaml\n    condition: 'false'\n",
    );
    p.write("stages.yaml", &stages);
    let run = p.apirun(&["stages", "up"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "Error: stage preprocessing failed: failed to build environment for stage preprocessing: dependent stage setup has not been executed"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("setup was skipped in its last run"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty(), "{:?}", calls(&api));
}

#[test]
fn on_failure_stop_starts_nothing_after_the_failure() {
    let api = api();
    let p = four(&api, true, "");
    let run = p.apirun(&["stages", "up"]);
    run.expect_code(1);
    // Wave 1 is a, b, c (by name); a fails first, so b and c never start; d never runs.
    assert_eq!(calls(&api), pairs(&[("POST", "/fail-a")]));
    assert!(
        run.stderr.contains("Error: stage a failed: migration "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("500"), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("[b] not started: the run stopped after a failure"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1 of 4 stage(s) failed: a"),
        "{}",
        run.stdout
    );
    let rows = p.sql_rows(
        "a/migration/apirun.db",
        "SELECT outcome FROM apirun_stage_runs",
    );
    assert_eq!(rows, vec![vec!["failed".to_string()]]);
    assert!(!p.path().join("b/migration/apirun.db").exists());
}

#[test]
fn on_failure_continue_goes_on_and_succeeds() {
    let api = api();
    let p = four(&api, true, "    on_failure: continue\n");
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    assert_eq!(
        calls(&api),
        pairs(&[
            ("POST", "/fail-a"),
            ("POST", "/b"),
            ("POST", "/c"),
            ("POST", "/d")
        ])
    );
    let summary = lines_with(&run.stdout, "  a ");
    assert_eq!(summary.len(), 1, "{}", run.stdout);
    assert!(
        summary[0].contains("failed") && summary[0].ends_with("[on_failure: continue]"),
        "{}",
        summary[0]
    );
    let status = p.apirun(&["stages", "status"]);
    assert!(
        status.stdout.contains("stage=a status=failed"),
        "{}",
        status.stdout
    );
}

#[test]
fn on_failure_skip_dependents_skips_downstream_and_runs_the_rest() {
    let api = api();
    let p = four(&api, true, "    on_failure: skip_dependents\n");
    let run = p.apirun(&["stages", "up"]);
    run.expect_code(1);
    assert_eq!(
        calls(&api),
        pairs(&[("POST", "/fail-a"), ("POST", "/b"), ("POST", "/c")])
    );
    assert!(
        run.stdout
            .contains("[d] skipped: skipped: dependency a failed")
            || run.stdout.contains("[d] skipped: dependency a failed"),
        "{}",
        run.stdout
    );
    let rows = p.sql_rows(
        "d/migration/apirun.db",
        "SELECT outcome, error FROM apirun_stage_runs",
    );
    assert_eq!(
        rows,
        vec![vec![
            "skipped".to_string(),
            "skipped: dependency a failed".into()
        ]]
    );
    assert!(
        run.stderr.contains("Error: stage a failed:"),
        "{}",
        run.stderr
    );
}

#[test]
fn rollback_on_failure_undoes_what_this_run_applied_in_reverse_order() {
    let api = api();
    let p = Project::new();
    stage(
        &p,
        "base",
        &api,
        &[("001_base.yaml", post("base", "{}", &[]))],
    );
    stage(&p, "one", &api, &[("001_one.yaml", post("one", "{}", &[]))]);
    stage(
        &p,
        "two",
        &api,
        &[
            ("001_two.yaml", post("two", "{}", &[])),
            ("002_boom.yaml", post("fail-two", "{}", &[])),
        ],
    );
    p.write(
        "stages.yaml",
        "stages:\n  - name: base\n    config_path: base/config.yaml\n  - name: one\n    config_path: one/config.yaml\n    depends_on: [base]\n  - name: two\n    config_path: two/config.yaml\n    depends_on: [one]\nglobal:\n  rollback_on_failure: true\n",
    );
    // base ran in an earlier run: a rollback of this run must leave it alone.
    p.apirun(&["stages", "up", "--to", "base"]).ok();
    let run = p.apirun(&["stages", "up"]);
    run.expect_code(1);
    assert_eq!(
        calls(&api),
        pairs(&[
            ("POST", "/base"),
            ("POST", "/one"),
            ("POST", "/two"),
            ("POST", "/fail-two"),
            ("DELETE", "/two"),
            ("DELETE", "/one"),
        ])
    );
    assert!(
        run.stdout.contains(
            "rollback_on_failure: rolling back what this run applied, in this order: two, one"
        ),
        "{}",
        run.stdout
    );
    for (s, n) in [("base", "1"), ("one", "0"), ("two", "0")] {
        let rows = p.sql_rows(
            &format!("{s}/migration/apirun.db"),
            "SELECT count(*) FROM schema_migrations",
        );
        assert_eq!(rows, vec![vec![n.to_string()]], "{s}");
    }
    let status = p.apirun(&["stages", "status"]);
    assert!(
        status.stdout.contains("stage=one status=rolled_back"),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .contains("reason: rollback_on_failure: two failed"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("stage=base status=succeeded"),
        "{}",
        status.stdout
    );
}

fn parallel_project(api: &apirun_tests::MockApi, max: usize) -> Project {
    let p = Project::new();
    for s in ["s1", "s2", "s3", "s4"] {
        stage(&p, s, api, &[("001_x.yaml", post(s, "{}", &[]))]);
    }
    p.write(
        "stages.yaml",
        &format!(
            "stages:\n  - {{name: s1, config_path: s1/config.yaml}}\n  - {{name: s2, config_path: s2/config.yaml}}\n  - {{name: s3, config_path: s3/config.yaml}}\n  - {{name: s4, config_path: s4/config.yaml}}\nglobal:\n  max_concurrent_stages: {max}\n"
        ),
    );
    p
}

#[test]
fn max_concurrent_stages_is_a_real_bound() {
    for (max, expected) in [(2, 2), (1, 1)] {
        let (api, gauge) = slow_api(500);
        let p = parallel_project(&api, max);
        let started = Instant::now();
        let run = p.apirun(&["stages", "up"]);
        let took = started.elapsed();
        run.ok();
        assert_eq!(api.received().len(), 4);
        assert_eq!(
            gauge.max.load(Ordering::SeqCst),
            expected,
            "max_concurrent_stages: {max}\n{}",
            run.stdout
        );
        assert_eq!(gauge.now.load(Ordering::SeqCst), 0);
        // 4 stages of >= 500 ms each, `max` at a time.
        let floor = Duration::from_millis(500 * 4 / max as u64);
        assert!(took >= floor, "max {max}: took {took:?}");
        if max == 2 {
            assert!(
                run.stdout.contains("batch 1: s1, s2, s3, s4 (in parallel)"),
                "{}",
                run.stdout
            );
        }
    }
}

#[test]
fn a_stage_over_its_timeout_fails_and_its_request_is_cut_short() {
    let (api, _gauge) = slow_api(3000);
    let p = Project::new();
    stage(
        &p,
        "slow",
        &api,
        &[("001_slow.yaml", post("slow", "{}", &[]))],
    );
    p.write(
        "stages.yaml",
        "stages:\n  - name: slow\n    config_path: slow/config.yaml\n    timeout: 300ms\n",
    );
    let started = Instant::now();
    let run = p.apirun(&["stages", "up"]);
    let took = started.elapsed();
    run.expect_code(1);
    assert!(
        run.stderr.contains(
            "Error: stage slow failed: timed out: the stage's timeout is 300ms, 0 of 1 migration(s) finished"
        ),
        "{}",
        run.stderr
    );
    assert!(took < Duration::from_millis(2500), "took {took:?}");
    let rows = p.sql_rows(
        "slow/migration/apirun.db",
        "SELECT count(*) FROM schema_migrations",
    );
    assert_eq!(rows, vec![vec!["0".to_string()]]);
}

#[test]
fn wait_between_stages_pauses_between_batches() {
    let api = api();
    let p = Project::new();
    stage(&p, "a", &api, &[("001_a.yaml", post("a", "{}", &[]))]);
    stage(&p, "b", &api, &[("001_b.yaml", post("b", "{}", &[]))]);
    p.write(
        "stages.yaml",
        "stages:\n  - {name: a, config_path: a/config.yaml}\n  - {name: b, config_path: b/config.yaml, depends_on: [a]}\nglobal:\n  wait_between_stages: 700ms\n",
    );
    let started = Instant::now();
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    assert!(started.elapsed() >= Duration::from_millis(700));
    assert_eq!(
        lines_with(&run.stdout, "waiting 700ms (wait_between_stages)").len(),
        1,
        "{}",
        run.stdout
    );
}

#[test]
fn a_stage_locked_by_another_run_is_a_state_conflict() {
    let api = api();
    let p = guide_project(&api);
    // Another process holds setup's lock (the lock file is beside the state file).
    let lock_path = p.path().join("setup/migration/apirun.db.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .expect("lock file");
    lock.try_lock().expect("take the lock");
    let run = p.apirun(&["stages", "up", "--to", "setup"]);
    run.expect_code(3);
    assert!(
        run.stderr
            .contains("Error: stage setup failed: the state store is locked by another run"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
    drop(lock);
    p.apirun(&["stages", "up", "--to", "setup"]).ok();
}

#[test]
fn go_condition_functions_read_recorded_outcomes_and_env() {
    let api = api();
    let p = four(&api, true, "    on_failure: continue\n");
    let stages = p.read("stages.yaml").replace(
        "  - name: d\n    config_path: d/config.yaml\n    depends_on: [a]\n",
        "  - name: d\n    config_path: d/config.yaml\n    depends_on: [a]\n    condition: '{{ and (failed \"a\") (eq (env \"tier\") \"gold\") }}'\nglobal:\n  env:\n    tier: gold\n",
    );
    p.write("stages.yaml", &stages);
    p.apirun(&["stages", "up"]).ok();
    let d_calls = || calls(&api).iter().filter(|c| c.1 == "/d").count();
    assert_eq!(
        d_calls(),
        1,
        "a failed and tier is gold: d runs {:?}",
        calls(&api)
    );

    p.write(
        "stages.yaml",
        &stages
            .replace("(failed \\\"a\\\")", "(success \\\"a\\\")")
            .replace("(failed \"a\")", "(success \"a\")"),
    );
    let run = p.apirun(&["stages", "up", "--stage", "d"]);
    run.ok();
    assert!(run.stdout.contains("[d] skipped"), "{}", run.stdout);
    assert_eq!(d_calls(), 1);
}
