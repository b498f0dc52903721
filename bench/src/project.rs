//! The projects the harness runs apirun on, written into temporary folders.

use std::fmt::Write as _;
use std::path::Path;

use sha2::{Digest, Sha256};

/// `config.yaml` of a project whose migrations call `api` and whose state is `state.db`.
pub fn config(api: &str) -> String {
    format!(
        "migrate_dir: migration\n\
         env:\n  - name: api_base\n    value: {api}\n\
         store:\n  type: sqlite\n  sqlite:\n    path: state.db\n"
    )
}

/// One migration: one POST, one value extracted from the response (and a down step, as a
/// real project would have).
pub fn migration(version: u64) -> String {
    format!(
        r#"up:
  name: create item {version}
  request:
    method: POST
    url: "{{{{.api_base}}}}/items"
    headers:
      - name: Content-Type
        value: application/json
    body: |
      {{"name": "item-{version}", "n": {version}}}
  response:
    result_code: ["201"]
    env_from:
      item_{version}: id
down:
  name: delete item {version}
  method: DELETE
  url: "{{{{.api_base}}}}/items/{{{{.item_{version}}}}}"
"#
    )
}

fn file_name(version: u64) -> String {
    format!("{version:05}_create_item_{version}.yaml")
}

/// A project with migrations `1..=n` against `api`.
pub fn write_project(dir: &Path, api: &str, n: u64) -> std::io::Result<()> {
    let migrations = dir.join("migration");
    std::fs::create_dir_all(&migrations)?;
    std::fs::write(dir.join("config.yaml"), config(api))?;
    for v in 1..=n {
        std::fs::write(migrations.join(file_name(v)), migration(v))?;
    }
    Ok(())
}

/// `stages` independent stages (`s1`, `s2`, …) of `per_stage` migrations each, under a
/// `stages.yaml` that lets `bound` of them run at once.
pub fn write_stages(
    dir: &Path,
    api: &str,
    stages: usize,
    per_stage: u64,
    bound: usize,
) -> std::io::Result<()> {
    let mut file = String::from("stages:\n");
    for i in 1..=stages {
        let name = format!("s{i}");
        let _ = writeln!(
            file,
            "  - name: {name}\n    config_path: {name}/config.yaml"
        );
        write_project(&dir.join(&name), api, per_stage)?;
    }
    let _ = writeln!(file, "global:\n  max_concurrent_stages: {bound}");
    std::fs::write(dir.join("stages.yaml"), file)
}

/// A project of `n` migration files whose first `applied` versions are recorded as applied
/// (with their checksums, a run and a stored value each), written straight into the state
/// file: applying 10,000 migrations for real would take minutes of commits.
pub fn write_large_project(dir: &Path, api: &str, n: u64, applied: u64) -> Result<(), String> {
    write_project(dir, api, n).map_err(|e| format!("writing the project: {e}"))?;
    let state = dir.join("state.db");
    // Let apirun create its own tables, then fill them in one transaction.
    drop(
        apirun::state::SqliteStore::open(&state, &apirun::state::TableNames::default())
            .map_err(|e| e.to_string())?,
    );
    let mut conn = rusqlite::Connection::open(&state).map_err(|e| e.to_string())?;
    let tx = conn.transaction().map_err(|e| e.to_string())?;
    {
        let mut m = tx
            .prepare(
                "INSERT INTO schema_migrations (version, applied_at, name, checksum)
                 VALUES (?1, '2026-01-01T00:00:00.000Z', ?2, ?3)",
            )
            .map_err(|e| e.to_string())?;
        let mut r = tx
            .prepare(
                "INSERT INTO migration_runs (version, direction, status_code, env_json, failed,
                 ran_at, state, finished_at, duration_ms, name, checksum)
                 VALUES (?1, 'up', 201, ?2, 0, '2026-01-01T00:00:00.000Z', 'succeeded',
                 '2026-01-01T00:00:00.001Z', 1, ?3, ?4)",
            )
            .map_err(|e| e.to_string())?;
        let mut e = tx
            .prepare("INSERT INTO stored_env (version, name, value) VALUES (?1, ?2, ?3)")
            .map_err(|e| e.to_string())?;
        for v in 1..=applied {
            let checksum = hex::encode(Sha256::digest(migration(v).as_bytes()));
            let name = format!("create_item_{v}");
            let version = i64::try_from(v).map_err(|e| e.to_string())?;
            m.execute(rusqlite::params![version, name, checksum])
                .map_err(|e| e.to_string())?;
            r.execute(rusqlite::params![
                version,
                format!("{{\"item_{v}\":\"{v}\"}}"),
                name,
                checksum
            ])
            .map_err(|e| e.to_string())?;
            e.execute(rusqlite::params![
                version,
                format!("item_{v}"),
                v.to_string()
            ])
            .map_err(|e| e.to_string())?;
        }
    }
    tx.commit().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_and_configs_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_project(dir.path(), "http://127.0.0.1:9", 3).expect("write");
        let config = apirun::config::load(&dir.path().join("config.yaml")).expect("config");
        let migrations = apirun::migration::load_dir(&config.migrate_dir).expect("migrations");
        assert_eq!(
            migrations.iter().map(|m| m.version).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        assert_eq!(migrations[1].up[0].response.env_from[0].0, "item_2");
        assert_eq!(migrations[1].down.len(), 1);
    }

    #[test]
    fn seeded_state_matches_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_large_project(dir.path(), "http://127.0.0.1:9", 5, 3).expect("write");
        let config = apirun::config::load(&dir.path().join("config.yaml")).expect("config");
        let migrations = apirun::migration::load_dir(&config.migrate_dir).expect("migrations");
        let store = apirun::execute::open_store(&config).expect("store");
        let applied = store.applied().expect("applied");
        assert_eq!(applied.len(), 3);
        assert!(apirun::execute::checksum_drift(&migrations, &applied).is_empty());
        assert_eq!(
            apirun::execute::plan_up(&migrations, &applied, None).len(),
            2
        );
    }

    #[test]
    fn stages_file_lists_every_stage() {
        let dir = tempfile::tempdir().expect("tempdir");
        write_stages(dir.path(), "http://127.0.0.1:9", 3, 2, 2).expect("write");
        let text = std::fs::read_to_string(dir.path().join("stages.yaml")).expect("read");
        assert!(text.contains("name: s3") && text.contains("max_concurrent_stages: 2"));
        assert!(
            dir.path()
                .join("s2/migration/00002_create_item_2.yaml")
                .is_file()
        );
    }
}
