//! The SQLite store: a plain file users can open with `sqlite3`.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a run recorded as succeeded survives a
//! power cut. The store's own schema version lives in `apirun_store_meta`; files created by the
//! Go original (without `applied_at`, `state`, …) are upgraded in place by adding columns.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Applied, Direction, Outcome, RunRecord, RunStart, RunState, StageRun, StateError, Store,
    TableNames, now_rfc3339, quote_table, validate_table_name,
};

/// Version of the tables' layout written by this apirun.
pub const SCHEMA_VERSION: i64 = 1;

/// Columns apirun added to the Go original's `schema_migrations`, with their declarations.
const MIGRATIONS_ADDED: &[(&str, &str)] = &[
    ("applied_at", "TEXT NOT NULL DEFAULT ''"),
    ("name", "TEXT NULL"),
    ("checksum", "TEXT NULL"),
];

/// Columns apirun added to the Go original's `migration_runs`, with their declarations.
const RUNS_ADDED: &[(&str, &str)] = &[
    ("state", "TEXT NOT NULL DEFAULT 'succeeded'"),
    ("finished_at", "TEXT NULL"),
    ("duration_ms", "INTEGER NULL"),
    ("error", "TEXT NULL"),
    ("name", "TEXT NULL"),
    ("checksum", "TEXT NULL"),
    ("pid", "INTEGER NULL"),
];

/// A SQLite state file.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
    t_migrations: String,
    t_runs: String,
    t_env: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Open (creating the file, its folder and the tables if needed).
    pub fn open(path: &Path, tables: &TableNames) -> Result<Self, StateError> {
        for name in [
            &tables.schema_migrations,
            &tables.migration_runs,
            &tables.stored_env,
        ] {
            validate_table_name(name)?;
        }
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StateError::Open {
                path: path.display().to_string(),
                message: format!("cannot create folder {}: {e}", parent.display()),
            })?;
        }
        let conn = Connection::open(path).map_err(|e| StateError::Open {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let store = Self {
            conn,
            path: path.to_path_buf(),
            t_migrations: quote_table(&tables.schema_migrations),
            t_runs: quote_table(&tables.migration_runs),
            t_env: quote_table(&tables.stored_env),
        };
        store.init()?;
        Ok(store)
    }

    /// Open an existing file read-only-ish for inspection; `None` when it does not exist.
    pub fn open_existing(path: &Path, tables: &TableNames) -> Result<Option<Self>, StateError> {
        if !path.exists() {
            return Ok(None);
        }
        Self::open(path, tables).map(Some)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql_err(&self, source: rusqlite::Error) -> StateError {
        StateError::Sql {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Settings, then the tables: created or upgraded in one write transaction (one durable
    /// commit on a new file, instead of one per statement), and not written at all when they
    /// are already current, so opening a store costs a few reads.
    fn init(&self) -> Result<(), StateError> {
        self.conn
            .busy_timeout(Duration::from_secs(30))
            .map_err(|e| self.sql_err(e))?;
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| self.sql_err(e))?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| self.sql_err(e))?;
        if self.is_current().map_err(|e| self.sql_err(e))? {
            return Ok(());
        }
        // IMMEDIATE: two processes opening a new file at once take turns instead of failing
        // to upgrade a read transaction.
        let tx = rusqlite::Transaction::new_unchecked(
            &self.conn,
            rusqlite::TransactionBehavior::Immediate,
        )
        .map_err(|e| self.sql_err(e))?;
        let (m, r, e) = (&self.t_migrations, &self.t_runs, &self.t_env);
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS apirun_store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS {m} (version INTEGER PRIMARY KEY);
             CREATE TABLE IF NOT EXISTS {r} (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 version INTEGER NOT NULL,
                 direction TEXT NOT NULL,
                 status_code INTEGER NOT NULL,
                 body TEXT NULL,
                 env_json TEXT NULL,
                 failed INTEGER NOT NULL DEFAULT 0,
                 ran_at TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS apirun_stage_runs (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 stage TEXT NOT NULL,
                 outcome TEXT NOT NULL,
                 started_at TEXT NOT NULL,
                 finished_at TEXT NOT NULL,
                 duration_ms INTEGER NOT NULL,
                 error TEXT NULL,
                 exported INTEGER NOT NULL DEFAULT 0);
             CREATE TABLE IF NOT EXISTS {e} (
                 version INTEGER NOT NULL,
                 name TEXT NOT NULL,
                 value TEXT NOT NULL,
                 PRIMARY KEY(version, name));"
        );
        tx.execute_batch(&ddl).map_err(|e| self.sql_err(e))?;
        // Columns added by apirun to the original layout; added in place to older files.
        self.add_columns(&self.t_migrations, MIGRATIONS_ADDED)?;
        self.add_columns(&self.t_runs, RUNS_ADDED)?;
        tx.execute(
            "INSERT INTO apirun_store_meta(key, value) VALUES ('schema_version', ?1)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value
             WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
            params![SCHEMA_VERSION.to_string()],
        )
        .map_err(|e| self.sql_err(e))?;
        tx.commit().map_err(|e| self.sql_err(e))
    }

    /// Whether every table exists with every column and the recorded layout version is this
    /// apirun's or newer: nothing to create or upgrade.
    fn is_current(&self) -> rusqlite::Result<bool> {
        // No meta table: a new file, or one written by the Go original.
        let has_meta: bool = self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'apirun_store_meta')",
            [],
            |r| r.get(0),
        )?;
        if !has_meta {
            return Ok(false);
        }
        let version: Option<String> = self
            .conn
            .query_row(
                "SELECT value FROM apirun_store_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()?;
        if version.and_then(|v| v.parse::<i64>().ok()).unwrap_or(0) < SCHEMA_VERSION {
            return Ok(false);
        }
        let has_all = |table: &str, wanted: &[&str]| -> rusqlite::Result<bool> {
            let existing = self.columns(table)?;
            Ok(wanted
                .iter()
                .all(|w| existing.iter().any(|c| c.eq_ignore_ascii_case(w))))
        };
        let names = |added: &[(&'static str, &'static str)]| -> Vec<&'static str> {
            added.iter().map(|(n, _)| *n).collect()
        };
        let mut migrations = vec!["version"];
        migrations.extend(names(MIGRATIONS_ADDED));
        let mut runs = vec![
            "id",
            "version",
            "direction",
            "status_code",
            "env_json",
            "ran_at",
        ];
        runs.extend(names(RUNS_ADDED));
        Ok(has_all(&self.t_migrations, &migrations)?
            && has_all(&self.t_runs, &runs)?
            && has_all(&self.t_env, &["version", "name", "value"])?
            && has_all("apirun_stage_runs", &["stage", "exported"])?)
    }

    /// The column names of `table` (quoted, optionally `schema.table`); empty when it does
    /// not exist.
    fn columns(&self, table: &str) -> rusqlite::Result<Vec<String>> {
        let (schema, bare) = match table.split_once('.') {
            Some((s, t)) => (format!("{s}."), t.to_string()),
            None => (String::new(), table.to_string()),
        };
        let mut stmt = self
            .conn
            .prepare(&format!("PRAGMA {schema}table_info({bare})"))?;
        stmt.query_map([], |row| row.get::<_, String>(1))?.collect()
    }

    fn add_columns(&self, table: &str, columns: &[(&str, &str)]) -> Result<(), StateError> {
        let existing = self.columns(table).map_err(|e| self.sql_err(e))?;
        for (name, decl) in columns {
            if !existing.iter().any(|c| c.eq_ignore_ascii_case(name)) {
                self.conn
                    .execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {name} {decl}"))
                    .map_err(|e| self.sql_err(e))?;
            }
        }
        Ok(())
    }

    fn run_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RunRecord> {
        let env_json: Option<String> = row.get(11)?;
        let env = super::env_from_json(env_json.as_deref());
        Ok(RunRecord {
            id: row.get(0)?,
            version: row.get::<_, i64>(1)? as u64,
            direction: Direction::parse(&row.get::<_, String>(2)?),
            status_code: row.get::<_, i64>(3)?.clamp(0, u16::MAX as i64) as u16,
            failed: row.get::<_, i64>(4)? != 0,
            ran_at: row.get(5)?,
            state: RunState::parse(&row.get::<_, String>(6)?),
            finished_at: row.get(7)?,
            duration_ms: row.get::<_, Option<i64>>(8)?.map(|d| d.max(0) as u64),
            error: row.get(9)?,
            name: row.get(10)?,
            env,
        })
    }

    /// Insert the `started` row of a run (on `conn`, which may be a transaction); its id.
    fn insert_start(&self, conn: &Connection, start: &RunStart<'_>) -> rusqlite::Result<i64> {
        let sql = format!(
            "INSERT INTO {} (version, direction, status_code, failed, ran_at, state, name, checksum, pid)
             VALUES (?1, ?2, 0, 0, ?3, 'started', ?4, ?5, ?6)",
            self.t_runs
        );
        conn.prepare_cached(&sql)?.execute(params![
            start.version as i64,
            start.direction.as_str(),
            now_rfc3339(),
            start.name,
            start.checksum,
            std::process::id()
        ])?;
        Ok(conn.last_insert_rowid())
    }

    /// Mark a run succeeded and apply its effect: the applied version and its stored
    /// variables (up), or their removal (down). `tx` is the caller's transaction. Statements
    /// are prepared once per connection: a run records hundreds of migrations.
    fn record_success(
        &self,
        tx: &Connection,
        run_id: i64,
        start: &RunStart<'_>,
        outcome: &Outcome,
    ) -> rusqlite::Result<()> {
        let (t_runs, t_m, t_env) = (&self.t_runs, &self.t_migrations, &self.t_env);
        let version = start.version as i64;
        let now = now_rfc3339();
        let env = if start.direction == Direction::Up {
            super::env_to_json(&outcome.env)
        } else {
            None
        };
        tx.prepare_cached(&format!(
            "UPDATE {t_runs} SET state = 'succeeded', failed = 0, status_code = ?2, body = ?3,
             env_json = ?4, finished_at = ?5, duration_ms = ?6, error = NULL WHERE id = ?1"
        ))?
        .execute(params![
            run_id,
            outcome.status_code,
            outcome.body,
            env,
            now,
            outcome.duration.as_millis() as i64
        ])?;
        let delete_env = format!("DELETE FROM {t_env} WHERE version = ?1");
        match start.direction {
            Direction::Up => {
                tx.prepare_cached(&format!(
                    "INSERT INTO {t_m} (version, applied_at, name, checksum) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT(version) DO UPDATE SET applied_at = excluded.applied_at,
                     name = excluded.name, checksum = excluded.checksum"
                ))?
                .execute(params![version, now, start.name, start.checksum])?;
                tx.prepare_cached(&delete_env)?.execute(params![version])?;
                let mut insert = tx.prepare_cached(&format!(
                    "INSERT INTO {t_env} (version, name, value) VALUES (?1, ?2, ?3)"
                ))?;
                for (name, value) in &outcome.env {
                    insert.execute(params![version, name, value])?;
                }
            }
            Direction::Down => {
                tx.prepare_cached(&format!("DELETE FROM {t_m} WHERE version = ?1"))?
                    .execute(params![version])?;
                tx.prepare_cached(&delete_env)?.execute(params![version])?;
            }
        }
        Ok(())
    }

    fn runs_where(&self, clause: &str, limit: Option<usize>) -> Result<Vec<RunRecord>, StateError> {
        let limit = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
        let sql = format!(
            "SELECT id, version, direction, status_code, failed, ran_at, state, finished_at,
                    duration_ms, error, name, env_json
             FROM {} {clause} ORDER BY id DESC{limit}",
            self.t_runs
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], Self::run_from_row)
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(rows)
    }
}

impl Store for SqliteStore {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn applied(&self) -> Result<Vec<Applied>, StateError> {
        let sql = format!(
            "SELECT version, applied_at, name, checksum FROM {} ORDER BY version",
            self.t_migrations
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Applied {
                    version: row.get::<_, i64>(0)? as u64,
                    applied_at: row.get(1)?,
                    name: row.get(2)?,
                    checksum: row.get(3)?,
                })
            })
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(rows)
    }

    fn stored_env(&self) -> Result<Vec<(u64, String, String)>, StateError> {
        let sql = format!(
            "SELECT e.version, e.name, e.value FROM {} e JOIN {} m ON m.version = e.version
             ORDER BY e.version, e.name",
            self.t_env, self.t_migrations
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.sql_err(e))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get(1)?, row.get(2)?))
            })
            .map_err(|e| self.sql_err(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sql_err(e))?;
        Ok(rows)
    }

    fn in_doubt(&self) -> Result<Vec<RunRecord>, StateError> {
        self.runs_where("WHERE state = 'started'", None)
    }

    fn history(&self, limit: Option<usize>) -> Result<Vec<RunRecord>, StateError> {
        self.runs_where("", limit)
    }

    fn begin(&mut self, start: RunStart<'_>) -> Result<i64, StateError> {
        self.insert_start(&self.conn, &start)
            .map_err(|e| self.sql_err(e))
    }

    fn succeed(
        &mut self,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
    ) -> Result<(), StateError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sql_err(e))?;
        self.record_success(&tx, run_id, &start, outcome)
            .and_then(|()| tx.commit())
            .map_err(|e| self.sql_err(e))
    }

    fn succeed_and_begin(
        &mut self,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
        next: RunStart<'_>,
    ) -> Result<i64, StateError> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(|e| self.sql_err(e))?;
        self.record_success(&tx, run_id, &start, outcome)
            .and_then(|()| self.insert_start(&tx, &next))
            .and_then(|id| tx.commit().map(|()| id))
            .map_err(|e| self.sql_err(e))
    }

    fn fail(&mut self, run_id: i64, outcome: &Outcome) -> Result<(), StateError> {
        let sql = format!(
            "UPDATE {} SET state = 'failed', failed = 1, status_code = ?2, body = ?3, env_json = ?4,
             finished_at = ?5, duration_ms = ?6, error = ?7 WHERE id = ?1",
            self.t_runs
        );
        self.conn
            .execute(
                &sql,
                params![
                    run_id,
                    outcome.status_code,
                    outcome.body,
                    super::env_to_json(&outcome.env),
                    now_rfc3339(),
                    outcome.duration.as_millis() as i64,
                    outcome.error
                ],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    fn resolve(&mut self, run_id: i64, applied: bool) -> Result<(), StateError> {
        let sql = format!(
            "SELECT version, direction, name, checksum FROM {} WHERE id = ?1 AND state = 'started'",
            self.t_runs
        );
        let row: Option<(i64, String, Option<String>, Option<String>)> = self
            .conn
            .query_row(&sql, params![run_id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(|e| self.sql_err(e))?;
        let Some((version, direction, name, checksum)) = row else {
            return Err(StateError::NotInDoubt(run_id));
        };
        let path = self.path.display().to_string();
        let (t_runs, t_m, t_env) = (
            self.t_runs.clone(),
            self.t_migrations.clone(),
            self.t_env.clone(),
        );
        let err = |source| StateError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        let now = now_rfc3339();
        tx.execute(
            &format!(
                "UPDATE {t_runs} SET state = 'resolved', failed = ?2, finished_at = ?3,
                 error = ?4 WHERE id = ?1"
            ),
            params![
                run_id,
                i64::from(!applied),
                now,
                if applied {
                    "resolved by hand as applied"
                } else {
                    "resolved by hand as not applied"
                }
            ],
        )
        .map_err(err)?;
        if applied {
            if Direction::parse(&direction) == Direction::Up {
                tx.execute(
                    &format!(
                        "INSERT INTO {t_m} (version, applied_at, name, checksum) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT(version) DO NOTHING"
                    ),
                    params![version, now, name, checksum],
                )
                .map_err(err)?;
            } else {
                tx.execute(
                    &format!("DELETE FROM {t_m} WHERE version = ?1"),
                    params![version],
                )
                .map_err(err)?;
                tx.execute(
                    &format!("DELETE FROM {t_env} WHERE version = ?1"),
                    params![version],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn record_stage_run(&mut self, run: &StageRun) -> Result<(), StateError> {
        self.conn
            .execute(
                "INSERT INTO apirun_stage_runs (stage, outcome, started_at, finished_at, duration_ms, error, exported)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    run.stage,
                    run.outcome,
                    run.started_at,
                    run.finished_at,
                    run.duration_ms as i64,
                    run.error,
                    run.exported as i64
                ],
            )
            .map_err(|e| self.sql_err(e))?;
        Ok(())
    }

    fn last_stage_run(&self, stage: &str) -> Result<Option<StageRun>, StateError> {
        self.conn
            .query_row(
                "SELECT stage, outcome, started_at, finished_at, duration_ms, error, exported
                 FROM apirun_stage_runs WHERE stage = ?1 ORDER BY id DESC LIMIT 1",
                params![stage],
                |r| {
                    Ok(StageRun {
                        stage: r.get(0)?,
                        outcome: r.get(1)?,
                        started_at: r.get(2)?,
                        finished_at: r.get(3)?,
                        duration_ms: r.get::<_, i64>(4)?.max(0) as u64,
                        error: r.get(5)?,
                        exported: r.get::<_, i64>(6)?.max(0) as usize,
                    })
                },
            )
            .optional()
            .map_err(|e| self.sql_err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start(version: u64, direction: Direction) -> RunStart<'static> {
        RunStart {
            version,
            direction,
            name: "create realm",
            checksum: "abc",
        }
    }

    #[test]
    fn up_success_records_version_runs_and_env_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("nested/state.db");
        let mut s = SqliteStore::open(&path, &TableNames::default()).expect("open");
        let id = s.begin(start(1, Direction::Up)).expect("begin");
        assert_eq!(s.in_doubt().expect("doubt").len(), 1);
        let outcome = Outcome {
            status_code: 201,
            env: vec![("rid".into(), "42".into())],
            ..Outcome::default()
        };
        s.succeed(id, start(1, Direction::Up), &outcome)
            .expect("succeed");
        assert!(s.in_doubt().expect("doubt").is_empty());
        let applied = s.applied().expect("applied");
        assert_eq!(applied.len(), 1);
        assert_eq!(applied[0].version, 1);
        assert_eq!(applied[0].checksum.as_deref(), Some("abc"));
        assert!(!applied[0].applied_at.is_empty());
        assert_eq!(
            s.stored_env().expect("env"),
            vec![(1, "rid".to_string(), "42".to_string())]
        );
        let hist = s.history(None).expect("history");
        assert_eq!(hist[0].status_code, 201);
        assert_eq!(hist[0].state, RunState::Succeeded);
        assert_eq!(hist[0].env, vec![("rid".to_string(), "42".to_string())]);

        // the columns the guide queries are there
        let conn = Connection::open(&path).expect("reopen");
        let (v, at): (i64, String) = conn
            .query_row(
                "SELECT version, applied_at FROM schema_migrations",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("query");
        assert_eq!(v, 1);
        assert!(at.ends_with('Z'));

        let id = s.begin(start(1, Direction::Down)).expect("begin down");
        s.succeed(id, start(1, Direction::Down), &Outcome::default())
            .expect("down");
        assert!(s.applied().expect("applied").is_empty());
        assert!(s.stored_env().expect("env").is_empty());
    }

    #[test]
    fn failure_applies_nothing_and_stores_no_env() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s =
            SqliteStore::open(&dir.path().join("s.db"), &TableNames::default()).expect("open");
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
        assert_eq!(h[0].error.as_deref(), Some("status 500"));
    }

    #[test]
    fn resolve_in_doubt_both_ways() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s =
            SqliteStore::open(&dir.path().join("s.db"), &TableNames::default()).expect("open");
        let a = s.begin(start(1, Direction::Up)).expect("begin");
        let b = s.begin(start(2, Direction::Up)).expect("begin");
        s.resolve(a, true).expect("resolve a");
        s.resolve(b, false).expect("resolve b");
        assert!(s.in_doubt().expect("doubt").is_empty());
        let versions: Vec<u64> = s
            .applied()
            .expect("applied")
            .iter()
            .map(|a| a.version)
            .collect();
        assert_eq!(versions, vec![1]);
        assert!(matches!(s.resolve(a, true), Err(StateError::NotInDoubt(_))));
    }

    #[test]
    fn upgrades_a_go_original_file_in_place() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("apirun.db");
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY);
             INSERT INTO schema_migrations(version) VALUES (1), (3);
             CREATE TABLE migration_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, version INTEGER NOT NULL,
               direction TEXT NOT NULL, status_code INTEGER NOT NULL, body TEXT NULL, env_json TEXT NULL,
               failed INTEGER NOT NULL DEFAULT 0, ran_at TEXT NOT NULL);
             INSERT INTO migration_runs(version, direction, status_code, ran_at) VALUES (1, 'up', 200, 'x');
             CREATE TABLE stored_env (version INTEGER NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
               PRIMARY KEY(version, name));
             INSERT INTO stored_env VALUES (1, 'rid', '7');",
        )
        .expect("seed");
        drop(conn);
        let s = SqliteStore::open(&path, &TableNames::default()).expect("open");
        let versions: Vec<u64> = s
            .applied()
            .expect("applied")
            .iter()
            .map(|a| a.version)
            .collect();
        assert_eq!(versions, vec![1, 3]);
        assert_eq!(
            s.stored_env().expect("env"),
            vec![(1, "rid".to_string(), "7".to_string())]
        );
        assert_eq!(
            s.history(None).expect("history")[0].state,
            RunState::Succeeded
        );
    }

    #[test]
    fn stage_runs_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s =
            SqliteStore::open(&dir.path().join("s.db"), &TableNames::default()).expect("open");
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

    #[test]
    fn reopening_a_current_store_writes_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.db");
        drop(SqliteStore::open(&path, &TableNames::default()).expect("create"));
        // `data_version` changes when another connection commits to the file.
        let watcher = Connection::open(&path).expect("watch");
        let version = || -> i64 {
            watcher
                .query_row("PRAGMA data_version", [], |r| r.get(0))
                .expect("data_version")
        };
        let before = version();
        drop(SqliteStore::open(&path, &TableNames::default()).expect("reopen"));
        assert_eq!(
            version(),
            before,
            "opening a current store committed something"
        );
        // another set of tables in the same file is created: that is a write
        let other = TableNames {
            schema_migrations: "o_schema_migrations".into(),
            migration_runs: "o_migration_runs".into(),
            stored_env: "o_stored_env".into(),
        };
        let mut s = SqliteStore::open(&path, &other).expect("other tables");
        assert_ne!(version(), before);
        let id = s.begin(start(1, Direction::Up)).expect("begin");
        s.succeed(id, start(1, Direction::Up), &Outcome::default())
            .expect("succeed");
        assert_eq!(s.applied().expect("applied").len(), 1);
    }

    #[test]
    fn custom_table_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tables = TableNames {
            schema_migrations: "p_schema_migrations".into(),
            migration_runs: "p_migration_runs".into(),
            stored_env: "p_stored_env".into(),
        };
        let mut s = SqliteStore::open(&dir.path().join("s.db"), &tables).expect("open");
        let id = s.begin(start(1, Direction::Up)).expect("begin");
        s.succeed(id, start(1, Direction::Up), &Outcome::default())
            .expect("ok");
        let conn = Connection::open(dir.path().join("s.db")).expect("open");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM p_schema_migrations", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 1);
    }
}
