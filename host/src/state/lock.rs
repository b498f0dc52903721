//! One run at a time per store: an OS file lock beside the state file.
//!
//! The lock is held through an open file descriptor, so the kernel releases it when the
//! process ends, however it ends (kill -9 included): a crashed run never leaves a stale lock.
//! The file's content names the holder (pid, host, command, since) for `status`.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{StateError, now_rfc3339};

/// Who holds a store's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub lock_file: PathBuf,
    /// The holder's own description: `pid 123 on host h, apirun up, since 2026-…`.
    pub description: String,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the state store is locked by another run ({}); lock file {}",
            self.description,
            self.lock_file.display()
        )
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
                    lock_file: path.to_path_buf(),
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
                lock_file: path.to_path_buf(),
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
