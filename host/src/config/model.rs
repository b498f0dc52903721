//! config.yaml as loaded: plain typed values, paths already resolved against the config file's
//! directory, defaults filled in, and a location on every string a template may later touch.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::report::{Located, Location};

/// A project's configuration (one config.yaml), validated and resolved.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, as it was named when loaded.
    pub path: PathBuf,
    /// The directory of the config file: every relative path in it is resolved against this.
    pub dir: PathBuf,
    /// Where the migration files live (`migrate_dir`, default: the config file's directory).
    pub migrate_dir: PathBuf,
    /// Where `migrate_dir` was written, to point at it when the directory is missing.
    pub migrate_dir_location: Option<Location>,
    /// Global variables, in file order; a later entry with the same name replaced an earlier one.
    pub env: Vec<EnvVar>,
    /// Auth providers whose tokens templates read as `{{.auth.<name>}}`.
    pub auth: Vec<AuthConfig>,
    /// Where applied migrations are recorded.
    pub store: StoreConfig,
    /// A URL to poll until the API is up, before anything runs.
    pub wait: Option<WaitConfig>,
    /// TLS settings for every request.
    pub client: ClientConfig,
    /// Log level, format and secret masking.
    pub logging: LoggingConfig,
    /// Default for a step's `request.render_body` (default true).
    pub render_body: bool,
    /// Pause after each applied migration; `None` (also for `0`) means no pause.
    pub delay_between_migrations: Option<Duration>,
    /// Custom step types (wasm components) that migrations may name in `type:`.
    pub plugins: Vec<PluginConfig>,
    /// If set, the only hosts any step (the built-in `http` included) may send to.
    pub allowed_hosts: Option<Vec<Located<String>>>,
}

/// One global variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    pub name: String,
    /// The value, located at the `value` (or `valueFromEnv`) that produced it.
    pub value: Located<String>,
    /// The OS variable it was read from (`valueFromEnv`), so reports can treat it as a secret.
    pub from_os: Option<String>,
}

/// The auth providers apirun knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `username`/`password` → a base64 `user:password` token (header `Basic <token>`).
    Basic,
    /// `grant_type` + `grant_config` → an access token (header `Bearer <token>`).
    OAuth2,
    /// `base_url`, `email`, `password` → a PocketBase admin token (header `Bearer <token>`).
    PocketBase,
}

impl AuthKind {
    /// The spelling used in config.yaml.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::OAuth2 => "oauth2",
            Self::PocketBase => "pocketbase",
        }
    }
}

/// One `auth:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthConfig {
    pub kind: AuthKind,
    pub name: Located<String>,
    /// The provider's settings as written (a JSON object); its strings may be templates,
    /// located through `config.location` (the start of the `config:` mapping).
    pub config: Located<Value>,
    /// The start of the entry.
    pub location: Location,
}

/// Where state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// `disabled: true`: nothing is recorded, every run starts from scratch.
    Disabled,
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl StoreConfig {
    /// Table names and body recording, unless the store is disabled.
    pub fn options(&self) -> Option<&StoreOptions> {
        match self {
            Self::Disabled => None,
            Self::Sqlite(s) => Some(&s.options),
            Self::Postgres(p) => Some(&p.options),
        }
    }
}

/// A SQLite state file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteStore {
    /// Resolved against the config file's directory; default `<migrate_dir>/apirun.db`.
    pub path: PathBuf,
    /// Where the path was written (`None` for the default).
    pub location: Option<Location>,
    pub options: StoreOptions,
}

/// A PostgreSQL store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStore {
    pub connection: PostgresConnection,
    /// The start of the `store` section.
    pub location: Location,
    pub options: StoreOptions,
}

/// How to reach PostgreSQL: a DSN as written, or its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostgresConnection {
    Dsn(Located<String>),
    Params(PostgresParams),
}

/// `postgres: {host, port, user, password, dbname, sslmode}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresParams {
    pub host: String,
    /// Default 5432.
    pub port: u16,
    pub user: String,
    pub password: String,
    pub dbname: String,
    /// Default `disable`.
    pub sslmode: String,
}

impl PostgresConnection {
    /// A `postgres://` URL; user, password and database name are percent-encoded (the Go
    /// original pasted them in raw, breaking passwords with `@` or `/`).
    pub fn dsn(&self) -> String {
        match self {
            Self::Dsn(d) => d.value.clone(),
            Self::Params(p) => {
                let auth = match (p.user.is_empty(), p.password.is_empty()) {
                    (true, _) => String::new(),
                    (false, true) => format!("{}@", percent_encode(&p.user)),
                    (false, false) => format!(
                        "{}:{}@",
                        percent_encode(&p.user),
                        percent_encode(&p.password)
                    ),
                };
                format!(
                    "postgres://{auth}{}:{}/{}?sslmode={}",
                    p.host,
                    p.port,
                    percent_encode(&p.dbname),
                    percent_encode(&p.sslmode)
                )
            }
        }
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Settings every store kind shares.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreOptions {
    pub tables: TableNames,
    /// Record response bodies in `migration_runs` (default false).
    pub save_response_body: bool,
}

/// The three tables users query (owned by the state module, which validates and quotes them).
pub use crate::state::TableNames;

/// Poll a URL until it answers with the expected status, before running anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitConfig {
    /// May be a template (config `env` only: auth is not available yet).
    pub url: Located<String>,
    pub method: WaitMethod,
    /// Default 200.
    pub status: u16,
    /// Give up after this long (default 60s).
    pub timeout: Duration,
    /// Pause between probes (default 2s).
    pub interval: Duration,
    pub headers: Vec<Pair>,
    /// The start of the `wait` section.
    pub location: Location,
}

/// The methods a wait probe may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitMethod {
    Get,
    Head,
}

impl WaitMethod {
    /// The HTTP method name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
        }
    }
}

/// `client:`: TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientConfig {
    /// Accept any certificate.
    pub insecure: bool,
    pub min_tls_version: Option<TlsVersion>,
    pub max_tls_version: Option<TlsVersion>,
}

/// A TLS protocol version as config names it (`1.2`, `tls1.2`, `12`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1_0,
    V1_1,
    V1_2,
    V1_3,
}

/// `logging:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggingConfig {
    pub level: LogLevel,
    pub format: LogFormat,
    /// Force colour on (`true`) or off (`false`); `None` decides from the terminal.
    pub color: Option<bool>,
    /// Hide secrets in logs and output (default true; `mask_sensitive` or `masking.enabled`).
    pub mask_sensitive: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            format: LogFormat::Text,
            color: None,
            mask_sensitive: true,
        }
    }
}

/// How much is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
    /// Text with colours (`color` or `colour`).
    Color,
}

/// A custom step type: a wasm component that migrations name in `type:`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginConfig {
    pub name: Located<String>,
    /// The component file, resolved against the config file's directory.
    pub path: Located<PathBuf>,
    /// Expected SHA-256 of the file (lower-case hex), checked before it is loaded.
    pub sha256: Option<Located<String>>,
    /// The only hosts this plugin may send to (empty: none).
    pub allowed_hosts: Vec<Located<String>>,
    pub limits: PluginLimits,
    /// The start of the entry.
    pub location: Location,
}

/// Per-call limits of a plugin; `None` leaves the runtime's default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginLimits {
    /// Linear memory, in bytes (`64MiB` or a number of bytes).
    pub memory_bytes: Option<u64>,
    /// Wasm fuel (instructions, roughly).
    pub fuel: Option<u64>,
    /// Wall-clock time for one call.
    pub timeout: Option<Duration>,
}

/// A `{name, value}` list entry: headers, queries, wait headers. The value may be a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub name: String,
    pub value: Located<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_dsn_from_parts_is_escaped() {
        let c = PostgresConnection::Params(PostgresParams {
            host: "db".into(),
            port: 5432,
            user: "app".into(),
            password: "p@ss/w:rd".into(),
            dbname: "state".into(),
            sslmode: "disable".into(),
        });
        assert_eq!(
            c.dsn(),
            "postgres://app:p%40ss%2Fw%3Ard@db:5432/state?sslmode=disable"
        );
    }
}
