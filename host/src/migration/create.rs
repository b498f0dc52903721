//! `apirun create NAME`: a new, timestamped migration file holding a commented example.

use std::io::Write;
use std::path::{Path, PathBuf};

use time::{OffsetDateTime, UtcOffset};

use crate::config::LoadError;
use crate::report::Diagnostic;

/// Write `<UTC YYYYMMDDHHMMSS>_<slug>.yaml` into `dir` (created if needed) and return its path.
///
/// The timestamp makes versions sort in creation order without coordination between authors.
/// An existing file is never overwritten (two creates in the same second collide and the second
/// fails). The content is a commented example that loads as it is.
pub fn create(dir: &Path, name: &str, now: OffsetDateTime) -> Result<PathBuf, LoadError> {
    let slug = slugify(name);
    let now = now.to_offset(UtcOffset::UTC);
    let stamp = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    let rfc3339 = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    std::fs::create_dir_all(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(format!("{stamp}_{slug}.yaml"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|source| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                LoadError::diagnostic(
                    Diagnostic::new(None, format!("file already exists: {}", path.display()))
                        .with_hint("wait a second and run `create` again, or choose another name"),
                )
            } else {
                LoadError::Io {
                    path: path.clone(),
                    source,
                }
            }
        })?;
    file.write_all(template(&slug, &rfc3339).as_bytes())
        .map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Lower-case, runs of characters outside `[a-z0-9_]` become one `_`, `_` trimmed from both
/// ends; empty becomes `task`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut in_run = false;
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            out.push(c);
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "task".to_string()
    } else {
        trimmed.to_string()
    }
}

fn template(slug: &str, created: &str) -> String {
    format!(
        r#"# Migration `{slug}`, created {created} by `apirun create`.
#
# `up` runs once, in version order (the number that starts the file name); `down` undoes it
# on `apirun down`. Without `down` this migration cannot be rolled back.
# Templates: {{{{.name}}}} reads config `env`, values extracted by earlier migrations and this
# step's own `env`; {{{{.auth.NAME}}}} reads the token of auth entry NAME.
up:
  name: {slug}
  env: {{}}
  request:
    method: GET
    url: https://example.com
    headers:
      - name: User-Agent
        value: apirun
      # - name: Accept
      #   value: application/json
    # auth_name: my_auth          # sends `Authorization` from the auth entry `my_auth`
    # body: |
    #   {{"name": "{{{{.name}}}}"}}
    # render_body: true           # render {{{{...}}}} in the body (default: config `render_body`)
  response:
    result_code: ["200"]          # accepted statuses; "2xx" accepts a class; [] accepts any
    # env_from:                   # variables for later migrations, read from the JSON response
    #   item_id: id
    # env_missing: skip           # or `fail` when a path finds nothing

# down:
#   name: undo {slug}
#   request:
#     method: DELETE
#     url: "https://example.com/items/{{{{.item_id}}}}"
#   response:
#     result_code: ["200", "404"]
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{MigrationSource, load_file};
    use time::macros::datetime;

    #[test]
    fn slugs() {
        assert_eq!(slugify("  Create User  "), "create_user");
        assert_eq!(slugify("add--realm / v2!"), "add_realm_v2");
        assert_eq!(slugify("__x__"), "x");
        assert_eq!(slugify("Ünïcode"), "n_code");
        assert_eq!(slugify(""), "task");
        assert_eq!(slugify("!!!"), "task");
        assert_eq!(slugify("keep_under_score"), "keep_under_score");
    }

    #[test]
    fn writes_a_timestamped_file_that_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("new").join("migration");
        let now = datetime!(2025-01-02 15:04:05 +02:00);
        let path = create(&target, "Create User", now).expect("create");
        assert_eq!(path, target.join("20250102130405_create_user.yaml"));
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.starts_with("# Migration `create_user`, created 2025-01-02T13:04:05Z"),
            "{text}"
        );
        let m = load_file(&MigrationSource {
            version: 20250102130405,
            name: "create_user".into(),
            path: path.clone(),
        })
        .expect("the example loads");
        assert_eq!(m.up.len(), 1);
        assert_eq!(m.up[0].name.as_deref(), Some("create_user"));
        assert_eq!(m.up[0].request.method.value, "GET");
        assert_eq!(m.up[0].request.url.value, "https://example.com");
        assert_eq!(m.up[0].request.headers[0].name, "User-Agent");
        assert_eq!(m.up[0].response.result_code[0].value, "200");
        assert!(m.down.is_empty());
    }

    #[test]
    fn the_commented_down_loads_when_uncommented() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = create(dir.path(), "x", datetime!(2025-01-02 03:04:05 UTC)).expect("create");
        let text = std::fs::read_to_string(&path).expect("read");
        let uncommented: String = text
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if text.contains("\n# down:")
                        && (rest.starts_with("down:") || rest.starts_with("  ")) =>
                {
                    rest.to_string()
                }
                _ => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n");
        std::fs::write(&path, uncommented).expect("write");
        let m = load_file(&MigrationSource {
            version: 1,
            name: "x".into(),
            path,
        })
        .expect("loads with down");
        assert_eq!(m.down.len(), 1);
        assert_eq!(m.down[0].request.method.value, "DELETE");
        let codes: Vec<&str> = m.down[0]
            .response
            .result_code
            .iter()
            .map(|c| c.value.as_str())
            .collect();
        assert_eq!(codes, ["200", "404"]);
    }

    #[test]
    fn refuses_to_overwrite() {
        let dir = tempfile::tempdir().expect("tempdir");
        let now = datetime!(2025-01-02 03:04:05 UTC);
        create(dir.path(), "same", now).expect("first");
        let err = create(dir.path(), "same", now).expect_err("second");
        let d = &err.diagnostics()[0];
        assert_eq!(
            d.message,
            format!(
                "file already exists: {}",
                dir.path().join("20250102030405_same.yaml").display()
            )
        );
    }
}
