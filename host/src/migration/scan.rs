//! Migration files identified without being parsed: what `status` needs.
//!
//! `status` compares the declared versions with the applied ones and reports applied files
//! that changed since; for that it needs each file's version, path and checksum, not its
//! steps. Reading and hashing a file costs a few microseconds, parsing its YAML tens, so a
//! project of 10,000 files is scanned in tens of milliseconds instead of hundreds. Mistakes
//! inside a file are reported by `validate` and `up`, which load it fully.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::discover::discover;
use super::model::{Migration, MigrationSource};
use crate::config::LoadError;

/// A migration file as `status` sees it: found, read and hashed, not parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    /// See [`MigrationSource::version`].
    pub version: u64,
    /// See [`MigrationSource::name`].
    pub name: String,
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, as [`Migration::checksum`].
    pub checksum: String,
}

/// What the plan and the drift check read from a migration, whether it was loaded fully
/// ([`Migration`]) or only scanned ([`MigrationFile`]).
pub trait Declared {
    /// The version from the file name.
    fn version(&self) -> u64;
    /// Where the file is.
    fn path(&self) -> &Path;
    /// SHA-256 of the file's bytes, lower-case hex.
    fn checksum(&self) -> &str;
}

impl Declared for Migration {
    fn version(&self) -> u64 {
        self.version
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn checksum(&self) -> &str {
        &self.checksum
    }
}

impl Declared for MigrationFile {
    fn version(&self) -> u64 {
        self.version
    }
    fn path(&self) -> &Path {
        &self.path
    }
    fn checksum(&self) -> &str {
        &self.checksum
    }
}

/// Lower-case hex SHA-256 of a migration file's bytes: the checksum recorded when it is
/// applied (the same as [`Migration::checksum`]).
pub fn checksum(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Below this many files, hashing on one thread is as fast as starting more.
const PARALLEL_FROM: usize = 64;

/// The migration files of `dir`, sorted by version, each read and hashed but not parsed.
/// Discovery errors (a missing directory, duplicate versions) are those of
/// [`discover`]; a file that cannot be read is an error naming it.
pub fn scan(dir: &Path) -> Result<Vec<MigrationFile>, LoadError> {
    let sources = discover(dir)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(sources.len().div_ceil(PARALLEL_FROM))
        .max(1);
    if threads == 1 {
        return sources.iter().map(hash_file).collect();
    }
    let chunk = sources.len().div_ceil(threads);
    std::thread::scope(|s| {
        let workers: Vec<_> = sources
            .chunks(chunk)
            .map(|part| s.spawn(move || part.iter().map(hash_file).collect::<Vec<_>>()))
            .collect();
        let mut out = Vec::with_capacity(sources.len());
        for worker in workers {
            let part = worker
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            for file in part {
                out.push(file?);
            }
        }
        Ok(out)
    })
}

fn hash_file(src: &MigrationSource) -> Result<MigrationFile, LoadError> {
    let bytes = std::fs::read(&src.path).map_err(|source| LoadError::Io {
        path: src.path.clone(),
        source,
    })?;
    Ok(MigrationFile {
        version: src.version,
        name: src.name.clone(),
        path: src.path.clone(),
        checksum: checksum(&bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanning_finds_what_loading_finds_with_the_same_checksums() {
        let dir = tempfile::tempdir().expect("tempdir");
        // Enough files to take the parallel path, one of them not valid YAML: scanning does
        // not parse.
        for v in 1..=150u64 {
            std::fs::write(
                dir.path().join(format!("{v:03}_m{v}.yaml")),
                format!("up:\n  request:\n    method: GET\n    url: http://x/{v}\n"),
            )
            .expect("write");
        }
        let loaded = crate::migration::load_dir(dir.path()).expect("load");
        let scanned = scan(dir.path()).expect("scan");
        assert_eq!(scanned.len(), 150);
        for (l, s) in loaded.iter().zip(&scanned) {
            assert_eq!(
                (l.version, &l.name, &l.path, &l.checksum),
                (s.version, &s.name, &s.path, &s.checksum)
            );
        }
        std::fs::write(dir.path().join("151_broken.yaml"), "up: [unclosed\n").expect("write");
        let scanned = scan(dir.path()).expect("scan");
        assert_eq!(scanned.last().map(|f| f.version), Some(151));
        assert!(crate::migration::load_dir(dir.path()).is_err());
    }

    #[test]
    fn discovery_errors_are_those_of_discover() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("1_a.yaml"), "up: {}\n").expect("write");
        std::fs::write(dir.path().join("01_b.yaml"), "up: {}\n").expect("write");
        let err = scan(dir.path()).expect_err("duplicate");
        assert!(
            err.diagnostics()[0]
                .message
                .starts_with("duplicate migration version 1")
        );
        assert!(scan(&dir.path().join("missing")).is_err());
    }
}
