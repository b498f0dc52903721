//! `apirun stages up|down|status` end to end: order, partial runs, values flowing between
//! stages through their stores (also across processes), added migrations, dry runs, status.

mod stages_support;

use apirun_tests::Project;
use stages_support::*;

#[test]
fn runs_in_dependency_order_and_values_flow_between_stages() {
    let api = api();
    let p = guide_project(&api);
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    assert!(
        run.stdout.starts_with(
            "stages up (from <beginning> to <end>): stages=\"[setup preprocessing validation cleanup]\"\n"
        ),
        "{}",
        run.stdout
    );
    let got = api.received();
    let paths: Vec<&str> = got.iter().map(|r| r.path()).collect();
    assert_eq!(paths, ["/setup", "/process", "/validate", "/cleanup"]);
    assert_eq!(got[1].body, r#"{"setup": "id-setup"}"#);
    assert_eq!(
        got[2].body,
        r#"{"setup": "id-setup", "data": "processed-process"}"#
    );
    assert!(
        run.stdout
            .contains("all 4 stage(s) done: 4 succeeded, 0 skipped"),
        "{}",
        run.stdout
    );
    // Every stage's state is in its own folder, as the guide's `rm -f */state.db` expects.
    for s in ["setup", "preprocessing", "validation", "cleanup"] {
        let rows = p.sql_rows(
            &format!("{s}/migration/apirun.db"),
            "SELECT version FROM schema_migrations",
        );
        assert_eq!(rows, vec![vec!["1".to_string()]], "{s}");
    }
    // A second run has nothing to do and sends nothing.
    p.apirun(&["stages", "up"]).ok();
    assert_eq!(api.received().len(), 4);
}

#[test]
fn a_dependent_stage_runs_alone_in_a_new_process_with_values_from_the_upstream_store() {
    let api = api();
    let p = guide_project(&api);
    // The guide's Option 2: run dependencies first, then the stage on its own.
    p.apirun(&["stages", "up", "--to", "setup"]).ok();
    assert_eq!(calls(&api), pairs(&[("POST", "/setup")]));
    let run = p.apirun(&["stages", "up", "--stage", "preprocessing"]);
    run.ok();
    let got = api.received();
    assert_eq!(got.len(), 2, "{:?}", calls(&api));
    assert_eq!(got[1].path(), "/process");
    assert_eq!(got[1].body, r#"{"setup": "id-setup"}"#);
    // And the next one, reading from two upstream stores.
    p.apirun(&["stages", "up", "--stage", "validation"]).ok();
    let got = api.received();
    assert_eq!(
        got[2].body,
        r#"{"setup": "id-setup", "data": "processed-process"}"#
    );
    // The guide's recovery: re-running the parent is a no-op; --from the child continues.
    p.apirun(&["stages", "up", "--stage", "setup"]).ok();
    p.apirun(&["stages", "up", "--from", "validation"]).ok();
    assert_eq!(
        calls(&api),
        pairs(&[
            ("POST", "/setup"),
            ("POST", "/process"),
            ("POST", "/validate"),
            ("POST", "/cleanup")
        ])
    );
}

#[test]
fn from_and_to_are_inclusive_in_both_directions() {
    let api = api();
    let p = guide_project(&api);
    p.apirun(&["stages", "up", "--to", "setup"]).ok();
    // The guide's "Partial execution skips expected stages": --to is included.
    let run = p.apirun(&[
        "stages",
        "up",
        "--from",
        "preprocessing",
        "--to",
        "validation",
    ]);
    run.ok();
    assert_eq!(
        calls(&api),
        pairs(&[
            ("POST", "/setup"),
            ("POST", "/process"),
            ("POST", "/validate")
        ])
    );
    // Down runs in reverse order, both ends included as well.
    p.apirun(&["stages", "up"]).ok();
    let before = api.received().len();
    let run = p.apirun(&[
        "stages",
        "down",
        "--from",
        "cleanup",
        "--to",
        "preprocessing",
    ]);
    run.ok();
    assert_eq!(
        calls(&api)[before..].to_vec(),
        pairs(&[
            ("DELETE", "/cleanup"),
            ("DELETE", "/validate"),
            ("DELETE", "/process")
        ])
    );
    let applied = p.sql_rows(
        "setup/migration/apirun.db",
        "SELECT version FROM schema_migrations",
    );
    assert_eq!(applied, vec![vec!["1".to_string()]]);
    // --from / --to given in up order for down: a clear error, nothing done.
    let wrong = p.apirun(&["stages", "down", "--from", "setup", "--to", "validation"]);
    wrong.expect_code(2);
    assert!(
        wrong.stderr.contains(
            "Error: --from setup comes after --to validation in the down order (cleanup → validation → preprocessing → setup)"
        ),
        "{}",
        wrong.stderr
    );
}

#[test]
fn down_rolls_back_every_stage_in_reverse_order_and_stage_rolls_back_exactly_one() {
    let api = api();
    let p = guide_project(&api);
    p.write(
        "setup/migration/002_more.yaml",
        &post("setup2", "{}", &[("second", "id")]),
    );
    p.apirun(&["stages", "up"]).ok();
    let n = api.received().len();
    assert_eq!(n, 5);
    // --stage X rolls back X (the Go original rolled back nothing).
    let run = p.apirun(&["stages", "down", "--stage", "validation"]);
    run.ok();
    assert_eq!(calls(&api)[n..].to_vec(), pairs(&[("DELETE", "/validate")]));
    assert!(
        run.stdout.contains("[validation] rolled back in"),
        "{}",
        run.stdout
    );
    let n = api.received().len();
    let run = p.apirun(&["stages", "down"]);
    run.ok();
    assert_eq!(
        calls(&api)[n..].to_vec(),
        pairs(&[
            ("DELETE", "/cleanup"),
            ("DELETE", "/process"),
            ("DELETE", "/setup2"),
            ("DELETE", "/setup")
        ])
    );
    assert!(
        run.stdout
            .contains("all 4 stage(s) rolled back (0 skipped)"),
        "{}",
        run.stdout
    );
    for s in ["setup", "preprocessing", "validation", "cleanup"] {
        let rows = p.sql_rows(
            &format!("{s}/migration/apirun.db"),
            "SELECT count(*) FROM schema_migrations",
        );
        assert_eq!(rows, vec![vec!["0".to_string()]], "{s}");
    }
    let status = p.apirun(&["stages", "status"]);
    assert_eq!(
        lines_with(&status.stdout, "status=rolled_back").len(),
        4,
        "{}",
        status.stdout
    );
}

#[test]
fn a_migration_added_after_everything_ran_runs_alone() {
    let api = api();
    let p = guide_project(&api);
    p.apirun(&["stages", "up"]).ok();
    assert_eq!(api.received().len(), 4);
    // A new file in a middle stage, whose template reads an upstream value.
    p.write(
        "preprocessing/migration/002_enrich.yaml",
        &post(
            "enrich",
            r#"{"vpc": "{{.setup_id}}/{{.processed_data}}"}"#,
            &[],
        ),
    );
    let status = p.apirun(&["stages", "status"]);
    assert!(
        status
            .stdout
            .contains("stage=preprocessing status=succeeded")
            && lines_with(&status.stdout, "stage=preprocessing")[0].contains("applied=1 pending=1"),
        "{}",
        status.stdout
    );
    let dry = p.apirun(&["stages", "up", "--dry-run"]);
    dry.ok();
    assert!(
        dry.stdout
            .contains("  preprocessing: 1 migration(s) pending (config preprocessing/config.yaml"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("    2 002_enrich.yaml\n"),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains("  setup: nothing pending"),
        "{}",
        dry.stdout
    );
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    let got = api.received();
    assert_eq!(got.len(), 5, "{:?}", calls(&api));
    assert_eq!(got[4].path(), "/enrich");
    assert_eq!(got[4].body, r#"{"vpc": "id-setup/processed-process"}"#);
}

#[test]
fn dry_run_prints_batches_and_pending_migrations_and_sends_nothing() {
    let api = api();
    let p = guide_project(&api);
    let run = p.apirun(&["stages", "up", "--dry-run"]);
    run.ok();
    let expected = "\
Execution plan (up): from <beginning> to <end>
stages=\"[setup preprocessing validation cleanup]\"
batch 1: setup
  setup: 1 migration(s) pending (config setup/config.yaml, state setup/migration/apirun.db)
    1 001_setup.yaml
batch 2: preprocessing
  preprocessing: 1 migration(s) pending (config preprocessing/config.yaml, state preprocessing/migration/apirun.db)
    1 001_process.yaml
    takes [setup_id] from setup, which runs earlier in this plan
batch 3: validation
  validation: 1 migration(s) pending (config validation/config.yaml, state validation/migration/apirun.db)
    1 001_validate.yaml
    takes [setup_id] from setup, which runs earlier in this plan
    takes [processed_data] from preprocessing, which runs earlier in this plan
batch 4: cleanup
  cleanup: 1 migration(s) pending (config cleanup/config.yaml, state cleanup/migration/apirun.db)
    1 001_cleanup.yaml
This is a dry run: nothing was sent and no state was changed
";
    assert_eq!(run.stdout, expected);
    assert!(api.received().is_empty());
    assert!(!p.path().join("setup/migration/apirun.db").exists());
    // A plan for a stage whose upstream never ran predicts the failure.
    let run = p.apirun(&["stages", "up", "--stage", "preprocessing", "--dry-run"]);
    run.ok();
    assert!(
        run.stdout.contains(
            "    warning: dependent stage setup has not been executed, so this stage would fail;"
        ),
        "{}",
        run.stdout
    );
    // Independent stages share a batch.
    let q = Project::new();
    for s in ["b", "a", "c"] {
        stage(&q, s, &api, &[("001_x.yaml", post(s, "{}", &[]))]);
    }
    q.write(
        "stages.yaml",
        "stages:\n  - {name: c, config_path: c/config.yaml, depends_on: [b, a]}\n  - {name: b, config_path: b/config.yaml}\n  - {name: a, config_path: a/config.yaml}\nglobal:\n  max_concurrent_stages: 2\n",
    );
    let run = q.apirun(&["stages", "up", "--dry-run"]);
    run.ok();
    assert!(
        run.stdout
            .contains("stages=\"[a b c]\"\nbatch 1: a, b (in parallel, at most 2 at a time)\n"),
        "{}",
        run.stdout
    );
    assert!(api.received().is_empty());
}

#[test]
fn status_verbose_in_a_new_process_shows_outcomes_durations_and_masked_values() {
    let api = api();
    let p = guide_project(&api);
    // setup also extracts a token, which must be masked.
    p.write(
        "setup/migration/001_setup.yaml",
        &post(
            "setup",
            "{}",
            &[
                ("setup_id", "id"),
                ("vpc_id", "vpc.id"),
                ("api_token", "token"),
            ],
        ),
    );
    let before = p.apirun(&["stages", "status"]);
    before.ok();
    assert!(
        before
            .stdout
            .contains("stage=setup status=never_run applied=0 pending=1 extracted_vars=0"),
        "{}",
        before.stdout
    );
    assert!(!p.path().join("setup/migration/apirun.db").exists());
    p.apirun(&["stages", "up"]).ok();
    let run = p.apirun(&["stages", "status", "--verbose"]);
    run.ok();
    let out = &run.stdout;
    let head = lines_with(out, "stage=setup ");
    assert_eq!(head.len(), 1, "{out}");
    assert!(
        head[0].starts_with("stage=setup status=succeeded last_run=20"),
        "{out}"
    );
    assert!(head[0].contains(" duration="), "{out}");
    assert!(
        head[0].ends_with(" applied=1 pending=0 extracted_vars=3"),
        "{out}"
    );
    // The guide's `grep -A 5 "parent-stage"`: the values come right after the stage line.
    let after: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("stage=setup "))
        .skip(1)
        .take(3)
        .collect();
    assert_eq!(
        after,
        vec![
            "    api_token = ***MASKED***",
            "    setup_id = id-setup",
            "    vpc_id = vpc-setup"
        ]
    );
    assert!(!out.contains("tok-setup-secret"), "{out}");
    // The guide's `grep "duration"` shows each stage's timing.
    assert!(lines_with(out, "duration=").len() >= 4, "{out}");
    for s in ["setup", "preprocessing", "validation", "cleanup"] {
        assert_eq!(
            lines_with(out, &format!("stage={s} status=succeeded")).len(),
            1,
            "{out}"
        );
    }
    assert!(
        out.contains("  env_from_stages: preprocessing [processed_data]"),
        "{out}"
    );
    // Without --verbose: one line per stage, no values.
    let short = p.apirun(&["stages", "status"]);
    assert!(!short.stdout.contains("setup_id ="), "{}", short.stdout);
    assert_eq!(short.stdout.lines().count(), 5, "{}", short.stdout);
}

#[test]
fn variable_precedence_across_sources() {
    // Highest first: own extracted values, env_from_stages, stage env, config env, global env.
    let api = api();
    let p = Project::new();
    stage(
        &p,
        "up1",
        &api,
        &[(
            "001_u.yaml",
            post("u", "{}", &[("from_up", "id"), ("own", "id")]),
        )],
    );
    stage_config(
        &p,
        "s",
        &api,
        "  - name: g_vs_config\n    value: config\n  - name: stage_vs_config\n    value: config\n",
    );
    p.write(
        "s/migration/001_first.yaml",
        &post("first", "{}", &[("own", "result")]),
    );
    p.write(
        "s/migration/002_probe.yaml",
        &post(
            "probe",
            r#"{"g": "{{.g_only}}", "gc": "{{.g_vs_config}}", "sc": "{{.stage_vs_config}}", "us": "{{.from_up}}", "own": "{{.own}}"}"#,
            &[],
        ),
    );
    p.write(
        "stages.yaml",
        r#"stages:
  - name: up1
    config_path: up1/config.yaml
  - name: s
    config_path: s/config.yaml
    depends_on: [up1]
    env:
      stage_vs_config: stage
      from_up: stage
      own: stage
    env_from_stages:
      - stage: up1
        vars: [from_up, own]
global:
  env:
    g_only: global
    g_vs_config: global
"#,
    );
    p.apirun(&["stages", "up"]).ok();
    let probe = api
        .received()
        .into_iter()
        .find(|r| r.path() == "/probe")
        .expect("probe");
    assert_eq!(
        probe.body,
        r#"{"g": "global", "gc": "config", "sc": "stage", "us": "id-u", "own": "processed-first"}"#
    );
}

/// Copy a folder recursively (the example project into a temporary one).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

#[test]
fn the_stages_example_validates_plans_and_runs() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/stages");
    let stages_yaml = example.join("stages.yaml");
    let stages_arg = stages_yaml.to_str().expect("utf-8 path");
    let p = Project::new();
    // In place, validate and dry-run read the example and create nothing.
    p.apirun(&["stages", "validate", "--config", stages_arg])
        .ok();
    let dry = p.apirun(&["stages", "up", "--dry-run", "--config", stages_arg]);
    dry.ok();
    assert!(
        dry.stdout
            .contains("stages=\"[setup preprocessing validation cleanup]\""),
        "{}",
        dry.stdout
    );
    assert!(!example.join("setup/state.db").exists());
    // A copy runs against the loopback API.
    let api = api();
    copy_dir(&example, p.path());
    let text = p
        .read("stages.yaml")
        .replace("http://localhost:8080", api.url());
    p.write("stages.yaml", &text);
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    assert_eq!(
        calls(&api),
        pairs(&[
            ("POST", "/setups"),
            ("POST", "/setups/id-setups/process"),
            ("POST", "/validations")
        ])
    );
    assert_eq!(
        api.received()[2].body.trim(),
        r#"{"setup": "id-setups", "vpc": "vpc-setups", "data": "processed-setups-id-setups-process", "strictness": "high"}"#
    );
    assert!(
        run.stdout
            .contains("all 4 stage(s) done: 3 succeeded, 1 skipped"),
        "{}",
        run.stdout
    );
    // The guide's per-stage state files.
    let rows = p.sql_rows(
        "setup/state.db",
        "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert_eq!(rows, vec![vec!["1".to_string()]]);
    p.apirun(&["stages", "down"]).ok();
    assert_eq!(
        calls(&api)[3..].to_vec(),
        pairs(&[
            ("DELETE", "/validations/id-setups"),
            ("DELETE", "/setups/id-setups/process"),
            ("DELETE", "/setups/id-setups")
        ])
    );
}

#[test]
fn a_file_with_a_lower_version_than_the_newest_applied_one_is_applied_by_the_next_run() {
    // The guide's "Migration not executing despite new file": current version 5, new 003.
    let api = api();
    let p = guide_project(&api);
    p.write("setup/migration/005_five.yaml", &post("five", "{}", &[]));
    p.apirun(&["stages", "up"]).ok();
    assert_eq!(api.received().len(), 5);
    p.write("setup/migration/003_three.yaml", &post("three", "{}", &[]));
    // The guide's per-stage check.
    let status = p.apirun(&["status", "--config", "setup/config.yaml"]);
    status.ok();
    assert!(
        status
            .stdout
            .starts_with("current: 5\napplied: [1 5]\npending: [3]\n"),
        "{}",
        status.stdout
    );
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    assert_eq!(calls(&api)[5..].to_vec(), pairs(&[("POST", "/three")]));
    let rows = p.sql_rows(
        "setup/migration/apirun.db",
        "SELECT version FROM schema_migrations ORDER BY version",
    );
    assert_eq!(
        rows,
        vec![vec!["1".to_string()], vec!["3".into()], vec!["5".into()]]
    );
}
