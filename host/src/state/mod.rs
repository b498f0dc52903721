//! What was applied: the state store.
//!
//! The tables apirun users query keep their names and columns (`schema_migrations`,
//! `migration_runs`, `stored_env`); new facts live in new columns. Every migration is recorded
//! as `started` before its first request and `succeeded`/`failed` after, so a crash leaves an
//! explicit in-doubt record instead of silent drift. One run at a time holds the store's run
//! lock ([`acquire_run_lock`]): a file lock beside a SQLite file, an advisory lock in PostgreSQL.

pub mod lock;
pub mod memory;
pub mod postgres;
pub mod sqlite;
#[cfg(test)]
mod suite;

use std::time::Duration;

pub use lock::{LockHolder, RunGuard, RunLock, acquire_run_lock, lock_holder};
pub use memory::MemoryStore;
pub use postgres::{PgErrorKind, PgRunLock, PgTarget, PostgresStore};
pub use sqlite::SqliteStore;

/// Table names, default or from config (`table_prefix`, explicit names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableNames {
    pub schema_migrations: String,
    pub migration_runs: String,
    pub stored_env: String,
}

impl Default for TableNames {
    fn default() -> Self {
        Self {
            schema_migrations: "schema_migrations".into(),
            migration_runs: "migration_runs".into(),
            stored_env: "stored_env".into(),
        }
    }
}

/// Direction of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }

    fn parse(s: &str) -> Self {
        if s.eq_ignore_ascii_case("down") {
            Self::Down
        } else {
            Self::Up
        }
    }
}

/// Where a run record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunState {
    /// Recorded before the first request; still there means the process died mid-migration.
    Started,
    Succeeded,
    Failed,
    /// An in-doubt run an operator resolved by hand.
    Resolved,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Started => "started",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Resolved => "resolved",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "started" => Self::Started,
            "failed" => Self::Failed,
            "resolved" => Self::Resolved,
            _ => Self::Succeeded,
        }
    }
}

/// An applied migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub version: u64,
    pub applied_at: String,
    pub name: Option<String>,
    /// sha256 of the migration file when it was applied (absent for rows from older tools).
    pub checksum: Option<String>,
}

/// One row of `migration_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRecord {
    pub id: i64,
    pub version: u64,
    pub direction: Direction,
    pub status_code: u16,
    pub failed: bool,
    pub ran_at: String,
    pub state: RunState,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub error: Option<String>,
    pub name: Option<String>,
    pub env: Vec<(String, String)>,
}

/// What a finished migration produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Status of the last response received (0 when none arrived).
    pub status_code: u16,
    /// Body of the last response, kept only with `save_response_body`.
    pub body: Option<String>,
    /// Variables extracted by the migration's steps.
    pub env: Vec<(String, String)>,
    pub duration: Duration,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// How one stage of a `stages` run ended, kept in that stage's own store so `stages status`
/// can report it from a new process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRun {
    pub stage: String,
    /// `succeeded`, `failed` or `skipped`.
    pub outcome: String,
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub error: Option<String>,
    /// How many variables the stage exported after this run.
    pub exported: usize,
}

/// What is about to run, recorded before the first request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunStart<'a> {
    pub version: u64,
    pub direction: Direction,
    pub name: &'a str,
    pub checksum: &'a str,
}

/// Failures of the store itself.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state store {path}: {message}")]
    Open { path: String, message: String },
    #[error("state store {path}: {source}")]
    Sql {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Locked(LockHolder),
    #[error("lock file {path}: {source}")]
    LockIo {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid table name `{0}`: use letters, digits and `_`, optionally `schema.table`")]
    TableName(String),
    #[error("no run with id {0} is in doubt")]
    NotInDoubt(i64),
    /// A PostgreSQL store could not be reached, refused the login, or refused a statement.
    /// `store` names it without the password (`postgres://user@host:port/db`, or where the
    /// DSN is written when it could not be used); `message` says what to do.
    #[error("state store {store}: {message}")]
    Postgres {
        store: String,
        kind: PgErrorKind,
        message: String,
    },
}

/// The store interface the runner uses: SQLite, PostgreSQL, or in-memory (stateless).
pub trait Store: Send {
    /// Where the state lives, for messages (`state.db`, `postgres://…`, `disabled`).
    fn describe(&self) -> String;
    fn applied(&self) -> Result<Vec<Applied>, StateError>;
    /// Stored variables of applied versions, ascending by version then name.
    fn stored_env(&self) -> Result<Vec<(u64, String, String)>, StateError>;
    /// Runs recorded as started that never finished: a crash mid-migration.
    fn in_doubt(&self) -> Result<Vec<RunRecord>, StateError>;
    /// Newest first; `None` = all.
    fn history(&self, limit: Option<usize>) -> Result<Vec<RunRecord>, StateError>;
    /// Record that a migration is about to send its first request. Returns the run id.
    fn begin(&mut self, start: RunStart<'_>) -> Result<i64, StateError>;
    /// Record success: the run row, the applied version (or its removal, for down) and the
    /// stored variables, in one transaction.
    fn succeed(
        &mut self,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
    ) -> Result<(), StateError>;
    /// Record the success of `run_id` (everything [`Store::succeed`] records) and the start of
    /// the next migration of the same run (what [`Store::begin`] records) in one transaction:
    /// either both are durable or neither is. A run then costs one durable commit per
    /// migration instead of two, and the next migration is still recorded as started before
    /// its first request. Returns the next run's id.
    ///
    /// The default records one after the other, for stores without transactions.
    fn succeed_and_begin(
        &mut self,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
        next: RunStart<'_>,
    ) -> Result<i64, StateError> {
        self.succeed(run_id, start, outcome)?;
        self.begin(next)
    }
    /// Record failure; nothing is applied and no variable is stored.
    fn fail(&mut self, run_id: i64, outcome: &Outcome) -> Result<(), StateError>;
    /// Settle an in-doubt run by hand: `applied` says whether its effect took place.
    fn resolve(&mut self, run_id: i64, applied: bool) -> Result<(), StateError>;
    /// Record how a stage of a `stages` run ended.
    fn record_stage_run(&mut self, run: &StageRun) -> Result<(), StateError>;
    /// The newest recorded outcome of `stage`, if any.
    fn last_stage_run(&self, stage: &str) -> Result<Option<StageRun>, StateError>;
}

/// `migration_runs.env_json`: the extracted values as a JSON object (NULL when there are none),
/// the column the Go apirun wrote and users query.
pub(crate) fn env_to_json(env: &[(String, String)]) -> Option<String> {
    if env.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> = env
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    Some(serde_json::Value::Object(map).to_string())
}

/// The values of an `env_json` column; non-string values (written by other tools) as JSON
/// text, anything unreadable as none.
pub(crate) fn env_from_json(json: Option<&str>) -> Vec<(String, String)> {
    json.and_then(|j| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(j).ok())
        .map(|m| {
            m.into_iter()
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => (k, s),
                    other => (k, other.to_string()),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `2026-12-04T17:10:26.123Z`: UTC, millisecond precision, sortable as text.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Check a configured table name: `name` or `schema.name`, identifiers only.
pub fn validate_table_name(name: &str) -> Result<(), StateError> {
    let ident = |s: &str| {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let parts: Vec<&str> = name.split('.').collect();
    if parts.len() <= 2 && parts.iter().all(|p| ident(p)) {
        Ok(())
    } else {
        Err(StateError::TableName(name.to_string()))
    }
}

/// A table name quoted for SQL (`"schema"."table"`), after [`validate_table_name`].
pub fn quote_table(name: &str) -> String {
    name.split('.')
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        assert!(validate_table_name("schema_migrations").is_ok());
        assert!(validate_table_name("ops.schema_migrations").is_ok());
        assert!(validate_table_name("a.b.c").is_err());
        assert!(validate_table_name("1abc").is_err());
        assert!(validate_table_name("x; drop table y").is_err());
        assert_eq!(quote_table("ops.t"), "\"ops\".\"t\"");
    }

    #[test]
    fn timestamps_sort_as_text() {
        let a = now_rfc3339();
        std::thread::sleep(Duration::from_millis(2));
        let b = now_rfc3339();
        assert!(a < b, "{a} {b}");
        assert!(a.ends_with('Z') && a.len() == 24, "{a}");
    }
}
