//! Finding migration files and their versions in `migrate_dir`.

use std::path::Path;

use super::model::MigrationSource;
use crate::config::LoadError;
use crate::report::{Diagnostic, Location};

/// The migration files of `dir` (not its subdirectories), sorted by version.
///
/// A file is a migration when its name matches `^(\d+)_.*\.(ya?ml)$` (the Go original's rule:
/// `.YAML` and other names are ignored). The digit prefix is the version, leading zeros allowed,
/// so `001_a.yaml` is version 1 and `20250101120000_b.yaml` (from `create`) a larger one. Two
/// files with the same version, or a prefix too large for a u64, are errors naming the files.
pub fn discover(dir: &Path) -> Result<Vec<MigrationSource>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => LoadError::diagnostic(
            Diagnostic::new(None, format!("migration directory not found: {}", dir.display())).with_hint(
                "create it, or point `migrate_dir` in config.yaml at the folder with your NNN_name.yaml files (relative to the config file)",
            ),
        ),
        std::io::ErrorKind::NotADirectory => LoadError::diagnostic(Diagnostic::new(
            None,
            format!("migration directory is a file: {}", dir.display()),
        )),
        _ => LoadError::Io {
            path: dir.to_path_buf(),
            source,
        },
    })?;
    let mut problems = Vec::new();
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some((digits, name)) = split_name(file_name) else {
            continue;
        };
        // Follows symlinks: a link to a migration file counts, a directory does not. The
        // listing already says what a plain entry is, so only links cost a `stat`.
        let is_file = match entry.file_type() {
            Ok(t) if t.is_symlink() => std::fs::metadata(&path).is_ok_and(|m| m.is_file()),
            Ok(t) => t.is_file(),
            Err(_) => std::fs::metadata(&path).is_ok_and(|m| m.is_file()),
        };
        if !is_file {
            continue;
        }
        match digits.parse::<u64>() {
            Ok(version) => found.push(MigrationSource {
                version,
                name: name.to_string(),
                path,
            }),
            Err(_) => problems.push(
                Diagnostic::at(
                    Location::file_start(&path),
                    format!("migration version {digits} of {file_name} is too large"),
                )
                .with_hint("a version must fit in 64 bits; use a shorter number or a YYYYMMDDHHMMSS timestamp"),
            ),
        }
    }
    found.sort_by(|a, b| a.version.cmp(&b.version).then_with(|| a.path.cmp(&b.path)));
    for group in found.chunk_by(|a, b| a.version == b.version) {
        if let [first, rest @ ..] = group
            && !rest.is_empty()
        {
            let mut names: Vec<String> = group
                .iter()
                .map(|s| format!("`{}`", display_name(&s.path)))
                .collect();
            let last = names.pop().unwrap_or_default();
            problems.push(
                Diagnostic::at(
                    Location::file_start(&rest[0].path),
                    format!(
                        "duplicate migration version {}: {} and {last}",
                        first.version,
                        names.join(", ")
                    ),
                )
                .with_hint("each version must be unique: renumber one of the files"),
            );
        }
    }
    if problems.is_empty() {
        Ok(found)
    } else {
        problems.sort_by(|a, b| a.location.cmp(&b.location));
        Err(LoadError::Invalid(problems))
    }
}

/// `("001", "create_user")` for `001_create_user.yaml`; `None` when the name does not match.
fn split_name(file_name: &str) -> Option<(&str, &str)> {
    let stem = file_name
        .strip_suffix(".yaml")
        .or_else(|| file_name.strip_suffix(".yml"))?;
    let digits_len = stem
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(stem.len());
    let (digits, rest) = stem.split_at(digits_len);
    if digits.is_empty() {
        return None;
    }
    Some((digits, rest.strip_prefix('_')?))
}

fn display_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), "up: {}\n").expect("write");
    }

    fn listing(sources: &[MigrationSource]) -> Vec<(u64, String, String)> {
        sources
            .iter()
            .map(|s| (s.version, s.name.clone(), display_name(&s.path)))
            .collect()
    }

    #[test]
    fn names_match_the_go_rule() {
        assert_eq!(
            split_name("001_create_user.yaml"),
            Some(("001", "create_user"))
        );
        assert_eq!(split_name("2_x.yml"), Some(("2", "x")));
        assert_eq!(split_name("3_.yaml"), Some(("3", "")));
        assert_eq!(split_name("4_a_b.c.yaml"), Some(("4", "a_b.c")));
        assert_eq!(split_name("5.yaml"), None);
        assert_eq!(split_name("5x.yaml"), None);
        assert_eq!(split_name("_a.yaml"), None);
        assert_eq!(split_name("6_a.YAML"), None);
        assert_eq!(split_name("6_a.json"), None);
        assert_eq!(split_name("6_a.yaml.bak"), None);
    }

    #[test]
    fn sorts_by_version_with_leading_zeros_and_timestamps() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in [
            "20250101120000_stamp.yaml",
            "010_ten.yml",
            "002_two.yaml",
            "1_one.yaml",
            "README.md",
            "3_upper.YAML",
            "notes_1.yaml",
            "004_draft.yaml.bak",
        ] {
            touch(dir.path(), name);
        }
        std::fs::create_dir(dir.path().join("5_dir.yaml")).expect("mkdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        touch(&dir.path().join("sub"), "6_nested.yaml");
        let found = discover(dir.path()).expect("discover");
        assert_eq!(
            listing(&found),
            vec![
                (1, "one".to_string(), "1_one.yaml".to_string()),
                (2, "two".to_string(), "002_two.yaml".to_string()),
                (10, "ten".to_string(), "010_ten.yml".to_string()),
                (
                    20250101120000,
                    "stamp".to_string(),
                    "20250101120000_stamp.yaml".to_string()
                ),
            ]
        );
        assert_eq!(found[0].path, dir.path().join("1_one.yaml"));
    }

    #[test]
    fn duplicate_versions_name_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), "1_a.yaml");
        touch(dir.path(), "001_b.yaml");
        touch(dir.path(), "2_c.yaml");
        let err = discover(dir.path()).expect_err("duplicate");
        let list = err.diagnostics();
        assert_eq!(list.len(), 1);
        assert_eq!(
            list[0].message,
            "duplicate migration version 1: `001_b.yaml` and `1_a.yaml`"
        );
        assert_eq!(
            list[0].location,
            Some(Location::file_start(dir.path().join("1_a.yaml")))
        );
    }

    #[test]
    fn three_way_duplicates_and_oversized_versions_are_all_reported() {
        let dir = tempfile::tempdir().expect("tempdir");
        touch(dir.path(), "7_a.yaml");
        touch(dir.path(), "07_b.yaml");
        touch(dir.path(), "007_c.yaml");
        touch(dir.path(), "99999999999999999999999_big.yaml");
        let list = discover(dir.path()).expect_err("errors").diagnostics();
        let messages: Vec<&str> = list.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            vec![
                "duplicate migration version 7: `007_c.yaml`, `07_b.yaml` and `7_a.yaml`",
                "migration version 99999999999999999999999 of 99999999999999999999999_big.yaml is too large",
            ]
        );
    }

    #[test]
    fn missing_directory_is_named_with_a_hint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("migration");
        let list = discover(&missing).expect_err("missing").diagnostics();
        assert_eq!(
            list[0].message,
            format!("migration directory not found: {}", missing.display())
        );
        assert!(
            list[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("migrate_dir"))
        );
    }

    #[cfg(unix)]
    #[test]
    fn links_to_files_count_links_to_directories_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        touch(elsewhere.path(), "shared.yaml");
        std::fs::create_dir(elsewhere.path().join("folder")).expect("mkdir");
        std::os::unix::fs::symlink(
            elsewhere.path().join("shared.yaml"),
            dir.path().join("1_linked.yaml"),
        )
        .expect("link");
        std::os::unix::fs::symlink(
            elsewhere.path().join("folder"),
            dir.path().join("2_folder.yaml"),
        )
        .expect("link");
        std::os::unix::fs::symlink(
            elsewhere.path().join("gone.yaml"),
            dir.path().join("3_dangling.yaml"),
        )
        .expect("link");
        touch(dir.path(), "4_plain.yaml");
        let found = discover(dir.path()).expect("discover");
        assert_eq!(
            found.iter().map(|s| s.version).collect::<Vec<_>>(),
            vec![1, 4]
        );
    }

    #[test]
    fn empty_directory_has_no_migrations() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(discover(dir.path()).expect("ok"), Vec::new());
    }
}
