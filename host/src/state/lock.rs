//! One run at a time per store.
//!
//! [`acquire_run_lock`] takes the lock of whatever store a config names and returns a
//! [`RunGuard`]; [`lock_holder`] tells `status` who holds it. Both kinds of lock are released
//! by the OS or the server when the process ends, however it ends (kill -9 included), so a
//! crashed run never leaves a stale lock:
//!
//! - SQLite: an OS file lock on `<state file>.lock` ([`RunLock`]), held through an open file
//!   descriptor; the file's content names the holder (pid, host, command, since).
//! - PostgreSQL: a session advisory lock held on a connection of its own
//!   ([`super::PgRunLock`]); the connection's `application_name` names the holder.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::postgres::{PgRunLock, PgTarget};
use super::{StateError, now_rfc3339};
use crate::config::{Config, StoreConfig};

/// Who holds a store's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Where the lock lives: `lock file /p/state.db.lock`, or the PostgreSQL advisory lock's
    /// key, database and server.
    pub lock: String,
    /// The holder's own description: `pid 123 on host h, apirun up, since 2026-…`.
    pub description: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the state store is locked by another run ({}); {}",
            self.description, self.lock
        )
    }
}

/// A held run lock of either kind (or none, for a store with nothing to protect); released when
/// dropped or when the process ends.
#[derive(Debug)]
pub struct RunGuard(Guard);

#[derive(Debug)]
enum Guard {
    Nothing,
    File(RunLock),
    Postgres(Box<PgRunLock>),
}

impl RunGuard {
    /// A guard that holds nothing: a disabled store, a dry run.
    pub fn none() -> Self {
        Self(Guard::Nothing)
    }

    /// Where the held lock lives, for messages; `None` when nothing is held.
    pub fn place(&self) -> Option<String> {
        match &self.0 {
            Guard::Nothing => None,
            Guard::File(l) => Some(format!("lock file {}", l.path().display())),
            Guard::Postgres(l) => Some(l.place().to_string()),
        }
    }
}

/// Take the run lock of the store `config` names, without waiting: a file lock beside a SQLite
/// file, an advisory lock in PostgreSQL, nothing for a disabled store. `command` (`apirun up`)
/// is shown to whoever finds the lock taken. Call it before opening the store.
pub fn acquire_run_lock(config: &Config, command: &str) -> Result<RunGuard, StateError> {
    match &config.store {
        StoreConfig::Disabled => Ok(RunGuard::none()),
        StoreConfig::Sqlite(s) => Ok(RunGuard(Guard::File(RunLock::acquire(
            &lock_path_for(&s.path),
            command,
        )?))),
        StoreConfig::Postgres(p) => {
            let target = PgTarget::from_config(p, &crate::config::env_pairs(config))?;
            let tables = p.options.tables.clone();
            Ok(RunGuard(Guard::Postgres(Box::new(PgRunLock::acquire(
                &target, &tables, command,
            )?))))
        }
    }
}

/// Who holds the run lock of the store `config` names, if anyone (for `status`); takes nothing.
pub fn lock_holder(config: &Config) -> Result<Option<LockHolder>, StateError> {
    match &config.store {
        StoreConfig::Disabled => Ok(None),
        StoreConfig::Sqlite(s) => RunLock::holder(&lock_path_for(&s.path)),
        StoreConfig::Postgres(p) => {
            let target = PgTarget::from_config(p, &crate::config::env_pairs(config))?;
            PgRunLock::holder(&target, &p.options.tables)
        }
    }
}

/// A held run lock; released when dropped or when the process ends.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    path: PathBuf,
}

/// The lock file for a state file: `state.db` → `state.db.lock`.
pub fn lock_path_for(state_file: &Path) -> PathBuf {
    let mut name = state_file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".lock");
    state_file.with_file_name(name)
}

fn open(path: &Path) -> Result<File, StateError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| StateError::LockIo {
            path: path.display().to_string(),
            source,
        })?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|source| StateError::LockIo {
            path: path.display().to_string(),
            source,
        })
}

fn read_description(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.seek(SeekFrom::Start(0));
    let _ = file.read_to_string(&mut text);
    let text = text.trim();
    if text.is_empty() {
        "holder unknown".to_string()
    } else {
        text.to_string()
    }
}

impl RunLock {
    /// Take the lock without waiting; if another process holds it, say who.
    pub fn acquire(path: &Path, command: &str) -> Result<Self, StateError> {
        let mut file = open(path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked(LockHolder {
                    lock: format!("lock file {}", path.display()),
                    description: read_description(&mut file),
                }));
            }
            Err(std::fs::TryLockError::Error(source)) => {
                return Err(StateError::LockIo {
                    path: path.display().to_string(),
                    source,
                });
            }
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let description = format!(
            "pid {} on host {host}, `{command}`, since {}",
            std::process::id(),
            now_rfc3339()
        );
        let io = |source| StateError::LockIo {
            path: path.display().to_string(),
            source,
        };
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(description.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// Who holds the lock now, if anyone (for `status`); never takes it for long.
    pub fn holder(path: &Path) -> Result<Option<LockHolder>, StateError> {
        if !path.exists() {
            return Ok(None);
        }
        let mut file = open(path)?;
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                Ok(None)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(Some(LockHolder {
                lock: format!("lock file {}", path.display()),
                description: read_description(&mut file),
            })),
            Err(std::fs::TryLockError::Error(source)) => Err(StateError::LockIo {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_naming_the_holder_until_released() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = lock_path_for(&dir.path().join("state.db"));
        assert_eq!(
            path.file_name().and_then(|n| n.to_str()),
            Some("state.db.lock")
        );
        let held = RunLock::acquire(&path, "apirun up").expect("first");
        let err = RunLock::acquire(&path, "apirun up").expect_err("second must fail");
        let text = err.to_string();
        assert!(text.contains("locked by another run"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(RunLock::holder(&path).expect("holder").is_some());
        drop(held);
        assert!(RunLock::holder(&path).expect("holder").is_none());
        RunLock::acquire(&path, "apirun up").expect("after release");
    }
}
