//! config.yaml: the project file users bring from the Go original, loaded with file:line:col on
//! every mistake.
//!
//! Accepted keys (see the user docs for the full format): `migrate_dir`, `env` (a list of
//! `{name, value | valueFromEnv}`, or a plain mapping), `auth`, `store` (long form with
//! `type`/`sqlite`/`postgres`, or the short `{driver: sqlite, path: ./x.db}`), `wait`, `client`,
//! `logging`, `render_body`, `delay_between_migrations`, `plugins` and `allowed_hosts`.
//!
//! Where the Go original silently ignored or defaulted something, this loader reports it:
//! unknown keys (with a did-you-mean), `postgres` vs `postgresql`, the documented
//! `min_tls_version` spelling, unparsable durations, invalid table names, an unset
//! `valueFromEnv` variable. Relative paths resolve against the config file, never the working
//! directory.
//!
//! `yaml` holds the located YAML tree and decoding helpers that the `migration` module reuses.

mod bridge;
mod duration;
mod error;
mod load;
mod model;
pub mod schema;
pub(crate) mod yaml;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use bridge::{allowed_hosts, client_settings, env_pairs, save_response_body};
pub use duration::{DurationError, parse_duration};
pub use error::LoadError;
pub(crate) use load::CONFIG;
pub use load::{load, load_with_env};

/// Where the published JSON Schemas live; each file's `$id` is under it.
pub const SCHEMA_BASE: &str = "https://example.invalid/apirun/schemas";

/// The JSON Schema of config.yaml, generated from the tables its loader checks keys against.
pub fn json_schema() -> serde_json::Value {
    schema::json_schema(
        &CONFIG,
        &format!("{SCHEMA_BASE}/config.schema.json"),
        "apirun config.yaml",
    )
}
pub use model::{
    AuthConfig, AuthKind, ClientConfig, Config, EnvVar, LogFormat, LogLevel, LoggingConfig, Pair,
    PluginConfig, PluginLimits, PostgresConnection, PostgresParams, PostgresStore, SqliteStore,
    StoreConfig, StoreOptions, TableNames, TlsVersion, WaitConfig, WaitMethod,
};

/// `rel` resolved against `base` (the folder of the file that names it), with `.` components
/// dropped and `..` folded where it can be without touching the file system, so paths print
/// as people write them (`setup/state.db`, not `setup/./state.db`).
pub(crate) fn resolve_path(base: &std::path::Path, rel: &str) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for part in base.join(rel).components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal =
                    matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

impl Config {
    /// Where the CLI looks for the config when `--config` is not given (as the Go original).
    pub fn default_path() -> PathBuf {
        PathBuf::from("./config/config.yaml")
    }

    /// The auth entry named `name`, for `auth_name` lookups.
    pub fn auth_named(&self, name: &str) -> Option<&AuthConfig> {
        self.auth.iter().find(|a| a.name.value == name)
    }

    /// The custom step type named `name`.
    pub fn plugin_named(&self, name: &str) -> Option<&PluginConfig> {
        self.plugins.iter().find(|p| p.name.value == name)
    }
}

#[cfg(test)]
mod path_tests {
    use super::resolve_path;
    use std::path::Path;

    #[test]
    fn drops_dot_and_folds_dot_dot() {
        assert_eq!(
            resolve_path(Path::new("setup"), "./state.db"),
            Path::new("setup/state.db")
        );
        assert_eq!(
            resolve_path(Path::new("a/b"), "../c/./d.yaml"),
            Path::new("a/c/d.yaml")
        );
        assert_eq!(resolve_path(Path::new("."), "x"), Path::new("x"));
        assert_eq!(resolve_path(Path::new(""), "../x"), Path::new("../x"));
        assert_eq!(
            resolve_path(Path::new("/p/q"), "/abs/f"),
            Path::new("/abs/f")
        );
    }
}
