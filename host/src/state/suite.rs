//! The store's test suite, run against every backend with the same test code.
//!
//! SQLite always runs. PostgreSQL runs when `APIRUN_TEST_POSTGRES_URL` names a server whose
//! role may create schemas and roles (`.ci/postgres.sh start` prints one); each test then works
//! in a schema of its own, so tests run in parallel. With the variable set, an unreachable
//! server fails the tests: CI sets it, and a skipped backend must not pass for a tested one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::Duration;

use super::*;

/// The environment variable naming the PostgreSQL server the tests use.
pub(crate) const PG_URL_VAR: &str = "APIRUN_TEST_POSTGRES_URL";

/// A backend under test: fresh, empty storage per value.
pub(crate) trait Backend {
    /// Open a store with these table names (qualified into the backend's own space).
    fn open(&self, tables: &TableNames) -> Box<dyn Store>;
    /// Run a query returning one integer; `{s}` stands for the schema prefix of table names.
    fn scalar(&self, sql: &str) -> i64;
    /// Create the tables and rows the Go original left: versions 1 and 3 applied, one run,
    /// one stored variable (`rid` = `7` for version 1).
    fn seed_go_original(&self);
}

fn start(version: u64, direction: Direction) -> RunStart<'static> {
    RunStart {
        version,
        direction,
        name: "create realm",
        checksum: "abc",
    }
}

fn versions(s: &dyn Store) -> Vec<u64> {
    s.applied()
        .expect("applied")
        .iter()
        .map(|a| a.version)
        .collect()
}

// --- the suite --------------------------------------------------------------------------------

fn up_success_records_version_runs_and_env_atomically(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    let id = s.begin(start(1, Direction::Up)).expect("begin");
    assert_eq!(s.in_doubt().expect("doubt").len(), 1);
    assert_eq!(s.in_doubt().expect("doubt")[0].state, RunState::Started);
    let outcome = Outcome {
        status_code: 201,
        env: vec![("rid".into(), "42".into())],
        duration: Duration::from_millis(12),
        ..Outcome::default()
    };
    s.succeed(id, start(1, Direction::Up), &outcome)
        .expect("succeed");
    assert!(s.in_doubt().expect("doubt").is_empty());
    let applied = s.applied().expect("applied");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].version, 1);
    assert_eq!(applied[0].checksum.as_deref(), Some("abc"));
    assert_eq!(applied[0].name.as_deref(), Some("create realm"));
    let at = &applied[0].applied_at;
    assert!(at.ends_with('Z') && at.len() == 24, "{at}");
    assert_eq!(
        s.stored_env().expect("env"),
        vec![(1, "rid".to_string(), "42".to_string())]
    );
    let hist = s.history(None).expect("history");
    assert_eq!(hist[0].status_code, 201);
    assert_eq!(hist[0].state, RunState::Succeeded);
    assert!(!hist[0].failed);
    assert_eq!(hist[0].duration_ms, Some(12));
    assert!(hist[0].finished_at.is_some());
    assert!(hist[0].ran_at.ends_with('Z'), "{}", hist[0].ran_at);
    assert_eq!(hist[0].env, vec![("rid".to_string(), "42".to_string())]);
    // the columns the guide queries are there
    assert_eq!(
        b.scalar(
            "SELECT COUNT(*) FROM {s}schema_migrations WHERE version = 1 AND applied_at IS NOT NULL"
        ),
        1
    );

    let id = s.begin(start(1, Direction::Down)).expect("begin down");
    s.succeed(id, start(1, Direction::Down), &Outcome::default())
        .expect("down");
    assert!(s.applied().expect("applied").is_empty());
    assert!(s.stored_env().expect("env").is_empty());
    let hist = s.history(None).expect("history");
    assert_eq!(hist.len(), 2);
    assert_eq!(hist[0].direction, Direction::Down);
    assert!(hist[0].env.is_empty());
}

fn failure_applies_nothing_and_stores_no_env(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    let id = s.begin(start(3, Direction::Up)).expect("begin");
    let outcome = Outcome {
        status_code: 500,
        env: vec![("partial".into(), "x".into())],
        error: Some("status 500".into()),
        ..Outcome::default()
    };
    s.fail(id, &outcome).expect("fail");
    assert!(s.applied().expect("applied").is_empty());
    assert!(s.stored_env().expect("env").is_empty());
    let h = s.history(Some(1)).expect("history");
    assert!(h[0].failed);
    assert_eq!(h[0].state, RunState::Failed);
    assert_eq!(h[0].status_code, 500);
    assert_eq!(h[0].error.as_deref(), Some("status 500"));
}

fn resolve_in_doubt_both_ways(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    let a = s.begin(start(1, Direction::Up)).expect("begin");
    let c = s.begin(start(2, Direction::Up)).expect("begin");
    s.resolve(a, true).expect("resolve a");
    s.resolve(c, false).expect("resolve c");
    assert!(s.in_doubt().expect("doubt").is_empty());
    assert_eq!(versions(s.as_ref()), vec![1]);
    assert!(matches!(s.resolve(a, true), Err(StateError::NotInDoubt(_))));
    let h = s.history(None).expect("history");
    assert!(h.iter().all(|r| r.state == RunState::Resolved));
    assert_eq!(h.iter().filter(|r| r.failed).count(), 1);

    // a down run in doubt, resolved as applied, removes the version and its variables
    let id = s.begin(start(1, Direction::Down)).expect("begin down");
    s.resolve(id, true).expect("resolve down");
    assert!(versions(s.as_ref()).is_empty());
}

fn upgrades_a_go_original_store_in_place(b: &dyn Backend) {
    b.seed_go_original();
    let mut s = b.open(&TableNames::default());
    assert_eq!(versions(s.as_ref()), vec![1, 3]);
    assert_eq!(
        s.stored_env().expect("env"),
        vec![(1, "rid".to_string(), "7".to_string())]
    );
    let h = s.history(None).expect("history");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].state, RunState::Succeeded);
    assert_eq!(h[0].status_code, 200);
    // new runs go on in the upgraded tables, with versions too large for the old INTEGER
    let big = 20_260_101_120_000;
    let id = s.begin(start(big, Direction::Up)).expect("begin");
    s.succeed(id, start(big, Direction::Up), &Outcome::default())
        .expect("succeed");
    assert_eq!(versions(s.as_ref()), vec![1, 3, big]);
    // opening again is a no-op
    drop(s);
    let s = b.open(&TableNames::default());
    assert_eq!(versions(s.as_ref()), vec![1, 3, big]);
}

fn stage_runs_newest_first(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    assert_eq!(s.last_stage_run("setup").expect("read"), None);
    let mut run = StageRun {
        stage: "setup".into(),
        outcome: "failed".into(),
        started_at: "a".into(),
        finished_at: "b".into(),
        duration_ms: 5,
        error: Some("boom".into()),
        exported: 0,
    };
    s.record_stage_run(&run).expect("record");
    run.outcome = "succeeded".into();
    run.error = None;
    run.exported = 2;
    s.record_stage_run(&run).expect("record");
    assert_eq!(s.last_stage_run("setup").expect("read"), Some(run));
    assert_eq!(s.last_stage_run("other").expect("read"), None);
}

fn custom_table_names(b: &dyn Backend) {
    let tables = TableNames {
        schema_migrations: "p_schema_migrations".into(),
        migration_runs: "p_migration_runs".into(),
        stored_env: "p_stored_env".into(),
    };
    let mut s = b.open(&tables);
    let id = s.begin(start(1, Direction::Up)).expect("begin");
    let outcome = Outcome {
        env: vec![("k".into(), "v".into())],
        ..Outcome::default()
    };
    s.succeed(id, start(1, Direction::Up), &outcome)
        .expect("ok");
    assert_eq!(b.scalar("SELECT COUNT(*) FROM {s}p_schema_migrations"), 1);
    assert_eq!(b.scalar("SELECT COUNT(*) FROM {s}p_stored_env"), 1);
    assert_eq!(b.scalar("SELECT COUNT(*) FROM {s}p_migration_runs"), 1);
    // the default tables of the same space are a different store
    let other = b.open(&TableNames::default());
    assert!(versions(other.as_ref()).is_empty());
}

fn state_survives_reopening(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    for v in [2, 1, 5] {
        let id = s.begin(start(v, Direction::Up)).expect("begin");
        let outcome = Outcome {
            env: vec![(format!("v{v}"), v.to_string())],
            body: Some(format!("{{\"v\":{v}}}")),
            ..Outcome::default()
        };
        s.succeed(id, start(v, Direction::Up), &outcome)
            .expect("succeed");
    }
    drop(s);
    let s = b.open(&TableNames::default());
    assert_eq!(versions(s.as_ref()), vec![1, 2, 5]);
    let env = s.stored_env().expect("env");
    assert_eq!(
        env.iter().map(|(v, _, _)| *v).collect::<Vec<_>>(),
        vec![1, 2, 5]
    );
    let h = s.history(Some(2)).expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!(h[0].version, 5);
    assert_eq!(h[1].version, 1);
    assert!(h[0].id > h[1].id);
    assert_eq!(s.history(None).expect("history").len(), 3);
    assert_eq!(
        b.scalar("SELECT COUNT(*) FROM {s}migration_runs WHERE body = '{\"v\":2}'"),
        1
    );
}

fn reapplying_a_version_replaces_its_variables(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    for value in ["first", "second"] {
        let id = s.begin(start(1, Direction::Up)).expect("begin");
        let outcome = Outcome {
            env: vec![("k".into(), value.into())],
            ..Outcome::default()
        };
        s.succeed(id, start(1, Direction::Up), &outcome)
            .expect("succeed");
    }
    assert_eq!(
        s.stored_env().expect("env"),
        vec![(1, "k".to_string(), "second".to_string())]
    );
    assert_eq!(versions(s.as_ref()), vec![1]);
}

fn succeed_and_begin_records_both_in_one_transaction(b: &dyn Backend) {
    let mut s = b.open(&TableNames::default());
    let first = s.begin(start(1, Direction::Up)).expect("begin");
    let outcome = Outcome {
        status_code: 201,
        env: vec![("rid".into(), "42".into())],
        duration: Duration::from_millis(7),
        ..Outcome::default()
    };
    let second = s
        .succeed_and_begin(
            first,
            start(1, Direction::Up),
            &outcome,
            start(2, Direction::Up),
        )
        .expect("succeed and begin");
    assert_ne!(first, second);
    // the first is applied with everything `succeed` records
    assert_eq!(versions(s.as_ref()), vec![1]);
    assert_eq!(
        s.stored_env().expect("env"),
        vec![(1, "rid".to_string(), "42".to_string())]
    );
    let h = s.history(None).expect("history");
    assert_eq!(h.len(), 2);
    assert_eq!((h[1].id, h[1].state), (first, RunState::Succeeded));
    assert_eq!(h[1].status_code, 201);
    assert_eq!(h[1].duration_ms, Some(7));
    assert_eq!(h[1].env, vec![("rid".to_string(), "42".to_string())]);
    // the second is recorded as started: a crash now leaves it in doubt, also after reopening
    drop(s);
    let mut s = b.open(&TableNames::default());
    let doubt = s.in_doubt().expect("doubt");
    assert_eq!(doubt.len(), 1);
    assert_eq!((doubt[0].id, doubt[0].version), (second, 2));
    assert_eq!(doubt[0].state, RunState::Started);
    assert_eq!(doubt[0].direction, Direction::Up);
    assert_eq!(doubt[0].name.as_deref(), Some("create realm"));
    assert!(doubt[0].ran_at.ends_with('Z'), "{}", doubt[0].ran_at);

    // chained: the second succeeds and a down run of version 2 begins, then finishes
    let down = s
        .succeed_and_begin(
            second,
            start(2, Direction::Up),
            &Outcome::default(),
            start(2, Direction::Down),
        )
        .expect("succeed and begin down");
    assert_eq!(versions(s.as_ref()), vec![1, 2]);
    let last = s
        .succeed_and_begin(
            down,
            start(2, Direction::Down),
            &Outcome::default(),
            start(1, Direction::Down),
        )
        .expect("down, then the next down");
    assert_eq!(versions(s.as_ref()), vec![1]);
    s.succeed(last, start(1, Direction::Down), &Outcome::default())
        .expect("last down");
    assert!(versions(s.as_ref()).is_empty());
    assert!(s.stored_env().expect("env").is_empty());
    assert!(s.in_doubt().expect("doubt").is_empty());
    let states: Vec<(u64, Direction, RunState)> = s
        .history(None)
        .expect("history")
        .iter()
        .rev()
        .map(|r| (r.version, r.direction, r.state))
        .collect();
    assert_eq!(
        states,
        vec![
            (1, Direction::Up, RunState::Succeeded),
            (2, Direction::Up, RunState::Succeeded),
            (2, Direction::Down, RunState::Succeeded),
            (1, Direction::Down, RunState::Succeeded),
        ]
    );
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(
                #[test]
                fn $name() {
                    super::$name(&super::SqliteBackend::new());
                }
            )*
        }
        mod postgres_backend {
            $(
                #[test]
                fn $name() {
                    if let Some(b) = super::PgBackend::new() {
                        super::$name(&b);
                    }
                }
            )*
        }
    };
}

suite!(
    up_success_records_version_runs_and_env_atomically,
    failure_applies_nothing_and_stores_no_env,
    resolve_in_doubt_both_ways,
    upgrades_a_go_original_store_in_place,
    stage_runs_newest_first,
    custom_table_names,
    state_survives_reopening,
    reapplying_a_version_replaces_its_variables,
    succeed_and_begin_records_both_in_one_transaction,
);

// --- SQLite -----------------------------------------------------------------------------------

pub(crate) struct SqliteBackend {
    dir: tempfile::TempDir,
}

impl SqliteBackend {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn file(&self) -> std::path::PathBuf {
        self.dir.path().join("nested/state.db")
    }
}

impl Backend for SqliteBackend {
    fn open(&self, tables: &TableNames) -> Box<dyn Store> {
        Box::new(SqliteStore::open(&self.file(), tables).expect("open sqlite"))
    }

    fn scalar(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(self.file()).expect("open");
        conn.query_row(&sql.replace("{s}", ""), [], |r| r.get(0))
            .expect("query")
    }

    fn seed_go_original(&self) {
        let file = self.file();
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        let conn = rusqlite::Connection::open(file).expect("open");
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
             INSERT INTO schema_migrations(version) VALUES (1), (3);
             CREATE TABLE migration_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, version INTEGER NOT NULL,
               direction TEXT NOT NULL, status_code INTEGER NOT NULL, body TEXT NULL, env_json TEXT NULL,
               failed INTEGER NOT NULL DEFAULT 0, ran_at TEXT NOT NULL);
             INSERT INTO migration_runs(version, direction, status_code, ran_at)
               VALUES (1, 'up', 200, '2024-01-01T00:00:00Z');
             CREATE TABLE stored_env (version INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
               PRIMARY KEY(version, name));
             INSERT INTO stored_env VALUES (1, 'rid', '7');",
        )
        .expect("seed");
    }
}

// --- PostgreSQL -------------------------------------------------------------------------------

/// The server named by [`PG_URL_VAR`], or `None` (with a note, once) when it is not set.
/// Panics when it is set but unusable: that is a failed test, not a skipped one.
pub(crate) fn pg_admin_target() -> Option<PgTarget> {
    static NOTE: Once = Once::new();
    let url = match std::env::var(PG_URL_VAR) {
        Ok(u) if !u.trim().is_empty() => u,
        _ => {
            NOTE.call_once(|| {
                eprintln!(
                    "note: {PG_URL_VAR} is not set: PostgreSQL store tests are skipped \
                     (start a server with `eval \"$(.ci/postgres.sh start)\"`)"
                );
            });
            return None;
        }
    };
    Some(PgTarget::parse(&url).unwrap_or_else(|e| panic!("{PG_URL_VAR}: {e}")))
}

/// A name no other test (or test process) uses.
pub(crate) fn unique_name(prefix: &str) -> String {
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

/// A schema of its own in the test server, dropped at the end.
pub(crate) struct PgBackend {
    target: PgTarget,
    admin: Mutex<::postgres::Client>,
    schema: String,
}

impl PgBackend {
    pub(crate) fn new() -> Option<Self> {
        let target = pg_admin_target()?;
        let mut admin = target
            .connect(None)
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but the server cannot be used: {e}"));
        let schema = unique_name("apirun_t");
        admin
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .expect("create schema");
        Some(Self {
            target,
            admin: Mutex::new(admin),
            schema,
        })
    }

    pub(crate) fn qualify(&self, tables: &TableNames) -> TableNames {
        let q = |n: &str| format!("{}.{n}", self.schema);
        TableNames {
            schema_migrations: q(&tables.schema_migrations),
            migration_runs: q(&tables.migration_runs),
            stored_env: q(&tables.stored_env),
        }
    }

    pub(crate) fn target(&self) -> &PgTarget {
        &self.target
    }

    pub(crate) fn schema(&self) -> &str {
        &self.schema
    }

    pub(crate) fn admin(&self) -> std::sync::MutexGuard<'_, ::postgres::Client> {
        self.admin.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for PgBackend {
    fn drop(&mut self) {
        let _ = self
            .admin()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema));
    }
}

impl Backend for PgBackend {
    fn open(&self, tables: &TableNames) -> Box<dyn Store> {
        Box::new(PostgresStore::open(&self.target, &self.qualify(tables)).expect("open postgres"))
    }

    fn scalar(&self, sql: &str) -> i64 {
        let sql = sql.replace("{s}", &format!("{}.", self.schema));
        self.admin()
            .query_one(&sql, &[])
            .expect("query")
            .get::<_, i64>(0)
    }

    fn seed_go_original(&self) {
        // The Go original's PostgreSQL layout (internal/store/postgresql/dialect.go).
        let s = &self.schema;
        self.admin()
            .batch_execute(&format!(
                "CREATE TABLE {s}.schema_migrations (version INTEGER PRIMARY KEY);
                 INSERT INTO {s}.schema_migrations(version) VALUES (1), (3);
                 CREATE TABLE {s}.migration_runs (id SERIAL PRIMARY KEY, version INTEGER NOT NULL,
                   direction TEXT NOT NULL, status_code INTEGER NOT NULL, body TEXT NULL, env_json TEXT NULL,
                   failed BOOLEAN NOT NULL DEFAULT FALSE, ran_at TIMESTAMPTZ NOT NULL);
                 INSERT INTO {s}.migration_runs(version, direction, status_code, ran_at)
                   VALUES (1, 'up', 200, '2024-01-01T00:00:00Z');
                 CREATE TABLE {s}.stored_env (version INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
                   PRIMARY KEY(version, name));
                 INSERT INTO {s}.stored_env VALUES (1, 'rid', '7');"
            ))
            .expect("seed");
    }
}

// --- PostgreSQL only: locks, concurrency, privileges, TLS --------------------------------------

mod postgres_only {
    use super::*;

    #[test]
    fn run_lock_is_exclusive_names_its_holder_and_dies_with_its_connection() {
        let Some(b) = PgBackend::new() else { return };
        let tables = b.qualify(&TableNames::default());
        assert!(
            PgRunLock::holder(b.target(), &tables)
                .expect("holder")
                .is_none()
        );
        let held = PgRunLock::acquire(b.target(), &tables, "apirun up").expect("first");
        let err = PgRunLock::acquire(b.target(), &tables, "apirun up").expect_err("second");
        let text = err.to_string();
        assert!(text.contains("locked by another run"), "{text}");
        assert!(
            text.contains(&format!("apirun up, pid {}", std::process::id())),
            "{text}"
        );
        assert!(text.contains("PostgreSQL advisory lock"), "{text}");
        let holder = PgRunLock::holder(b.target(), &tables)
            .expect("holder")
            .expect("held");
        assert!(holder.description.contains("apirun up"), "{holder:?}");
        assert!(holder.description.contains("since "), "{holder:?}");

        // another store in the same database has a lock of its own
        let other = b.qualify(&TableNames {
            schema_migrations: "x_schema_migrations".into(),
            migration_runs: "x_migration_runs".into(),
            stored_env: "x_stored_env".into(),
        });
        let _other = PgRunLock::acquire(b.target(), &other, "apirun up").expect("other store");

        drop(held);
        assert!(
            PgRunLock::holder(b.target(), &tables)
                .expect("holder")
                .is_none()
        );
        PgRunLock::acquire(b.target(), &tables, "apirun up").expect("after release");
    }

    #[test]
    fn concurrent_first_opens_create_the_tables_once() {
        let Some(b) = PgBackend::new() else { return };
        let tables = b.qualify(&TableNames::default());
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..6)
                .map(|_| scope.spawn(|| PostgresStore::open(b.target(), &tables).map(|_| ())))
                .collect();
            for h in handles {
                h.join().expect("thread").expect("open");
            }
        });
        assert_eq!(
            b.scalar("SELECT value::bigint FROM {s}apirun_store_meta WHERE key = 'schema_version'"),
            postgres::SCHEMA_VERSION
        );
    }

    /// A role that may not create tables: a clear error naming the server and the database;
    /// once an owner created the tables and granted it the rows, it works.
    #[test]
    fn role_without_create_fails_clearly_then_works_on_tables_made_for_it() {
        let Some(b) = PgBackend::new() else { return };
        let role = unique_name("apirun_r");
        let password = format!("pw-{role}");
        b.admin()
            .batch_execute(&format!(
                "CREATE ROLE {role} LOGIN PASSWORD '{password}'; GRANT USAGE ON SCHEMA {} TO {role};",
                b.schema()
            ))
            .expect("role");
        let mut url = format!(
            "host={} user={role} password='{password}' sslmode=disable",
            b.target()
                .server()
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or("localhost"),
        );
        if let Some((_, port)) = b.target().server().rsplit_once(':') {
            url.push_str(&format!(" port={port}"));
        }
        url.push_str(&format!(" dbname={}", b.target().dbname()));
        let target = PgTarget::parse(&url).expect("target");
        let tables = b.qualify(&TableNames::default());
        let err = PostgresStore::open(&target, &tables).expect_err("no CREATE");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                StateError::Postgres {
                    kind: PgErrorKind::Permission,
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains(b.target().server()), "{text}");
        assert!(text.contains(b.target().dbname()), "{text}");
        assert!(text.contains("CREATE"), "{text}");
        assert!(!text.contains(&password), "{text}");

        // an owner creates the tables and grants the rows: the role needs nothing more
        drop(b.open(&TableNames::default()));
        b.admin()
            .batch_execute(&format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {role};
                 GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {role};",
                s = b.schema()
            ))
            .expect("grant");
        let mut s = PostgresStore::open(&target, &tables).expect("open with row rights");
        let id = s.begin(start(1, Direction::Up)).expect("begin");
        s.succeed(id, start(1, Direction::Up), &Outcome::default())
            .expect("succeed");
        assert_eq!(versions(&s), vec![1]);
        let lock = PgRunLock::acquire(&target, &tables, "apirun up").expect("lock");
        drop((s, lock));
        let _ = b
            .admin()
            .batch_execute(&format!("DROP OWNED BY {role}; DROP ROLE {role};"));
    }

    #[test]
    fn unreachable_server_and_wrong_password_are_clear_and_never_show_the_password() {
        let Some(b) = PgBackend::new() else { return };
        // a port nothing listens on
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let target = PgTarget::parse(&format!(
            "postgres://nobody:hunter2-secret@127.0.0.1:{port}/somedb?sslmode=disable"
        ))
        .expect("target");
        let err = PostgresStore::open(&target, &TableNames::default()).expect_err("refused");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                StateError::Postgres {
                    kind: PgErrorKind::Unreachable,
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("somedb"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");

        let (host, port) = b.target().server().rsplit_once(':').expect("host:port");
        let target = PgTarget::parse(&format!(
            "postgres://postgres:wrong-password-x@{host}:{port}/{}?sslmode=disable",
            b.target().dbname()
        ))
        .expect("target");
        let Err(err) = PgRunLock::acquire(&target, &TableNames::default(), "apirun up") else {
            panic!("a wrong password was accepted");
        };
        let text = err.to_string();
        assert!(
            matches!(
                err,
                StateError::Postgres {
                    kind: PgErrorKind::Authentication,
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains(b.target().server()), "{text}");
        assert!(text.contains(b.target().dbname()), "{text}");
        assert!(text.contains("password"), "{text}");
        assert!(!text.contains("wrong-password-x"), "{text}");
    }

    /// TLS against the test server's self-signed certificate (`.ci/postgres.sh` makes one and
    /// exports its path as `APIRUN_TEST_POSTGRES_CA` when `openssl` is available).
    #[test]
    fn tls_modes_against_a_self_signed_server() {
        let Some(_b) = PgBackend::new() else { return };
        let Ok(ca) = std::env::var("APIRUN_TEST_POSTGRES_CA") else {
            eprintln!("note: APIRUN_TEST_POSTGRES_CA is not set: TLS tests are skipped");
            return;
        };
        let url = std::env::var(PG_URL_VAR).expect("url");
        let base = url.split('?').next().expect("base").to_string();
        let with = |query: &str| PgTarget::parse(&format!("{base}?{query}")).expect("target");

        for query in [
            "sslmode=require".to_string(),
            "sslmode=prefer".to_string(),
            format!("sslmode=verify-ca&sslrootcert={ca}"),
        ] {
            let mut c = with(&query)
                .connect(None)
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            let ssl: bool = c
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .expect("pg_stat_ssl")
                .get(0);
            assert!(ssl, "{query}: not encrypted");
        }
        // the certificate names localhost
        let local = base.replacen("127.0.0.1", "localhost", 1);
        PgTarget::parse(&format!("{local}?sslmode=verify-full&sslrootcert={ca}"))
            .expect("target")
            .connect(None)
            .expect("verify-full with the right name and root");
        // an unknown root is refused, clearly
        let Err(err) = with("sslmode=verify-full").connect(None) else {
            panic!("an untrusted certificate was accepted");
        };
        let text = err.to_string();
        assert!(
            matches!(
                err,
                StateError::Postgres {
                    kind: PgErrorKind::Unreachable,
                    ..
                }
            ),
            "{text}"
        );
        assert!(
            text.to_lowercase().contains("certificate") || text.contains("TLS"),
            "{text}"
        );
    }
}
