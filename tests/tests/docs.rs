//! The YAML examples in README.md and docs/ are real: each block says what it is in its first
//! line (`# config.yaml`, `# migration`, `# stages.yaml`, or `# fragment` for a piece of a
//! file) and is loaded with the same code that loads users' files.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// `(file, line, text)` of every ```yaml block.
fn yaml_blocks(file: &Path) -> Vec<(PathBuf, usize, String)> {
    let text = std::fs::read_to_string(file).expect("read markdown");
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        match &mut current {
            None if line.trim_start().starts_with("```yaml") => {
                current = Some((i + 2, String::new()))
            }
            Some((start, body)) if line.trim_start().starts_with("```") => {
                out.push((file.to_path_buf(), *start, std::mem::take(body)));
                current = None;
            }
            Some((_, body)) => {
                body.push_str(line);
                body.push('\n');
            }
            None => {}
        }
    }
    out
}

/// Create empty files for the relative paths a block refers to (`path:`, `body_file:`), so a
/// loader that checks for them finds them.
fn touch_referenced(dir: &Path, yaml: &str) {
    for line in yaml.lines() {
        let line = line.trim().trim_start_matches("- ");
        for key in ["path:", "body_file:", "config_path:"] {
            if let Some(rest) = line.strip_prefix(key) {
                let value = rest.trim().trim_matches('"');
                if value.is_empty() || value.contains("{{") || value.starts_with('/') {
                    continue;
                }
                let target = dir.join(value);
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent).expect("mkdir");
                }
                if key == "config_path:" {
                    std::fs::write(&target, "migrate_dir: migration\n").expect("write");
                    std::fs::create_dir_all(target.parent().expect("parent").join("migration"))
                        .expect("mkdir");
                } else if !target.exists() {
                    std::fs::write(&target, "").expect("write");
                }
            }
        }
    }
}

#[test]
fn every_yaml_example_in_the_docs_loads() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for md in markdown_files() {
        for (file, line, yaml) in yaml_blocks(&md) {
            let first = yaml.lines().next().unwrap_or("").trim().to_string();
            let where_ = format!("{}:{line}", file.display());
            let dir = tempfile::tempdir().expect("tempdir");
            touch_referenced(dir.path(), &yaml);
            let result: Result<(), String> = if first.starts_with('#')
                && first.contains("stages.yaml")
            {
                let path = dir.path().join("stages.yaml");
                std::fs::write(&path, &yaml).expect("write");
                apirun::stages::load(&path)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else if first.starts_with('#') && first.contains("config.yaml") {
                let path = dir.path().join("config.yaml");
                std::fs::write(&path, &yaml).expect("write");
                std::fs::create_dir_all(dir.path().join("migration")).expect("mkdir");
                apirun::config::load_with_env(&path, &|_| Some("from-env".into()))
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else if first.starts_with('#') && first.contains("migration") {
                let path = dir.path().join("001_example.yaml");
                std::fs::write(&path, &yaml).expect("write");
                let src = apirun::migration::MigrationSource {
                    version: 1,
                    name: "example".into(),
                    path,
                };
                apirun::migration::load_file(&src)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            } else if first == "# fragment" {
                Ok(())
            } else {
                Err(format!(
                    "the block does not say what it is: start it with `# config.yaml`, `# migration`, `# stages.yaml` or `# fragment` (found `{first}`)"
                ))
            };
            checked += 1;
            if let Err(e) = result {
                failures.push(format!("{where_}: {e}"));
            }
        }
    }
    assert!(checked >= 5, "found only {checked} YAML examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
