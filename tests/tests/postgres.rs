//! The PostgreSQL store end to end: the real command line, a loopback API, a real server.
//!
//! Runs when `APIRUN_TEST_POSTGRES_URL` names a server whose role may create databases and
//! roles and which asks for passwords over TCP (`eval "$(.ci/postgres.sh start)"` starts one;
//! CI does). Without it every test prints a note and passes; with it, an unreachable server
//! fails them. Each test works in a database of its own, so they run in parallel.

mod stages_support;

use std::process::{Child, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use apirun_tests::{MockApi, Project, Reply, Run, apirun_command, routes};
use serde_json::json;

const URL_VAR: &str = "APIRUN_TEST_POSTGRES_URL";

/// Exit codes (host/src/cli/exit.rs).
const STATE_CONFLICT: i32 = 3;
const INTERNAL: i32 = 5;

/// The test server, as the URL names it.
struct Pg {
    host: String,
    port: u16,
    user: String,
    password: String,
    dbname: String,
}

fn pg() -> Option<Pg> {
    let url = match std::env::var(URL_VAR) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            eprintln!(
                "note: {URL_VAR} is not set: PostgreSQL end-to-end tests are skipped \
                 (start a server with `eval \"$(.ci/postgres.sh start)\"`)"
            );
            return None;
        }
    };
    let config = postgres::Config::from_str(&url)
        .unwrap_or_else(|e| panic!("{URL_VAR} does not parse: {e}"));
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        other => panic!("{URL_VAR} must name a TCP host, not {other:?}"),
    };
    let pg = Pg {
        host,
        port: config.get_ports().first().copied().unwrap_or(5432),
        user: config.get_user().unwrap_or("postgres").to_string(),
        password: config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_default(),
        dbname: config.get_dbname().unwrap_or("postgres").to_string(),
    };
    // Set but unusable is a failure, not a skip.
    pg.admin();
    Some(pg)
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

impl Pg {
    fn url_as(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}?sslmode=disable",
            encode(user),
            encode(password),
            self.host,
            self.port,
            encode(db)
        )
    }

    fn url(&self, db: &str) -> String {
        self.url_as(&self.user, &self.password, db)
    }

    fn connect(&self, db: &str) -> postgres::Client {
        postgres::Client::connect(&self.url(db), postgres::NoTls)
            .unwrap_or_else(|e| panic!("{URL_VAR} is set but the server cannot be used: {e}"))
    }

    fn admin(&self) -> postgres::Client {
        self.connect(&self.dbname)
    }

    /// A new database, dropped at the end of the test.
    fn database(&self) -> Db<'_> {
        let name = unique("apirun_e2e");
        self.admin()
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        Db { pg: self, name }
    }
}

struct Db<'a> {
    pg: &'a Pg,
    name: String,
}

impl Db<'_> {
    fn url(&self) -> String {
        self.pg.url(&self.name)
    }

    fn client(&self) -> postgres::Client {
        self.pg.connect(&self.name)
    }

    fn strings(&self, sql: &str) -> Vec<Vec<String>> {
        self.client()
            .query(sql, &[])
            .expect("query")
            .iter()
            .map(|r| (0..r.len()).map(|i| r.get::<_, String>(i)).collect())
            .collect()
    }
}

impl Drop for Db<'_> {
    fn drop(&mut self) {
        let _ = self.pg.admin().batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn items_api() -> MockApi {
    MockApi::start(routes(vec![
        (
            ("POST", "/items"),
            Reply::json(201, json!({"item": {"id": "it-9"}})),
        ),
        (
            ("POST", "/items/it-9/tags"),
            Reply::json(200, json!({"tag": {"id": 4}})),
        ),
        (("DELETE", "/items/it-9/tags/4"), Reply::text(204, "")),
        (("DELETE", "/items/it-9"), Reply::text(204, "")),
    ]))
}

fn items_project(api: &MockApi, store: &str) -> Project {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\n{store}",
            api.url()
        ),
    );
    p.write(
        "config/migration/001_item.yaml",
        r#"up:
  name: create item
  request:
    method: POST
    url: "{{.base}}/items"
  response:
    result_code: ["201"]
    env_from:
      item_id: item.id
down:
  name: delete item
  method: DELETE
  url: "{{.base}}/items/{{.item_id}}"
"#,
    );
    p.write(
        "config/migration/002_tag.yaml",
        r#"up:
  name: tag item
  request:
    method: POST
    url: "{{.base}}/items/{{.item_id}}/tags"
  response:
    env_from:
      tag_id: tag.id
down:
  request:
    method: DELETE
    url: "{{.base}}/items/{{.item_id}}/tags/{{.tag_id}}"
  response:
    result_code: ["204"]
"#,
    );
    p
}

fn dsn_store(kind: &str, dsn: &str) -> String {
    format!("store:\n  type: {kind}\n  postgres:\n    dsn: \"{dsn}\"\n")
}

#[test]
fn applies_reports_and_rolls_back_with_either_type_spelling() {
    let Some(pg) = pg() else { return };
    for kind in ["postgres", "postgresql"] {
        let db = pg.database();
        let api = items_api();
        let p = items_project(&api, &dsn_store(kind, &db.url()));

        p.apirun(&["up", "--to", "1"]).ok();
        assert_eq!(api.received().len(), 1);
        // a new process reads the value the first one stored
        let run = p.apirun(&["up"]);
        run.ok();
        assert!(
            run.stdout
                .contains("applied 1 migration(s); current version 2"),
            "{}",
            run.stdout
        );
        assert_eq!(api.count("POST", "/items/it-9/tags"), 1, "{kind}");

        let status = p.apirun(&["status", "--history"]);
        status.ok();
        assert!(status.stdout.contains("current: 2"), "{}", status.stdout);
        assert!(
            status.stdout.contains("applied: [1 2]"),
            "{}",
            status.stdout
        );
        assert!(status.stdout.contains("pending: []"), "{}", status.stdout);
        assert!(!status.stdout.contains("locked:"), "{}", status.stdout);
        assert!(
            status.stdout.contains("#2 v=2 dir=up code=200"),
            "{}",
            status.stdout
        );

        let again = p.apirun(&["up"]);
        again.ok();
        assert!(
            again.stdout.contains("no pending migrations"),
            "{}",
            again.stdout
        );
        assert_eq!(api.received().len(), 2, "a second up sends nothing");

        // the guide's query works on PostgreSQL too
        let rows = db.strings(
            "SELECT version::text, to_char(applied_at, 'YYYY') FROM schema_migrations ORDER BY version",
        );
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], "1");
        let env = db.strings("SELECT name, value FROM stored_env ORDER BY version, name");
        assert_eq!(
            env,
            vec![
                vec!["item_id".to_string(), "it-9".to_string()],
                vec!["tag_id".to_string(), "4".to_string()],
            ]
        );

        p.apirun(&["down", "--all"]).ok();
        assert_eq!(api.count("DELETE", "/items/it-9/tags/4"), 1);
        assert_eq!(api.count("DELETE", "/items/it-9"), 1);
        let status = p.apirun(&["status"]);
        assert!(status.stdout.contains("applied: []"), "{}", status.stdout);
        for out in [&run, &status, &again] {
            assert!(!out.all().contains(&pg.password), "password shown");
        }
    }
}

#[test]
fn dsn_from_config_env_and_the_separate_settings_form() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let api = items_api();
    let p = items_project(
        &api,
        "  - name: database_url\n    valueFromEnv: APIRUN_TEST_DSN\nstore:\n  type: postgres\n  postgres:\n    dsn: \"{{.database_url}}\"\n",
    );
    let run = p.apirun_with(
        &["up", "--to", "1"],
        &[("APIRUN_TEST_DSN", &db.url())],
        None,
    );
    run.ok();
    assert!(!run.all().contains(&pg.password), "{}", run.all());

    // the same store, reached through host/port/user/password/dbname
    let q = Project::new();
    q.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\nstore:\n  type: postgresql\n  postgres:\n    host: {}\n    port: {}\n    user: {}\n    password: \"{}\"\n    dbname: {}\n    sslmode: disable\n",
            api.url(),
            pg.host,
            pg.port,
            pg.user,
            pg.password,
            db.name
        ),
    );
    for f in ["001_item.yaml", "002_tag.yaml"] {
        q.write(
            &format!("config/migration/{f}"),
            &p.read(&format!("config/migration/{f}")),
        );
    }
    let run = q.apirun(&["up"]);
    run.ok();
    assert_eq!(
        api.count("POST", "/items"),
        1,
        "version 1 was applied already"
    );
    assert_eq!(api.count("POST", "/items/it-9/tags"), 1);
    let status = q.apirun(&["status", "--history"]);
    assert!(
        status.stdout.contains("applied: [1 2]"),
        "{}",
        status.stdout
    );
    assert!(!status.all().contains(&pg.password));

    // a template naming a variable nobody defines is an error at the DSN, sending nothing
    let r = Project::new();
    r.write(
        "config/config.yaml",
        "store:\n  type: postgres\n  postgres:\n    dsn: \"{{.nowhere}}\"\n",
    );
    r.write(
        "config/migration/001_item.yaml",
        &p.read("config/migration/001_item.yaml"),
    );
    let run = r.apirun(&["up"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("store.postgres.dsn"), "{}", run.stderr);
    assert!(run.stderr.contains("config.yaml:4"), "{}", run.stderr);
}

fn counting_api(delay_ms: u64) -> MockApi {
    MockApi::start(move |req| {
        if req.method == "POST" {
            Reply::json(201, json!({"id": req.path().trim_start_matches('/')})).delayed(delay_ms)
        } else {
            Reply::text(404, "")
        }
    })
}

fn counting_project(api: &MockApi, store: &str, migrations: usize) -> Project {
    let p = Project::new();
    p.write(
        "config/config.yaml",
        &format!(
            "migrate_dir: migration\nenv:\n  - name: base\n    value: {}\n{store}",
            api.url()
        ),
    );
    for v in 1..=migrations {
        p.write(
            &format!("config/migration/{v:03}_m{v}.yaml"),
            &format!(
                "up:\n  name: m{v}\n  request:\n    method: POST\n    url: \"{{{{.base}}}}/m{v}\"\n  response:\n    env_from:\n      id{v}: id\n"
            ),
        );
    }
    p
}

fn spawn_up(p: &Project) -> Child {
    apirun_command()
        .current_dir(p.path())
        .arg("up")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn apirun up")
}

#[test]
fn parallel_ups_on_one_store_apply_each_migration_exactly_once() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let api = counting_api(150);
    let p = counting_project(&api, &dsn_store("postgres", &db.url()), 3);
    for round in 0..2 {
        let children: Vec<Child> = (0..4).map(|_| spawn_up(&p)).collect();
        let runs: Vec<Run> = children
            .into_iter()
            .map(|c| Run::from(c.wait_with_output().expect("wait")))
            .collect();
        for r in &runs {
            assert!(
                r.code == 0 || r.code == STATE_CONFLICT,
                "round {round}: unexpected exit {}\n{}",
                r.code,
                r.all()
            );
            if r.code == STATE_CONFLICT {
                assert!(r.stderr.contains("locked by another run"), "{}", r.stderr);
                assert!(r.stderr.contains("apirun up"), "{}", r.stderr);
            }
        }
        assert!(runs.iter().any(|r| r.code == 0), "round {round}: none ran");
        for v in 1..=3 {
            assert_eq!(
                api.count("POST", &format!("/m{v}")),
                1,
                "round {round}: migration {v} sent more or less than once"
            );
        }
    }
    let runs = db.strings("SELECT COUNT(*)::text FROM migration_runs");
    assert_eq!(runs, vec![vec!["3".to_string()]]);
    let status = p.apirun(&["status"]);
    assert!(
        status.stdout.contains("applied: [1 2 3]"),
        "{}",
        status.stdout
    );
}

/// Wait until `status` reports the lock held (or give up after a while).
fn wait_for_lock(p: &Project) -> Run {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = p.apirun(&["status"]);
        if status.stdout.contains("locked:") || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn status_shows_the_run_holding_the_lock_and_a_killed_run_releases_it() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let api = counting_api(1500);
    let p = counting_project(&api, &dsn_store("postgres", &db.url()), 2);

    let mut child = spawn_up(&p);
    let status = wait_for_lock(&p);
    assert!(status.stdout.contains("locked:"), "{}", status.all());
    assert!(
        status.stdout.contains("apirun up, pid"),
        "{}",
        status.stdout
    );
    let second = p.apirun(&["up"]);
    second.expect_code(STATE_CONFLICT);
    assert!(
        second.stderr.contains("PostgreSQL advisory lock"),
        "{}",
        second.stderr
    );

    // kill -9 while a request is in flight: the server drops the lock with the connection
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.received().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let in_flight = api.received().last().expect("a request in flight").path()[2..].to_string();
    child.kill().expect("kill");
    child.wait().expect("reap");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let s = p.apirun(&["status"]);
        if !s.stdout.contains("locked:") || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.stdout.contains("locked:"), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains(&format!("in doubt: version {in_flight}")),
        "{}",
        status.stdout
    );
    // the next run refuses to guess; once resolved, the run goes on without resending it
    p.apirun(&["up"]).expect_code(STATE_CONFLICT);
    p.apirun(&["resolve", &in_flight, "--applied"]).ok();
    p.apirun(&["up"]).ok();
    assert_eq!(api.count("POST", "/m1"), 1);
    assert_eq!(api.count("POST", "/m2"), 1);
}

#[test]
fn unreachable_database_is_a_clear_error_before_any_request() {
    let Some(_pg) = pg() else { return };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let api = counting_api(0);
    let p = counting_project(
        &api,
        &dsn_store(
            "postgres",
            &format!("postgres://app:sekrit-pass-1@127.0.0.1:{port}/statedb?sslmode=disable"),
        ),
        1,
    );
    for args in [&["up"][..], &["status"][..]] {
        let run = p.apirun(args);
        run.expect_code(INTERNAL);
        assert!(
            run.stderr.contains(&format!("127.0.0.1:{port}")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("statedb"), "{}", run.stderr);
        assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
        assert!(!run.all().contains("sekrit-pass-1"), "{}", run.all());
    }
    assert!(api.received().is_empty());
}

#[test]
fn wrong_password_is_a_clear_error_before_any_request() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let api = counting_api(0);
    let p = counting_project(
        &api,
        &dsn_store(
            "postgres",
            &pg.url_as(&pg.user, "not-the-password-42", &db.name),
        ),
        1,
    );
    let run = p.apirun(&["up"]);
    run.expect_code(INTERNAL);
    let server = format!("{}:{}", pg.host, pg.port);
    assert!(run.stderr.contains(&server), "{}", run.stderr);
    assert!(run.stderr.contains(&db.name), "{}", run.stderr);
    assert!(run.stderr.contains("refused the login"), "{}", run.stderr);
    assert!(!run.all().contains("not-the-password-42"), "{}", run.all());
    assert!(api.received().is_empty());
}

#[test]
fn missing_permission_is_a_clear_error_before_any_request() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let role = unique("apirun_nocreate");
    let password = format!("pw-{role}");
    pg.admin()
        .batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
        .expect("role");
    // PostgreSQL 15+ gives PUBLIC no CREATE on schema public; older servers did.
    db.client()
        .batch_execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        .expect("revoke");
    let api = counting_api(0);
    let p = counting_project(
        &api,
        &dsn_store("postgres", &pg.url_as(&role, &password, &db.name)),
        1,
    );
    let run = p.apirun(&["up"]);
    run.expect_code(INTERNAL);
    let server = format!("{}:{}", pg.host, pg.port);
    assert!(run.stderr.contains(&server), "{}", run.stderr);
    assert!(run.stderr.contains(&db.name), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("role `{role}` may not create")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("GRANT CREATE"), "{}", run.stderr);
    assert!(!run.all().contains(&password), "{}", run.all());
    assert!(api.received().is_empty());
    drop(db);
    let _ = pg
        .admin()
        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
}

#[test]
fn projects_sharing_a_database_keep_their_own_tables_and_locks() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let slow = counting_api(1200);
    let fast = counting_api(0);
    let prefixed = counting_project(
        &slow,
        &format!(
            "store:\n  type: postgres\n  table_prefix: team_a\n  postgres:\n    dsn: \"{}\"\n",
            db.url()
        ),
        2,
    );
    let schema = counting_project(
        &fast,
        &format!(
            "store:\n  type: postgres\n  table_schema_migrations: ops.schema_migrations\n  table_migration_runs: ops.migration_runs\n  table_stored_env: ops.stored_env\n  postgres:\n    dsn: \"{}\"\n",
            db.url()
        ),
        3,
    );
    // one project's run does not block the other's
    let mut child = spawn_up(&prefixed);
    let status = wait_for_lock(&prefixed);
    assert!(status.stdout.contains("locked:"), "{}", status.all());
    let run = schema.apirun(&["up"]);
    run.ok();
    assert!(!schema.apirun(&["status"]).stdout.contains("locked:"));
    assert!(child.wait().expect("wait").success());

    assert!(
        prefixed
            .apirun(&["status"])
            .stdout
            .contains("applied: [1 2]")
    );
    assert!(
        schema
            .apirun(&["status"])
            .stdout
            .contains("applied: [1 2 3]")
    );
    let tables = db.strings(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables
         WHERE table_schema IN ('public', 'ops') ORDER BY 1",
    );
    let tables: Vec<&str> = tables.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        tables,
        vec![
            "ops.apirun_stage_runs",
            "ops.apirun_store_meta",
            "ops.migration_runs",
            "ops.schema_migrations",
            "ops.stored_env",
            "public.team_a_apirun_stage_runs",
            "public.team_a_apirun_store_meta",
            "public.team_a_migration_runs",
            "public.team_a_schema_migrations",
            "public.team_a_stored_env",
        ]
    );
}

#[test]
fn stages_keep_their_state_in_postgres_and_pass_values_across_processes() {
    let Some(pg) = pg() else { return };
    let db = pg.database();
    let api = stages_support::api();
    let p = stages_support::guide_project(&api);
    // every stage of the guide keeps its state in one database, under its own table prefix
    for s in ["setup", "preprocessing", "validation", "cleanup"] {
        stages_support::stage_config(
            &p,
            s,
            &api,
            &format!(
                "store:\n  type: postgresql\n  table_prefix: {s}\n  postgres:\n    dsn: \"{}\"\n",
                db.url()
            ),
        );
    }
    p.apirun(&["stages", "up", "--to", "setup"]).ok();
    // a new process reads setup's values from its PostgreSQL tables
    p.apirun(&["stages", "up", "--stage", "preprocessing"]).ok();
    p.apirun(&["stages", "up"]).ok();
    let got = api.received();
    let paths: Vec<&str> = got.iter().map(|r| r.path()).collect();
    assert_eq!(paths, ["/setup", "/process", "/validate", "/cleanup"]);
    assert_eq!(got[1].body, r#"{"setup": "id-setup"}"#);
    assert_eq!(
        got[2].body,
        r#"{"setup": "id-setup", "data": "processed-process"}"#
    );
    let status = p.apirun(&["stages", "status", "--verbose"]);
    status.ok();
    for s in ["setup", "preprocessing", "validation", "cleanup"] {
        assert!(
            status
                .stdout
                .contains(&format!("stage={s} status=succeeded")),
            "{}",
            status.stdout
        );
    }
    assert!(
        status.stdout.contains("setup_id = id-setup"),
        "{}",
        status.stdout
    );
    assert!(!status.all().contains(&pg.password));
    let rows = db.strings("SELECT stage FROM setup_apirun_stage_runs ORDER BY id");
    assert!(!rows.is_empty(), "setup's outcome is kept in its own store");
    // a second run sends nothing
    p.apirun(&["stages", "up"]).ok();
    assert_eq!(api.received().len(), 4);
}
