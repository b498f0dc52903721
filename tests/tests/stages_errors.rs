//! The troubleshooting guide's error patterns, end to end: the real `apirun stages` command
//! line, a loopback API, real SQLite files. Each test reproduces one section of the guide.

mod stages_support;

use apirun_tests::Project;
use stages_support::*;

// --- 1. Dependency execution errors -------------------------------------------------------

#[test]
fn dependent_stage_not_executed_is_the_guides_error_and_sends_nothing() {
    let api = api();
    let p = guide_project(&api);
    let run = p.apirun(&["stages", "up", "--stage", "preprocessing"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "Error: stage preprocessing failed: failed to build environment for stage preprocessing: dependent stage setup has not been executed\n"
        ),
        "{}",
        run.stderr
    );
    // The hint says what to run.
    assert!(
        run.stderr.contains("`apirun stages up --to setup`"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty(), "{:?}", calls(&api));
    // The failure is on record for `stages status`.
    let rows = p.sql_rows(
        "preprocessing/migration/apirun.db",
        "SELECT stage, outcome FROM apirun_stage_runs",
    );
    assert_eq!(
        rows,
        vec![vec!["preprocessing".to_string(), "failed".into()]]
    );
    // Nothing was created for the stage that never ran.
    assert!(!p.path().join("setup/migration/apirun.db").exists());
}

#[test]
fn the_guides_solutions_to_not_executed_work() {
    // Option 1: --from setup --to preprocessing.
    let api1 = api();
    let p1 = guide_project(&api1);
    p1.apirun(&["stages", "up", "--from", "setup", "--to", "preprocessing"])
        .ok();
    assert_eq!(
        calls(&api1),
        pairs(&[("POST", "/setup"), ("POST", "/process")])
    );
    // Option 3: the complete chain.
    let api3 = api();
    let p3 = guide_project(&api3);
    p3.apirun(&["stages", "up"]).ok();
    assert_eq!(
        calls(&api3),
        pairs(&[
            ("POST", "/setup"),
            ("POST", "/process"),
            ("POST", "/validate"),
            ("POST", "/cleanup")
        ])
    );
}

// --- 2. Template variable errors -------------------------------------------------------------

#[test]
fn map_has_no_entry_for_key_when_the_parent_does_not_export_it() {
    let api = api();
    let p = Project::new();
    stage(
        &p,
        "parent-stage",
        &api,
        &[(
            "001_parent.yaml",
            post("parent", "{}", &[("setup_id", "id")]),
        )],
    );
    stage(
        &p,
        "child",
        &api,
        &[(
            "001_child.yaml",
            post("child", r#"{"vpc_id": "{{.vpc_id}}"}"#, &[]),
        )],
    );
    p.write(
        "stages.yaml",
        "stages:\n  - name: parent-stage\n    config_path: parent-stage/config.yaml\n  - name: child\n    config_path: child/config.yaml\n    depends_on: [parent-stage]\n    env_from_stages:\n      - stage: parent-stage\n        vars: [setup_id]\n",
    );
    let run = p.apirun(&["stages", "up"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("map has no entry for key \"vpc_id\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Error: stage child failed: "),
        "{}",
        run.stderr
    );
    // Located at the template in the child's migration.
    assert!(
        run.stderr.contains("child/migration/001_child.yaml:6:"),
        "{}",
        run.stderr
    );
    assert_eq!(calls(&api), pairs(&[("POST", "/parent")]));

    // The guide's diagnosis: what does the parent export?
    let status = p.apirun(&["stages", "status", "--verbose"]);
    status.ok();
    let after: Vec<&str> = status
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("stage=parent-stage "))
        .take(6)
        .collect();
    assert!(after[0].contains("extracted_vars=1"), "{after:?}");
    assert_eq!(after[1], "    setup_id = id-parent", "{after:?}");

    // Option 2 of the guide: a template default makes it run.
    p.write(
        "child/migration/001_child.yaml",
        &post(
            "child",
            r#"{"vpc_id": "{{.vpc_id | default "default-vpc-id"}}"}"#,
            &[],
        ),
    );
    p.apirun(&["stages", "up"]).ok();
    let last = api.received().pop().expect("child request");
    assert_eq!(last.body, r#"{"vpc_id": "default-vpc-id"}"#);
}

#[test]
fn variable_not_found_in_dependent_stage_is_a_warning_naming_stage_and_variable() {
    let api = api();
    let p = guide_project(&api);
    // validation asks preprocessing for a variable it does not export.
    p.write(
        "stages.yaml",
        &GUIDE_STAGES.replace(
            "vars: [processed_data]",
            "vars: [processed_data, extra_data]",
        ),
    );
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    let warn = lines_with(&run.stderr, "variable not found in dependent stage");
    assert_eq!(warn.len(), 1, "{}", run.stderr);
    assert!(warn[0].contains("WARN"), "{}", warn[0]);
    assert!(
        warn[0].contains("stage=preprocessing variable=extra_data"),
        "{}",
        warn[0]
    );
    assert!(warn[0].contains("required_by=validation"), "{}", warn[0]);
    // The variable that exists still flows.
    let validate = api
        .received()
        .into_iter()
        .find(|r| r.path() == "/validate")
        .expect("validate request");
    assert_eq!(
        validate.body,
        r#"{"setup": "id-setup", "data": "processed-process"}"#
    );
    // The guide's diagnosis: `grep "extracted_vars"` lists what each stage exports.
    let status = p.apirun(&["stages", "status", "--verbose"]);
    let lines = lines_with(&status.stdout, "extracted_vars");
    assert_eq!(lines.len(), 4, "{}", status.stdout);
    assert!(
        lines[1].starts_with("stage=preprocessing ") && lines[1].ends_with("extracted_vars=1"),
        "{lines:?}"
    );
    // And validate predicts it.
    let v = p.apirun(&["stages", "validate"]);
    v.ok();
    assert!(
        v.stdout
            .contains("stage validation takes `extra_data` from preprocessing, but no migration of preprocessing extracts it"),
        "{}",
        v.stdout
    );
}

#[test]
fn stage_executed_with_no_variables_logs_extracted_vars_zero() {
    let api = api();
    let p = guide_project(&api);
    let run = p.apirun(&["stages", "up"]);
    run.ok();
    let info = lines_with(&run.stderr, "stage executed successfully");
    assert_eq!(
        info,
        vec![
            " INFO stage executed successfully stage=setup extracted_vars=2",
            " INFO stage executed successfully stage=preprocessing extracted_vars=1",
            " INFO stage executed successfully stage=validation extracted_vars=0",
            " INFO stage executed successfully stage=cleanup extracted_vars=0",
        ],
        "{}",
        run.stderr
    );
}

// --- 3. Configuration errors ------------------------------------------------------------------

#[test]
fn config_file_not_found_names_the_stage_and_path() {
    let api = api();
    let p = Project::new();
    stage(
        &p,
        "services",
        &api,
        &[("001_s.yaml", post("s", "{}", &[]))],
    );
    p.write(
        "stages.yaml",
        "stages:\n  - name: infrastructure\n    config_path: infrastructure/config.yaml\n  - name: services\n    config_path: services/config.yaml\n    depends_on: [infrastructure]\n",
    );
    for args in [
        &["stages", "validate"][..],
        &["stages", "up"][..],
        &["stages", "up", "--dry-run"][..],
    ] {
        let run = p.apirun(args);
        run.expect_code(2);
        assert!(
            run.stderr.contains(
                "Error: stage infrastructure: config file not found: infrastructure/config.yaml\n  --> stages.yaml:3:18\n"
            ),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert!(api.received().is_empty());
    // The guide's fix: create it.
    p.write(
        "infrastructure/config.yaml",
        "migrate_dir: migration\nstore:\n  driver: sqlite\n  path: ./infra_state.db\n",
    );
    p.write("infrastructure/migration/.keep", "");
    p.apirun(&["stages", "validate"]).ok();
}

#[test]
fn duplicate_stage_name() {
    let api = api();
    let p = Project::new();
    stage(&p, "infra", &api, &[("001_i.yaml", post("i", "{}", &[]))]);
    p.write(
        "stages.yaml",
        "stages:\n  - name: infrastructure\n    config_path: infra/config.yaml\n  - name: infrastructure\n    config_path: infra/config.yaml\n",
    );
    let run = p.apirun(&["stages", "validate"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .starts_with("Error: duplicate stage name: infrastructure\n  --> stages.yaml:4:11\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("is already defined on line 2"),
        "{}",
        run.stderr
    );
    p.apirun(&["stages", "up"]).expect_code(2);
    assert!(api.received().is_empty());
}

#[test]
fn dependency_not_found_with_did_you_mean() {
    let api = api();
    let p = Project::new();
    stage(&p, "a", &api, &[("001_a.yaml", post("a", "{}", &[]))]);
    stage(&p, "s", &api, &[("001_s.yaml", post("s", "{}", &[]))]);
    p.write(
        "stages.yaml",
        "stages:\n  - name: infrastructure-setup\n    config_path: a/config.yaml\n  - name: services\n    config_path: s/config.yaml\n    depends_on: [infrastructure]\n",
    );
    let run = p.apirun(&["stages", "validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains(
            "Error: stage services: dependency infrastructure not found\n  --> stages.yaml:6:18\n"
        ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("= hint: did you mean `infrastructure-setup`?"),
        "{}",
        run.stderr
    );
}

#[test]
fn cycles_are_reported_as_a_path_and_self_dependency_on_its_own() {
    let api = api();
    let p = Project::new();
    for name in ["a", "b", "c"] {
        stage(&p, name, &api, &[("001_x.yaml", post(name, "{}", &[]))]);
    }
    p.write(
        "stages.yaml",
        "stages:\n  - name: b\n    config_path: b/config.yaml\n    depends_on: [a]\n  - name: a\n    config_path: a/config.yaml\n    depends_on: [b]\n  - name: c\n    config_path: c/config.yaml\n    depends_on: [c]\n",
    );
    let run = p.apirun(&["stages", "validate"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("Error: circular dependency detected: a → b → a\n  --> stages.yaml:7:18\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("Error: stage c: cannot depend on itself"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("\n2 errors"), "{}", run.stderr);
    let up = p.apirun(&["stages", "up"]);
    up.expect_code(2);
    assert!(
        up.stderr
            .contains("circular dependency detected: a → b → a")
    );
    assert!(api.received().is_empty());
}

#[test]
fn validate_reports_every_problem_at_once_with_locations() {
    let api = api();
    let p = Project::new();
    stage(&p, "a", &api, &[("001_a.yaml", post("a", "{}", &[]))]);
    stage(&p, "b", &api, &[("001_b.yaml", post("b", "{}", &[]))]);
    p.write(
        "stages.yaml",
        r#"apiVersion: apirun/v1
stages:
  - name: a
    config_path: a/config.yaml
    timout: 30s
  - name: b
    config_path: b/config.yaml
    timeout: 30 seconds
    on_failure: skip
    condition: '{{ eq .env.region "eu" ' 
    env_from_stages:
      - stage: a
        vars: [x]
global:
  max_concurrent_stages: 0
"#,
    );
    let run = p.apirun(&["stages", "validate"]);
    run.expect_code(2);
    let errors: Vec<&str> = lines_with(&run.stderr, "Error: ");
    assert_eq!(errors.len(), 6, "{}", run.stderr);
    for (needle, at) in [
        ("unknown key `timout` in `stages[0]`", "stages.yaml:5:5"),
        (
            "invalid duration for `stages[1].timeout`",
            "stages.yaml:8:14",
        ),
        ("invalid `stages[1].on_failure`: `skip`", "stages.yaml:9:17"),
        ("stage b: invalid condition", "stages.yaml:10:16"),
        (
            "stage b: env_from_stages stage a is not a dependency of b",
            "stages.yaml:12:16",
        ),
        (
            "`global.max_concurrent_stages` must be at least 1",
            "stages.yaml:15:26",
        ),
    ] {
        let pos = run
            .stderr
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}: {}", run.stderr));
        let after = &run.stderr[pos..];
        let loc = after.lines().nth(1).unwrap_or_default();
        assert_eq!(loc, format!("  --> {at}"), "{needle}: {}", run.stderr);
    }
    assert!(run.stderr.contains("did you mean `timeout`?"));
    assert!(
        run.stderr
            .contains("valid values: `stop`, `continue`, `skip_dependents`")
    );
    assert!(run.stderr.ends_with("6 errors\n"), "{}", run.stderr);
}

#[test]
fn validate_checks_each_stage_config_and_migrations() {
    let api = api();
    let p = guide_project(&api);
    p.apirun(&["stages", "validate"]).ok();
    let ok = p.apirun(&["stages", "validate"]);
    assert_eq!(
        ok.stdout.trim_end(),
        "configuration is valid: 4 stage(s), 4 migration file(s); order stages=\"[setup preprocessing validation cleanup]\""
    );
    // A stage config with an unknown key, a migration with a bad method key.
    p.write(
        "cleanup/config.yaml",
        "migrate_dir: migration\nmigrat_dir: x\n",
    );
    p.write(
        "validation/migration/002_bad.yaml",
        "up:\n  request:\n    methd: POST\n    url: http://x\n",
    );
    let run = p.apirun(&["stages", "validate"]);
    run.expect_code(2);
    assert!(
        run.stderr.contains("unknown key `migrat_dir`")
            && run.stderr.contains("cleanup/config.yaml:2:1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("validation/migration/002_bad.yaml:3:5"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
}

#[test]
fn unknown_stage_names_on_the_command_line_are_errors() {
    let api = api();
    let p = guide_project(&api);
    for (flag, name) in [
        ("--stage", "preprocesing"),
        ("--from", "preprocesing"),
        ("--to", "preprocesing"),
    ] {
        let run = p.apirun(&["stages", "up", flag, name]);
        run.expect_code(2);
        assert!(
            run.stderr.contains(&format!(
                "Error: {flag}: stage `preprocesing` not found\n   = hint: did you mean `preprocessing`?"
            )),
            "{}",
            run.stderr
        );
    }
    let run = p.apirun(&["stages", "down", "--stage", "nope"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("stages in stages.yaml: cleanup, validation, preprocessing, setup"),
        "{}",
        run.stderr
    );
    assert!(api.received().is_empty());
}

#[test]
fn missing_stages_file_says_which_default_was_used() {
    let p = Project::new();
    let run = p.apirun(&["stages", "validate"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("Error: stages file not found: stages.yaml"),
        "{}",
        run.stderr
    );
}
