//! Loading whole config files: every key and form, defaults, paths, and the errors users see.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::report::{Diagnostic, Location};

/// The OS environment the tests pretend to have.
fn fake_env(name: &str) -> Option<OsString> {
    match name {
        "API_TOKEN" => Some("s3cret".into()),
        "EMPTY_VAR" => Some("".into()),
        _ => None,
    }
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, text).expect("write");
        path
    }

    fn load(&self, text: &str) -> Result<Config, LoadError> {
        let path = self.write("config.yaml", text);
        load_with_env(&path, &fake_env)
    }

    fn ok(&self, text: &str) -> Config {
        match self.load(text) {
            Ok(c) => c,
            Err(e) => panic!("expected the config to load, got:\n{e}"),
        }
    }

    /// The diagnostics of a config that must fail.
    fn errors(&self, text: &str) -> Vec<Diagnostic> {
        match self.load(text) {
            Ok(c) => panic!("expected an error, loaded {c:?}"),
            Err(e) => e.diagnostics(),
        }
    }

    /// The one diagnostic of a config that must fail with exactly one problem.
    fn error(&self, text: &str) -> Diagnostic {
        let mut list = self.errors(text);
        assert_eq!(list.len(), 1, "expected one problem, got {list:#?}");
        list.remove(0)
    }

    fn loc(&self, line: usize, column: usize) -> Location {
        Location::new(self.path("config.yaml"), line, column)
    }

    fn at(&self, line: usize, column: usize) -> Option<Location> {
        Some(self.loc(line, column))
    }
}

fn values(env: &[EnvVar]) -> Vec<(&str, &str)> {
    env.iter()
        .map(|v| (v.name.as_str(), v.value.value.as_str()))
        .collect()
}

// --- defaults and paths --------------------------------------------------------------------

#[test]
fn empty_config_gets_every_default() {
    let p = Project::new();
    let c = p.ok("");
    assert_eq!(c.path, p.path("config.yaml"));
    assert_eq!(c.dir, p.dir.path());
    assert_eq!(c.migrate_dir, p.dir.path());
    assert_eq!(c.migrate_dir_location, None);
    assert!(c.env.is_empty());
    assert!(c.auth.is_empty());
    assert_eq!(
        c.store,
        StoreConfig::Sqlite(SqliteStore {
            path: p.path("apirun.db"),
            location: None,
            options: StoreOptions {
                tables: TableNames {
                    schema_migrations: "schema_migrations".into(),
                    migration_runs: "migration_runs".into(),
                    stored_env: "stored_env".into(),
                },
                save_response_body: false,
            },
        })
    );
    assert_eq!(c.wait, None);
    assert_eq!(c.client, ClientConfig::default());
    assert_eq!(
        c.logging,
        LoggingConfig {
            level: LogLevel::Info,
            format: LogFormat::Text,
            color: None,
            mask_sensitive: true,
        }
    );
    assert!(c.render_body);
    assert_eq!(c.delay_between_migrations, None);
    assert!(c.plugins.is_empty());
    assert_eq!(c.allowed_hosts, None);
    assert_eq!(
        Config::default_path(),
        PathBuf::from("./config/config.yaml")
    );
}

#[test]
fn comment_only_config_and_null_sections_are_defaults() {
    let p = Project::new();
    let c = p.ok("# nothing yet\nwait:\nclient:\nlogging:\nstore:\nenv:\nauth:\nplugins:\n");
    assert_eq!(c.wait, None);
    assert!(c.env.is_empty());
    assert_eq!(c.store.options().map(|o| o.save_response_body), Some(false));
}

#[test]
fn migrate_dir_and_default_store_resolve_against_the_config_directory() {
    let p = Project::new();
    let path = p.write("proj/config/config.yaml", "migrate_dir: ./migration\n");
    let c = load_with_env(&path, &fake_env).expect("loads");
    let config_dir = p.path("proj/config");
    assert_eq!(c.dir, config_dir);
    assert_eq!(c.migrate_dir, config_dir.join("./migration"));
    assert_eq!(c.migrate_dir_location, Some(Location::new(&path, 1, 14)));
    match &c.store {
        StoreConfig::Sqlite(s) => {
            assert_eq!(s.path, config_dir.join("./migration").join("apirun.db"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn absolute_migrate_dir_stays_absolute() {
    let p = Project::new();
    let abs = p.path("elsewhere");
    let c = p.ok(&format!("migrate_dir: {}\n", abs.display()));
    assert_eq!(c.migrate_dir, abs);
}

#[test]
fn a_config_named_without_directory_resolves_against_dot() {
    let c = super::load::load_with_env(Path::new("definitely-missing-config.yaml"), &fake_env);
    assert!(matches!(c, Err(LoadError::ConfigNotFound { .. })));
}

// --- the Go original's files -----------------------------------------------------------------

#[test]
fn the_go_sample_config_loads_unchanged() {
    let p = Project::new();
    let c = p.ok(r#"# Sample configuration for apimigrate
#
# - store.save_response_body: when true, response bodies are recorded
---
# Example: two auth providers
auth:
  # Basic auth provider (sends Authorization: Basic <base64>)
  - type: basic
    name: example_basic          # referenced by request.auth_name in migrations
    config:
      username: admin
      password: admin

  # - type: oauth2
  #   name: keycloak

migrate_dir: ./config/migration

wait:
# url: "{{.api_base}}/health"
# method: GET       # default: GET

env:
  - name: api_base
    value: http://localhost:3000
  - name: gf_admin_auth
    # Authorization header value for Grafana admin; used if not relying on auth_name
    value: Basic YWRtaW46YWRtaW4=
  - name: example_user
    value: sample
#  - name: example_from_os
#    valueFromEnv: EXAMPLE_FROM_OS

store:
  # Whether to record response bodies alongside status codes in migration history
  save_response_body: false
  # type: sqlite
  sqlite:
  # path: ./config/migration/apimigrate.db
  # table_prefix: app1

client:
# insecure: false
# min_tls_version: ""   # e.g., "1.2" or "tls1.2"

# render_body: true
"#);
    assert_eq!(
        values(&c.env),
        [
            ("api_base", "http://localhost:3000"),
            ("gf_admin_auth", "Basic YWRtaW46YWRtaW4="),
            ("example_user", "sample")
        ]
    );
    assert_eq!(c.env[0].value.location, p.loc(25, 12));
    assert_eq!(c.auth.len(), 1);
    assert_eq!(c.auth[0].kind, AuthKind::Basic);
    assert_eq!(c.auth[0].name.value, "example_basic");
    assert_eq!(
        c.auth[0].config.value,
        json!({"username": "admin", "password": "admin"})
    );
    assert_eq!(c.auth[0].config.location.line, 11);
    assert_eq!(c.migrate_dir, p.path("./config/migration"));
    assert_eq!(c.wait, None);
    match &c.store {
        StoreConfig::Sqlite(s) => {
            assert_eq!(s.path, p.path("./config/migration").join("apirun.db"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.client, ClientConfig::default());
}

#[test]
fn a_go_stage_config_loads_unchanged() {
    let p = Project::new();
    let c = p.ok(
        "---\nmigrate_dir: ./migration\n\nenv:\n  api_base: https://httpbin.org\n\nstore:\n  type: sqlite\n  sqlite:\n    path: ./setup_state.db\n  save_response_body: true\n\nlogging:\n  level: info\n  format: color",
    );
    assert_eq!(values(&c.env), [("api_base", "https://httpbin.org")]);
    match &c.store {
        StoreConfig::Sqlite(s) => {
            assert_eq!(s.path, p.path("./setup_state.db"));
            assert_eq!(s.location, p.at(10, 11));
            assert!(s.options.save_response_body);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.logging.format, LogFormat::Color);
}

#[test]
fn the_guides_short_store_form_loads() {
    let p = Project::new();
    let c = p.ok("migrate_dir: migration\nstore:\n  driver: sqlite\n  path: ./infra_state.db\n");
    match &c.store {
        StoreConfig::Sqlite(s) => {
            assert_eq!(s.path, p.path("./infra_state.db"));
            assert_eq!(s.location, p.at(4, 9));
            assert_eq!(s.options, StoreOptions::default());
        }
        other => panic!("{other:?}"),
    }
    let c = p.ok("store: {driver: sqlite, path: ./infra_state.db}\n");
    assert!(matches!(&c.store, StoreConfig::Sqlite(s) if s.path == p.path("./infra_state.db")));
}

// --- unknown keys and type errors ----------------------------------------------------------

#[test]
fn unknown_top_level_key_has_location_and_suggestion() {
    let p = Project::new();
    let d = p.error("env: []\nmigrat_dir: migration\n");
    assert_eq!(d.message, "unknown key `migrat_dir`");
    assert_eq!(d.location, p.at(2, 1));
    assert_eq!(d.hint.as_deref(), Some("did you mean `migrate_dir`?"));
}

#[test]
fn unknown_key_without_close_match_lists_the_valid_keys() {
    let p = Project::new();
    let d = p.error("logging:\n  level: info\n  verbosity: 3\n");
    assert_eq!(d.message, "unknown key `verbosity` in `logging`");
    assert_eq!(d.location, p.at(3, 3));
    assert_eq!(
        d.hint.as_deref(),
        Some("valid keys: `level`, `format`, `color`, `mask_sensitive`, `masking`")
    );
}

#[test]
fn nested_unknown_key_names_its_section() {
    let p = Project::new();
    let d = p.error("store:\n  sqlite:\n    pth: x.db\n");
    assert_eq!(d.message, "unknown key `pth` in `store.sqlite`");
    assert_eq!(d.location, p.at(3, 5));
    assert_eq!(d.hint.as_deref(), Some("did you mean `path`?"));
}

#[test]
fn every_problem_is_reported_in_file_order() {
    let p = Project::new();
    let list = p.errors(
        "render_body: maybe\nstore:\n  type: maria\nwait:\n  url: http://x\n  timeout: 60\n",
    );
    let got: Vec<(usize, &str)> = list
        .iter()
        .map(|d| {
            (
                d.location.as_ref().map_or(0, |l| l.line),
                d.message.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, "`render_body` must be `true` or `false`, found a string"),
            (3, "invalid `store.type`: `maria`"),
            (
                6,
                "invalid duration for `wait.timeout`: `60` has a number without a unit"
            ),
        ]
    );
    assert_eq!(
        list[1].hint.as_deref(),
        Some("valid values: `sqlite`, `postgres`, `postgresql`")
    );
}

#[test]
fn yaml_syntax_errors_are_located() {
    let p = Project::new();
    let d = p.error("env:\n  - name: a\n    value: \"unclosed\n");
    assert!(d.message.starts_with("invalid YAML: "), "{}", d.message);
    assert_eq!(d.location.as_ref().map(|l| l.line), Some(3));
}

#[test]
fn a_config_that_is_not_a_mapping_is_refused() {
    let p = Project::new();
    let d = p.error("- a\n- b\n");
    assert_eq!(d.message, "`the file` must be a mapping, found a list");
}

#[test]
fn missing_config_uses_the_guides_wording() {
    let p = Project::new();
    let missing = p.path("infrastructure/config.yaml");
    let err = load(&missing).expect_err("missing");
    assert_eq!(
        err.to_string(),
        format!("config file not found: {}", missing.display())
    );
    assert!(err.diagnostics()[0].hint.is_some());
}

#[test]
fn a_directory_is_not_a_config_file() {
    let p = Project::new();
    let err = load(p.dir.path()).expect_err("dir");
    assert_eq!(
        err.diagnostics()[0].message,
        format!("config path is a directory: {}", p.dir.path().display())
    );
}

// --- env -----------------------------------------------------------------------------------

#[test]
fn env_scalars_of_any_type_become_strings() {
    let p = Project::new();
    let c = p.ok(
        "env:\n  - name: n\n    value: 3\n  - name: b\n    value: true\n  - name: f\n    value: 1.50\n  - name: z\n    value:\n  - name: none\n  - name: s\n    value: \"quoted\"\n",
    );
    assert_eq!(
        values(&c.env),
        [
            ("n", "3"),
            ("b", "true"),
            ("f", "1.50"),
            ("z", ""),
            ("none", ""),
            ("s", "quoted")
        ]
    );
    assert_eq!(c.env[0].value.location, p.loc(3, 12));
    assert_eq!(c.env[0].from_os, None);
}

#[test]
fn value_from_env_reads_the_os_environment() {
    let p = Project::new();
    let c = p.ok(
        "env:\n  - name: token\n    valueFromEnv: API_TOKEN\n  - name: empty\n    valueFromEnv: EMPTY_VAR\n  - name: both\n    value: literal\n    valueFromEnv: API_TOKEN\n  - name: blank_value\n    value: \"\"\n    valueFromEnv: API_TOKEN\n",
    );
    assert_eq!(
        values(&c.env),
        [
            ("token", "s3cret"),
            ("empty", ""),
            ("both", "literal"),
            ("blank_value", "s3cret")
        ]
    );
    assert_eq!(c.env[0].from_os.as_deref(), Some("API_TOKEN"));
    assert_eq!(c.env[0].value.location, p.loc(3, 19));
    assert_eq!(c.env[2].from_os, None);
}

#[test]
fn unset_value_from_env_points_at_the_entry() {
    let p = Project::new();
    let d = p.error("env:\n  - name: token\n    valueFromEnv: NOT_SET_ANYWHERE\n");
    assert_eq!(
        d.message,
        "environment variable `NOT_SET_ANYWHERE` is not set (read by `env[0].valueFromEnv`)"
    );
    assert_eq!(d.location, p.at(3, 19));
    assert_eq!(
        d.hint.as_deref(),
        Some("export NOT_SET_ANYWHERE=... before running apirun, or give this entry a `value`")
    );
}

#[test]
fn env_mapping_form_and_later_duplicates() {
    let p = Project::new();
    let c = p.ok("env:\n  a: 1\n  b: two\n");
    assert_eq!(values(&c.env), [("a", "1"), ("b", "two")]);
    let c = p.ok("env:\n  - name: a\n    value: first\n  - name: b\n    value: x\n  - name: a\n    value: second\n");
    assert_eq!(values(&c.env), [("a", "second"), ("b", "x")]);
    assert_eq!(c.env[0].value.location.line, 7);
}

#[test]
fn env_entries_need_a_name_and_scalar_values() {
    let p = Project::new();
    let list =
        p.errors("env:\n  - value: x\n  - name: m\n    value: {a: 1}\n  - name: k\n    vlue: y\n");
    let messages: Vec<&str> = list.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`env[0].name` is required",
            "`env[1].value` must be a string, found a mapping",
            "unknown key `vlue` in `env[2]`",
        ]
    );
    assert_eq!(list[0].location, p.at(2, 5));
    assert_eq!(list[2].hint.as_deref(), Some("did you mean `value`?"));
    let d = p.error("env: just-a-string\n");
    assert_eq!(
        d.message,
        "`env` must be a list of `{name, value}` entries, found a string"
    );
}

// --- auth ----------------------------------------------------------------------------------

#[test]
fn auth_entries_of_every_known_type() {
    let p = Project::new();
    let c = p.ok(r#"auth:
  - type: basic
    name: b
    config: {username: "{{.user}}", password: pw}
  - type: OAuth2
    name: kc
    config:
      grant_type: password
      grant_config:
        client_id: admin-cli
        scopes: [openid, profile]
  - type: pocketbase
    name: pb
    config: {base_url: http://pb, email: a@b.c, password: 123}
"#);
    let kinds: Vec<(AuthKind, &str)> = c
        .auth
        .iter()
        .map(|a| (a.kind, a.name.value.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (AuthKind::Basic, "b"),
            (AuthKind::OAuth2, "kc"),
            (AuthKind::PocketBase, "pb")
        ]
    );
    assert_eq!(
        c.auth[0].config.value,
        json!({"username": "{{.user}}", "password": "pw"})
    );
    assert_eq!(
        c.auth[1].config.value,
        json!({"grant_type": "password", "grant_config": {"client_id": "admin-cli", "scopes": ["openid", "profile"]}})
    );
    assert_eq!(c.auth[2].config.value["password"], json!(123));
    assert_eq!(c.auth[1].location, p.loc(5, 5));
    assert_eq!(
        c.auth_named("pb").map(|a| a.kind),
        Some(AuthKind::PocketBase)
    );
    assert_eq!(AuthKind::OAuth2.as_str(), "oauth2");
}

#[test]
fn unknown_auth_type_suggests_the_close_one() {
    let p = Project::new();
    let d =
        p.error("auth:\n  - type: basik\n    name: x\n    config: {username: a, password: b}\n");
    assert_eq!(d.message, "unknown auth type `basik`");
    assert_eq!(d.location, p.at(2, 11));
    assert_eq!(d.hint.as_deref(), Some("did you mean `basic`?"));
    let d = p.error("auth:\n  - type: saml\n    name: x\n    config: {}\n");
    assert_eq!(
        d.hint.as_deref(),
        Some("known types: `basic`, `oauth2`, `pocketbase`")
    );
}

#[test]
fn duplicate_auth_names_name_both_lines() {
    let p = Project::new();
    let d = p.error(
        "auth:\n  - type: basic\n    name: api\n    config: {username: a, password: b}\n  - type: basic\n    name: api\n    config: {username: c, password: d}\n",
    );
    assert_eq!(d.message, "duplicate auth name `api`");
    assert_eq!(d.location, p.at(6, 11));
    assert_eq!(
        d.hint.as_deref(),
        Some("`api` is already defined on line 3; auth names must be unique")
    );
}

#[test]
fn auth_needs_type_name_and_config() {
    let p = Project::new();
    let list = p.errors("auth:\n  - name: x\n    config: {}\n  - type: basic\n    config: {}\n  - type: basic\n    name: y\n");
    let messages: Vec<&str> = list.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "`auth[0].type` is required",
            "`auth[1].name` is required",
            "`auth[2].config` is required"
        ]
    );
    assert_eq!(
        list[2].hint.as_deref(),
        Some("add a `config:` mapping with `username` and `password`")
    );
    let d = p.error("auth:\n  type: basic\n");
    assert_eq!(
        d.message,
        "`auth` must be a list of `{type, name, config}` entries, found a mapping"
    );
}

// --- store ---------------------------------------------------------------------------------

#[test]
fn postgres_with_dsn_and_each_type_spelling() {
    let p = Project::new();
    for ty in ["postgres", "postgresql", "PostgreSQL"] {
        let c = p.ok(&format!(
            "store:\n  type: {ty}\n  postgres:\n    dsn: postgres://u:p@db:5432/app?sslmode=disable\n"
        ));
        match &c.store {
            StoreConfig::Postgres(s) => {
                assert_eq!(
                    s.connection.dsn(),
                    "postgres://u:p@db:5432/app?sslmode=disable"
                );
                assert!(
                    matches!(&s.connection, PostgresConnection::Dsn(d) if d.location == p.loc(4, 10))
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn postgres_from_parts_with_defaults() {
    let p = Project::new();
    let c = p.ok("store:\n  type: postgresql\n  postgres:\n    host: localhost\n    user: postgres\n    password: pw\n    dbname: apirun\n");
    match &c.store {
        StoreConfig::Postgres(s) => {
            assert_eq!(
                s.connection,
                PostgresConnection::Params(PostgresParams {
                    host: "localhost".into(),
                    port: 5432,
                    user: "postgres".into(),
                    password: "pw".into(),
                    dbname: "apirun".into(),
                    sslmode: "disable".into(),
                })
            );
            assert_eq!(
                s.connection.dsn(),
                "postgres://postgres:pw@localhost:5432/apirun?sslmode=disable"
            );
        }
        other => panic!("{other:?}"),
    }
    let c = p.ok("store:\n  postgres:\n    host: db\n    port: \"6543\"\n    sslmode: require\n");
    assert!(
        matches!(&c.store, StoreConfig::Postgres(s) if s.connection.dsn() == "postgres://db:6543/?sslmode=require")
    );
}

#[test]
fn postgres_mistakes_are_reported() {
    let p = Project::new();
    let d = p.error("store:\n  type: postgres\n");
    assert_eq!(
        d.message,
        "a postgres store needs `store.postgres.dsn` or `store.postgres.host`"
    );
    let d = p.error("store:\n  postgres:\n    host: db\n    port: 70000\n");
    assert_eq!(d.message, "invalid `store.postgres.port`: 70000");
    assert_eq!(d.location, p.at(4, 11));
    let d = p.error("store:\n  postgres:\n    host: db\n    sslmode: sometimes\n");
    assert_eq!(d.message, "invalid `store.postgres.sslmode`: `sometimes`");
    let d = p.error("store:\n  type: sqlite\n  postgres:\n    host: db\n");
    assert_eq!(
        d.message,
        "`store.postgres` does not apply to a sqlite store"
    );
    assert_eq!(d.location, p.at(3, 3));
    let d = p.error("store:\n  type: sqlite\n  driver: sqlite\n");
    assert_eq!(d.message, "`store.driver` and `store.type` are both set");
    let d = p.error("store:\n  sqlite: {path: a.db}\n  path: b.db\n");
    assert_eq!(
        d.message,
        "`store.path` and `store.sqlite.path` are both set"
    );
}

#[test]
fn disabled_store_is_truly_stateless() {
    let p = Project::new();
    let c = p.ok("store:\n  disabled: true\n  type: postgresql\n");
    assert_eq!(c.store, StoreConfig::Disabled);
    assert_eq!(c.store.options(), None);
    assert!(!save_response_body(&c));
    let c = p.ok("store:\n  disabled: false\n  save_response_body: true\n");
    assert!(matches!(&c.store, StoreConfig::Sqlite(_)));
    assert!(save_response_body(&c));
}

#[test]
fn sqlite_memory_path_is_not_joined() {
    let p = Project::new();
    let c = p.ok("store:\n  sqlite:\n    path: \":memory:\"\n");
    assert!(matches!(&c.store, StoreConfig::Sqlite(s) if s.path == Path::new(":memory:")));
}

#[test]
fn table_prefix_explicit_names_and_schemas() {
    let p = Project::new();
    let tables = |text: &str| {
        p.ok(text)
            .store
            .options()
            .map(|o| o.tables.clone())
            .expect("enabled")
    };
    assert_eq!(
        tables("store:\n  table_prefix: app1\n"),
        TableNames {
            schema_migrations: "app1_schema_migrations".into(),
            migration_runs: "app1_migration_runs".into(),
            stored_env: "app1_stored_env".into(),
        }
    );
    assert_eq!(
        tables(
            "store:\n  table_prefix: app1\n  table_migration_runs: runs\n  table_stored_env: state.vars\n"
        ),
        TableNames {
            schema_migrations: "app1_schema_migrations".into(),
            migration_runs: "runs".into(),
            stored_env: "state.vars".into(),
        }
    );
    assert_eq!(
        tables("store:\n  table_schema_migrations: apirun.schema_migrations\n"),
        TableNames {
            schema_migrations: "apirun.schema_migrations".into(),
            ..TableNames::default()
        }
    );
}

#[test]
fn invalid_table_names_are_errors_not_fallbacks() {
    let p = Project::new();
    let d = p.error("store:\n  table_stored_env: \"drop table; --\"\n");
    assert_eq!(
        d.message,
        "invalid table name `drop table; --` (from `store.table_stored_env`)"
    );
    assert_eq!(d.location, p.at(2, 21));
    let list = p.errors("store:\n  table_prefix: 1app\n");
    assert_eq!(list.len(), 3);
    assert_eq!(
        list[0].message,
        "invalid table name `1app_schema_migrations` (from `store.table_prefix`)"
    );
    assert_eq!(list[0].location, p.at(2, 17));
    let d = p.error("store:\n  table_migration_runs: a.b.c\n");
    assert_eq!(
        d.message,
        "invalid table name `a.b.c` (from `store.table_migration_runs`)"
    );
}

// --- wait ----------------------------------------------------------------------------------

#[test]
fn wait_with_every_key() {
    let p = Project::new();
    let c = p.ok(
        "wait:\n  url: \"{{.api_base}}/health\"\n  method: head\n  status: 204\n  timeout: 1m30s\n  interval: 500ms\n  headers:\n    - name: Accept\n      value: application/json\n",
    );
    let w = c.wait.expect("wait");
    assert_eq!(w.url.value, "{{.api_base}}/health");
    assert_eq!(w.url.location, p.loc(2, 8));
    assert_eq!(w.method, WaitMethod::Head);
    assert_eq!(w.method.as_str(), "HEAD");
    assert_eq!(w.status, 204);
    assert_eq!(w.timeout, Duration::from_secs(90));
    assert_eq!(w.interval, Duration::from_millis(500));
    assert_eq!(w.headers.len(), 1);
    assert_eq!(w.headers[0].name, "Accept");
    assert_eq!(w.headers[0].value.value, "application/json");
    assert_eq!(w.headers[0].value.location.line, 9);
}

#[test]
fn wait_defaults_and_off_switches() {
    let p = Project::new();
    let w = p
        .ok("wait:\n  url: http://localhost/health\n")
        .wait
        .expect("wait");
    assert_eq!(
        (w.method, w.status, w.timeout, w.interval, w.headers.len()),
        (
            WaitMethod::Get,
            200,
            Duration::from_secs(60),
            Duration::from_secs(2),
            0
        )
    );
    assert_eq!(p.ok("wait:\n  url: \"\"\n").wait, None);
    assert_eq!(p.ok("wait: {}\n").wait, None);
}

#[test]
fn wait_mistakes_are_errors() {
    let p = Project::new();
    let d = p.error("wait:\n  url: http://x\n  method: POST\n");
    assert_eq!(d.message, "invalid `wait.method`: `POST`");
    assert_eq!(d.hint.as_deref(), Some("valid values: `get`, `head`"));
    assert_eq!(d.location, p.at(3, 11));
    let d = p.error("wait:\n  url: http://x\n  interval: 2 seconds\n");
    assert_eq!(
        d.message,
        "invalid duration for `wait.interval`: `2 seconds` has an unknown unit `seconds`"
    );
    assert_eq!(d.location, p.at(3, 13));
    let d = p.error("wait:\n  method: GET\n");
    assert_eq!(d.message, "`wait.url` is required");
    let d = p.error("wait:\n  url: http://x\n  status: 99\n");
    assert_eq!(d.message, "invalid `wait.status`: 99");
    let d = p.error("wait:\n  url: http://x\n  headers:\n    Accept: application/json\n");
    assert_eq!(
        d.message,
        "`wait.headers` must be a list of `{name, value}` entries, found a mapping"
    );
    assert_eq!(d.location, p.at(4, 5));
}

// --- client --------------------------------------------------------------------------------

#[test]
fn client_tls_versions_in_both_spellings() {
    let p = Project::new();
    let c =
        p.ok("client:\n  insecure: true\n  min_tls_version: \"1.2\"\n  max_tls_version: tls1.3\n");
    assert_eq!(
        c.client,
        ClientConfig {
            insecure: true,
            min_tls_version: Some(TlsVersion::V1_2),
            max_tls_version: Some(TlsVersion::V1_3),
        }
    );
    let c = p.ok("client:\n  mintlsversion: 12\n  maxtlsversion: TLS13\n");
    assert_eq!(c.client.min_tls_version, Some(TlsVersion::V1_2));
    assert_eq!(c.client.max_tls_version, Some(TlsVersion::V1_3));
    let c = p.ok("client:\n  min_tls_version: 1.0\n  max_tls_version: \"\"\n");
    assert_eq!(c.client.min_tls_version, Some(TlsVersion::V1_0));
    assert_eq!(c.client.max_tls_version, None);
    let settings =
        client_settings(&p.ok("client:\n  insecure: true\n  min_tls_version: \"1.1\"\n"));
    assert!(settings.insecure);
    assert_eq!(
        settings.min_tls_version,
        Some(crate::http::TlsVersion::V1_1)
    );
}

#[test]
fn client_tls_mistakes_are_errors() {
    let p = Project::new();
    let d = p.error("client:\n  min_tls_version: \"1.4\"\n");
    assert_eq!(d.message, "invalid `client.min_tls_version`: `1.4`");
    assert_eq!(d.location, p.at(2, 20));
    let d = p.error("client:\n  min_tls_version: \"1.3\"\n  max_tls_version: \"1.2\"\n");
    assert_eq!(
        d.message,
        "`client.max_tls_version` is lower than `client.min_tls_version`"
    );
    assert_eq!(d.location, p.at(3, 20));
    let d = p.error("client:\n  min_tls_version: \"1.2\"\n  mintlsversion: \"1.2\"\n");
    assert_eq!(
        d.message,
        "`client.mintlsversion` and `client.min_tls_version` are both set"
    );
}

// --- logging, render_body, delay -------------------------------------------------------------

#[test]
fn logging_values_and_masking_spellings() {
    let p = Project::new();
    let c = p.ok("logging:\n  level: WARNING\n  format: colour\n  color: false\n  masking:\n    enabled: false\n");
    assert_eq!(
        c.logging,
        LoggingConfig {
            level: LogLevel::Warn,
            format: LogFormat::Color,
            color: Some(false),
            mask_sensitive: false,
        }
    );
    let c = p.ok("logging:\n  level: debug\n  format: json\n  mask_sensitive: false\n");
    assert_eq!(
        (c.logging.level, c.logging.format, c.logging.mask_sensitive),
        (LogLevel::Debug, LogFormat::Json, false)
    );
    assert_eq!(
        p.ok("logging:\n  level: error\n").logging.level,
        LogLevel::Error
    );
}

#[test]
fn logging_mistakes_list_valid_values() {
    let p = Project::new();
    let d = p.error("logging:\n  level: verbose\n");
    assert_eq!(d.message, "invalid `logging.level`: `verbose`");
    assert_eq!(
        d.hint.as_deref(),
        Some("valid values: `error`, `warn`, `warning`, `info`, `debug`")
    );
    let d = p.error("logging:\n  format: jsn\n");
    assert_eq!(d.hint.as_deref(), Some("did you mean `json`?"));
    let d = p.error("logging:\n  mask_sensitive: true\n  masking: {enabled: false}\n");
    assert_eq!(
        d.message,
        "`logging.masking.enabled` contradicts `logging.mask_sensitive`"
    );
}

#[test]
fn render_body_and_delay() {
    let p = Project::new();
    let c = p.ok("render_body: false\ndelay_between_migrations: 1500ms\n");
    assert!(!c.render_body);
    assert_eq!(
        c.delay_between_migrations,
        Some(Duration::from_millis(1500))
    );
    assert_eq!(
        p.ok("delay_between_migrations: 0\n")
            .delay_between_migrations,
        None
    );
    assert_eq!(
        p.ok("delay_between_migrations: 0s\n")
            .delay_between_migrations,
        None
    );
    let d = p.error("delay_between_migrations: 1\n");
    assert_eq!(
        d.message,
        "invalid duration for `delay_between_migrations`: `1` has a number without a unit"
    );
    assert_eq!(d.location, p.at(1, 27));
}

// --- plugins and hosts ---------------------------------------------------------------------

#[test]
fn plugins_are_parsed_and_resolved() {
    let p = Project::new();
    p.write("plugins/slack.wasm", "\0asm");
    let c = p.ok(
        "plugins:\n  - name: slack\n    path: plugins/slack.wasm\n    sha256: ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789\n    allowed_hosts: [hooks.slack.com, \"https://api.example.com:8443\"]\n    limits:\n      memory: 64MiB\n      fuel: 1000000\n      timeout: 5s\n  - name: minimal\n    path: ./plugins/slack.wasm\n",
    );
    assert_eq!(c.plugins.len(), 2);
    let s = &c.plugins[0];
    assert_eq!(s.name.value, "slack");
    assert_eq!(s.path.value, p.path("plugins/slack.wasm"));
    assert_eq!(s.path.location, p.loc(3, 11));
    assert_eq!(
        s.sha256.as_ref().map(|h| h.value.as_str()),
        Some("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789")
    );
    let hosts: Vec<&str> = s.allowed_hosts.iter().map(|h| h.value.as_str()).collect();
    assert_eq!(hosts, ["hooks.slack.com", "https://api.example.com:8443"]);
    assert_eq!(
        s.limits,
        PluginLimits {
            memory_bytes: Some(64 * 1024 * 1024),
            fuel: Some(1_000_000),
            timeout: Some(Duration::from_secs(5)),
        }
    );
    assert_eq!(c.plugins[1].limits, PluginLimits::default());
    assert!(c.plugins[1].allowed_hosts.is_empty());
    assert_eq!(c.plugin_named("minimal").map(|p| p.location.line), Some(10));
}

#[test]
fn plugin_mistakes_are_errors() {
    let p = Project::new();
    p.write("a.wasm", "");
    let list = p.errors(
        "plugins:\n  - name: http\n    path: a.wasm\n  - name: x\n    path: missing.wasm\n  - name: y\n    path: a.wasm\n    sha256: nothex\n    limits: {memory: 64M, fuel: 0, timeout: 0s}\n  - name: y\n    path: a.wasm\n",
    );
    let messages: Vec<&str> = list.iter().map(|d| d.message.as_str()).collect();
    let missing = format!(
        "plugin file not found: {}",
        p.path("missing.wasm").display()
    );
    assert_eq!(
        messages,
        [
            "plugin name `http` is taken by the built-in step type",
            missing.as_str(),
            "invalid `plugins[2].sha256`",
            "invalid `plugins[2].limits.memory`: `64M` has an unknown unit `M`",
            "`plugins[2].limits.fuel` must be greater than 0",
            "`plugins[2].limits.timeout` must be greater than 0",
            "duplicate plugin name `y`",
        ]
    );
    assert_eq!(
        list[6].hint.as_deref(),
        Some("`y` is already defined on line 6")
    );
}

#[test]
fn allowed_hosts_are_checked_at_load() {
    let p = Project::new();
    let c = p.ok("allowed_hosts:\n  - api.example.com\n  - \"*.internal:8080\"\n");
    let hosts: Vec<&str> = c
        .allowed_hosts
        .iter()
        .flatten()
        .map(|h| h.value.as_str())
        .collect();
    assert_eq!(hosts, ["api.example.com", "*.internal:8080"]);
    assert_eq!(allowed_hosts(&c).map(|r| r.map(|r| r.len())), Ok(Some(2)));
    assert_eq!(allowed_hosts(&p.ok("")), Ok(None));
    let d = p.error("allowed_hosts:\n  - api.example.com/v1\n");
    assert_eq!(d.location, p.at(2, 5));
    assert!(
        d.message
            .starts_with("invalid allowed host `api.example.com/v1`"),
        "{}",
        d.message
    );
    let d = p.error("allowed_hosts: api.example.com\n");
    assert_eq!(
        d.message,
        "`allowed_hosts` must be a list of strings, found a string"
    );
}

#[test]
fn env_pairs_for_templates() {
    let p = Project::new();
    let c = p.ok("env:\n  - name: a\n    value: 1\n  - name: b\n    valueFromEnv: API_TOKEN\n");
    assert_eq!(
        env_pairs(&c),
        vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "s3cret".to_string())
        ]
    );
}
