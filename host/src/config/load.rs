//! Reading config.yaml into [`Config`]: every key of the Go original's format, strict about
//! unknown keys and bad values, resolving relative paths against the config file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::bridge::check_host_rule;
use super::duration::parse_byte_size;
use super::error::LoadError;
use super::model::*;
use super::yaml::{self, Fields, Node, NodeKind, Problems, item_path, list_names, type_error};
use crate::report::{Diagnostic, Located, Location, did_you_mean};

const TOP_KEYS: &[&str] = &[
    "migrate_dir",
    "env",
    "auth",
    "store",
    "wait",
    "client",
    "logging",
    "render_body",
    "delay_between_migrations",
    "plugins",
    "allowed_hosts",
];

const STORE_KEYS: &[&str] = &[
    "type",
    "driver",
    "disabled",
    "sqlite",
    "postgres",
    "path",
    "dsn",
    "save_response_body",
    "table_prefix",
    "table_schema_migrations",
    "table_migration_runs",
    "table_stored_env",
];

const POSTGRES_KEYS: &[&str] = &[
    "dsn", "host", "port", "user", "password", "dbname", "sslmode",
];

/// Read and validate config.yaml, reading `valueFromEnv` variables from the process
/// environment.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    load_with_env(path, &|name| std::env::var_os(name))
}

/// [`load`] with the OS environment supplied by the caller: tests and embedders decide what
/// `valueFromEnv` sees without touching the process environment.
pub fn load_with_env(
    path: &Path,
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Config, LoadError> {
    if path.is_dir() {
        return Err(LoadError::diagnostic(
            Diagnostic::new(
                None,
                format!("config path is a directory: {}", path.display()),
            )
            .with_hint("pass the config.yaml file itself"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::ConfigNotFound {
                path: path.to_path_buf(),
            }
        } else {
            LoadError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        LoadError::diagnostic(Diagnostic::at(
            Location::file_start(path),
            "config file is not valid UTF-8",
        ))
    })?;
    decode(path, &text, lookup)
}

fn decode(
    path: &Path,
    text: &str,
    lookup: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Config, LoadError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let root = yaml::parse(path, text)
        .map_err(LoadError::diagnostic)?
        .unwrap_or_else(|| Node::null(Location::file_start(path)));
    let mut p = Problems::new();
    let Some(f) = Fields::new(&root, "", TOP_KEYS, &mut p) else {
        return Err(p.into_error());
    };

    let (migrate_dir, migrate_dir_location) = match f.string("migrate_dir", &mut p) {
        Some(s) if !s.value.trim().is_empty() => {
            (super::resolve_path(&dir, s.value.trim()), Some(s.location))
        }
        _ => (dir.clone(), None),
    };
    let env = f
        .get("env")
        .map(|n| env_vars(n, lookup, &mut p))
        .unwrap_or_default();
    let auth = f
        .get("auth")
        .map(|n| auth_entries(n, &mut p))
        .unwrap_or_default();
    let store = store(&f, &dir, &migrate_dir, &mut p);
    let wait = f
        .fields(
            "wait",
            &["url", "method", "status", "timeout", "interval", "headers"],
            &mut p,
        )
        .and_then(|w| wait(&w, &mut p));
    let client = f
        .fields(
            "client",
            &[
                "insecure",
                "min_tls_version",
                "max_tls_version",
                "mintlsversion",
                "maxtlsversion",
            ],
            &mut p,
        )
        .map(|c| client(&c, &mut p))
        .unwrap_or_default();
    let logging = f
        .fields(
            "logging",
            &["level", "format", "color", "mask_sensitive", "masking"],
            &mut p,
        )
        .map(|l| logging(&l, &mut p))
        .unwrap_or_default();
    let render_body = f.bool("render_body", &mut p).unwrap_or(true);
    let delay_between_migrations = f
        .duration("delay_between_migrations", &mut p)
        .map(|d| d.value)
        .filter(|d| !d.is_zero());
    let plugins = f
        .get("plugins")
        .map(|n| plugins(n, &dir, &mut p))
        .unwrap_or_default();
    let allowed_hosts = f.string_list("allowed_hosts", false, &mut p).map(|hosts| {
        hosts
            .into_iter()
            .filter(|h| match check_host_rule(h) {
                Some(d) => {
                    p.push(d);
                    false
                }
                None => true,
            })
            .collect()
    });

    p.finish(Config {
        path: path.to_path_buf(),
        dir,
        migrate_dir,
        migrate_dir_location,
        env,
        auth,
        store,
        wait,
        client,
        logging,
        render_body,
        delay_between_migrations,
        plugins,
        allowed_hosts,
    })
}

// --- env -----------------------------------------------------------------------------------

fn env_vars(
    node: &Node,
    lookup: &dyn Fn(&str) -> Option<OsString>,
    p: &mut Problems,
) -> Vec<EnvVar> {
    let mut vars: Vec<EnvVar> = Vec::new();
    let mut add = |var: EnvVar| match vars.iter_mut().find(|v| v.name == var.name) {
        Some(existing) => *existing = var,
        None => vars.push(var),
    };
    match &node.kind {
        // `env: {a: b}`: the stage configs of the Go original used this form.
        NodeKind::Map(_) => {
            for (name, value) in yaml::scalar_map(node, "env", p) {
                add(EnvVar {
                    name,
                    value,
                    from_os: None,
                });
            }
        }
        NodeKind::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = item_path("env", i);
                let Some(f) = Fields::new(item, &path, &["name", "value", "valueFromEnv"], p)
                else {
                    continue;
                };
                let name = f.required_string("name", p);
                let literal = f.string("value", p);
                let from_env = f
                    .string("valueFromEnv", p)
                    .filter(|v| !v.value.trim().is_empty());
                let var = match (literal, from_env) {
                    // A non-empty `value` wins over `valueFromEnv`, as in the Go original.
                    (Some(v), _) if !v.value.is_empty() => Some((v, None)),
                    (_, Some(os_name)) => {
                        read_os_var(&os_name, &f.child("valueFromEnv"), lookup, p)
                    }
                    (Some(v), None) => Some((v, None)),
                    (None, None) => Some((Located::new(String::new(), f.location().clone()), None)),
                };
                if let (Some(name), Some((value, from_os))) = (name, var) {
                    add(EnvVar {
                        name: name.value,
                        value,
                        from_os,
                    });
                }
            }
        }
        _ if node.is_null() => {}
        NodeKind::Scalar(_) => p.push(
            type_error(node, "env", "a list of `{name, value}` entries")
                .with_hint("write `env:` then `  - name: X` and `    value: Y`"),
        ),
    }
    vars
}

fn read_os_var(
    os_name: &Located<String>,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<OsString>,
    p: &mut Problems,
) -> Option<(Located<String>, Option<String>)> {
    let name = os_name.value.trim();
    match lookup(name) {
        Some(v) => match v.into_string() {
            Ok(v) => Some((
                Located::new(v, os_name.location.clone()),
                Some(name.to_string()),
            )),
            Err(_) => {
                p.push(Diagnostic::at(
                    os_name.location.clone(),
                    format!("environment variable `{name}` (from `{path}`) is not valid UTF-8"),
                ));
                None
            }
        },
        None => {
            p.push(
                Diagnostic::at(
                    os_name.location.clone(),
                    format!("environment variable `{name}` is not set (read by `{path}`)"),
                )
                .with_hint(format!(
                    "export {name}=... before running apirun, or give this entry a `value`"
                )),
            );
            None
        }
    }
}

// --- auth ----------------------------------------------------------------------------------

const AUTH_KINDS: &[(&str, AuthKind)] = &[
    ("basic", AuthKind::Basic),
    ("oauth2", AuthKind::OAuth2),
    ("pocketbase", AuthKind::PocketBase),
];

fn auth_entries(node: &Node, p: &mut Problems) -> Vec<AuthConfig> {
    let Some(items) = yaml::seq(node, "auth", "a list of `{type, name, config}` entries", p) else {
        return Vec::new();
    };
    let mut out: Vec<AuthConfig> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = item_path("auth", i);
        let Some(f) = Fields::new(item, &path, &["type", "name", "config"], p) else {
            continue;
        };
        let kind = f.required_string("type", p).and_then(|t| {
            let word = t.value.to_ascii_lowercase();
            if let Some((_, k)) = AUTH_KINDS.iter().find(|(n, _)| *n == word) {
                return Some(*k);
            }
            let names = AUTH_KINDS.iter().map(|(n, _)| *n);
            let hint = match did_you_mean(&word, names.clone()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("known types: {}", list_names(names)),
            };
            p.push(
                Diagnostic::at(t.location, format!("unknown auth type `{}`", t.value))
                    .with_hint(hint),
            );
            None
        });
        let name = f.required_string("name", p);
        let config = match f.json_object("config", p) {
            Some(c) => Some(c),
            None if f.has("config") => None,
            None => {
                let needs = match kind {
                    Some(AuthKind::Basic) => "`username` and `password`",
                    Some(AuthKind::OAuth2) => "`grant_type` and `grant_config`",
                    Some(AuthKind::PocketBase) => "`base_url`, `email` and `password`",
                    None => "the provider's settings",
                };
                p.push(
                    Diagnostic::at(f.location().clone(), format!("`{path}.config` is required"))
                        .with_hint(format!("add a `config:` mapping with {needs}")),
                );
                None
            }
        };
        if let Some(name) = &name
            && let Some(first) = out.iter().find(|a| a.name.value == name.value)
        {
            p.push(
                Diagnostic::at(
                    name.location.clone(),
                    format!("duplicate auth name `{}`", name.value),
                )
                .with_hint(format!(
                    "`{}` is already defined on line {}; auth names must be unique",
                    name.value, first.name.location.line
                )),
            );
            continue;
        }
        if let (Some(kind), Some(name), Some(config)) = (kind, name, config) {
            out.push(AuthConfig {
                kind,
                name,
                config,
                location: f.location().clone(),
            });
        }
    }
    out
}

// --- store ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum StoreKind {
    Sqlite,
    Postgres,
}

const STORE_KINDS: &[(&str, StoreKind)] = &[
    ("sqlite", StoreKind::Sqlite),
    ("postgres", StoreKind::Postgres),
    ("postgresql", StoreKind::Postgres),
];

fn store(top: &Fields<'_>, dir: &Path, migrate_dir: &Path, p: &mut Problems) -> StoreConfig {
    let default_sqlite = |options: StoreOptions| {
        StoreConfig::Sqlite(SqliteStore {
            path: migrate_dir.join("apirun.db"),
            location: None,
            options,
        })
    };
    let Some(f) = top.fields("store", STORE_KEYS, p) else {
        return default_sqlite(StoreOptions::default());
    };
    // Truly stateless: nothing else in the section matters (unknown keys were still reported).
    if f.bool("disabled", p) == Some(true) {
        return StoreConfig::Disabled;
    }
    if let (Some(_), Some(driver)) = (f.entry("type"), f.entry("driver")) {
        p.push(
            Diagnostic::at(
                driver.key_location.clone(),
                "`store.driver` and `store.type` are both set",
            )
            .with_hint("keep one of them (they mean the same)"),
        );
    }
    let declared = f
        .one_of("type", STORE_KINDS, p)
        .or_else(|| f.one_of("driver", STORE_KINDS, p));
    let kind = declared.unwrap_or(if f.has("postgres") || f.has("dsn") {
        StoreKind::Postgres
    } else {
        StoreKind::Sqlite
    });
    let options = StoreOptions {
        tables: table_names(&f, p),
        save_response_body: f.bool("save_response_body", p).unwrap_or(false),
    };
    let wrong_kind = |key: &str, p: &mut Problems| {
        if let Some(e) = f.entry(key).filter(|e| !e.value.is_null()) {
            let (this, other) = match kind {
                StoreKind::Sqlite => ("sqlite", "postgres"),
                StoreKind::Postgres => ("postgres", "sqlite"),
            };
            p.push(
                Diagnostic::at(
                    e.key_location.clone(),
                    format!("`store.{key}` does not apply to a {this} store"),
                )
                .with_hint(format!("remove it, or set `type: {other}`")),
            );
        }
    };
    match kind {
        StoreKind::Sqlite => {
            wrong_kind("postgres", p);
            wrong_kind("dsn", p);
            let nested = f
                .fields("sqlite", &["path"], p)
                .and_then(|s| s.string("path", p));
            let short = f.string("path", p);
            if let (Some(_), Some(short)) = (&nested, &short) {
                p.push(
                    Diagnostic::at(
                        short.location.clone(),
                        "`store.path` and `store.sqlite.path` are both set",
                    )
                    .with_hint("keep one of them"),
                );
            }
            match nested.or(short).filter(|s| !s.value.trim().is_empty()) {
                Some(path) => {
                    let raw = path.value.trim();
                    let resolved = if raw == ":memory:" {
                        PathBuf::from(raw)
                    } else {
                        super::resolve_path(dir, raw)
                    };
                    StoreConfig::Sqlite(SqliteStore {
                        path: resolved,
                        location: Some(path.location),
                        options,
                    })
                }
                None => default_sqlite(options),
            }
        }
        StoreKind::Postgres => {
            wrong_kind("sqlite", p);
            wrong_kind("path", p);
            // `None` only after a problem was recorded: this value is never returned.
            postgres(&f, options, p).unwrap_or(StoreConfig::Disabled)
        }
    }
}

fn postgres(f: &Fields<'_>, options: StoreOptions, p: &mut Problems) -> Option<StoreConfig> {
    let pg = f.fields("postgres", POSTGRES_KEYS, p);
    let short_dsn = f.string("dsn", p).filter(|d| !d.value.trim().is_empty());
    let nested_dsn = pg
        .as_ref()
        .and_then(|g| g.string("dsn", p))
        .filter(|d| !d.value.trim().is_empty());
    let connection = if let Some(dsn) = nested_dsn.or(short_dsn) {
        PostgresConnection::Dsn(Located::new(dsn.value.trim().to_string(), dsn.location))
    } else {
        let Some(g) = pg.filter(|g| g.has("host")) else {
            p.push(
                Diagnostic::at(
                    f.location().clone(),
                    "a postgres store needs `store.postgres.dsn` or `store.postgres.host`",
                )
                .with_hint(
                    "e.g. `dsn: postgres://user:pass@localhost:5432/apirun?sslmode=disable`",
                ),
            );
            return None;
        };
        let text = |key: &str, default: &str, p: &mut Problems| {
            g.string(key, p)
                .map(|s| s.value.trim().to_string())
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| default.to_string())
        };
        let port = match g.unsigned("port", p) {
            None => 5432,
            Some(port) => u16::try_from(port.value)
                .ok()
                .filter(|v| *v > 0)
                .unwrap_or_else(|| {
                    p.push(
                        Diagnostic::at(
                            port.location,
                            format!("invalid `store.postgres.port`: {}", port.value),
                        )
                        .with_hint("a port is 1 to 65535"),
                    );
                    5432
                }),
        };
        let sslmode = text("sslmode", "disable", p);
        const SSL_MODES: &[&str] = &[
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ];
        if !SSL_MODES.contains(&sslmode.as_str())
            && let Some(e) = g.get("sslmode")
        {
            p.push(
                Diagnostic::at(
                    e.location.clone(),
                    format!("invalid `store.postgres.sslmode`: `{sslmode}`"),
                )
                .with_hint(format!(
                    "valid values: {}",
                    list_names(SSL_MODES.iter().copied())
                )),
            );
        }
        PostgresConnection::Params(PostgresParams {
            host: text("host", "", p),
            port,
            user: text("user", "", p),
            password: g.string("password", p).map(|s| s.value).unwrap_or_default(),
            dbname: text("dbname", "", p),
            sslmode,
        })
    };
    Some(StoreConfig::Postgres(PostgresStore {
        connection,
        location: f.location().clone(),
        options,
    }))
}

fn table_names(f: &Fields<'_>, p: &mut Problems) -> TableNames {
    let non_empty = |s: Located<String>| {
        let t = s.value.trim().to_string();
        (!t.is_empty()).then(|| Located::new(t, s.location))
    };
    let prefix = f.string("table_prefix", p).and_then(non_empty);
    let defaults = TableNames::default();
    let mut pick = |key: &str, default: &str| -> String {
        let chosen = match (f.string(key, p).and_then(non_empty), &prefix) {
            (Some(explicit), _) => Some((explicit.value, explicit.location, key.to_string())),
            (None, Some(prefix)) => Some((
                format!("{}_{default}", prefix.value),
                prefix.location.clone(),
                "table_prefix".to_string(),
            )),
            (None, None) => None,
        };
        match chosen {
            None => default.to_string(),
            Some((name, location, key)) => {
                if !is_table_name(&name) {
                    p.push(
                        Diagnostic::at(location, format!("invalid table name `{name}` (from `store.{key}`)")).with_hint(
                            "use letters, digits and `_`, not starting with a digit, optionally schema-qualified as `schema.table`",
                        ),
                    );
                }
                name
            }
        }
    };
    TableNames {
        schema_migrations: pick("table_schema_migrations", &defaults.schema_migrations),
        migration_runs: pick("table_migration_runs", &defaults.migration_runs),
        stored_env: pick("table_stored_env", &defaults.stored_env),
    }
}

/// A SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`), optionally `schema.table`.
fn is_table_name(name: &str) -> bool {
    let ident = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    match name.split_once('.') {
        Some((schema, table)) => ident(schema) && ident(table),
        None => ident(name),
    }
}

// --- wait ----------------------------------------------------------------------------------

fn wait(f: &Fields<'_>, p: &mut Problems) -> Option<WaitConfig> {
    let url = match f.get("url") {
        Some(n) => yaml::string(n, "wait.url", p)?,
        None => {
            if f.keys().next().is_some() {
                p.push(
                    Diagnostic::at(f.location().clone(), "`wait.url` is required")
                        .with_hint("give the URL to poll, or remove `wait`"),
                );
            }
            return None;
        }
    };
    // A blank URL turns the wait off, as in the Go original.
    if url.value.trim().is_empty() {
        return None;
    }
    let method = f
        .one_of(
            "method",
            &[("get", WaitMethod::Get), ("head", WaitMethod::Head)],
            p,
        )
        .unwrap_or(WaitMethod::Get);
    let status = match f.unsigned("status", p) {
        None => 200,
        Some(s) => match u16::try_from(s.value)
            .ok()
            .filter(|v| (100..=599).contains(v))
        {
            Some(v) => v,
            None => {
                p.push(
                    Diagnostic::at(s.location, format!("invalid `wait.status`: {}", s.value))
                        .with_hint("an HTTP status is 100 to 599"),
                );
                200
            }
        },
    };
    let timeout = f
        .duration("timeout", p)
        .map_or(Duration::from_secs(60), |d| d.value);
    let interval = match f.duration("interval", p) {
        None => Duration::from_secs(2),
        Some(d) if d.value.is_zero() => {
            p.push(
                Diagnostic::at(d.location, "`wait.interval` must be greater than 0")
                    .with_hint("e.g. `2s`"),
            );
            Duration::from_secs(2)
        }
        Some(d) => d.value,
    };
    let headers = f.pairs("headers", p);
    Some(WaitConfig {
        url: Located::new(url.value.trim().to_string(), url.location),
        method,
        status,
        timeout,
        interval,
        headers,
        location: f.location().clone(),
    })
}

// --- client --------------------------------------------------------------------------------

fn client(f: &Fields<'_>, p: &mut Problems) -> ClientConfig {
    let insecure = f.bool("insecure", p).unwrap_or(false);
    let min = tls_version(f, "min_tls_version", "mintlsversion", p);
    let max = tls_version(f, "max_tls_version", "maxtlsversion", p);
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        let at = f
            .get("max_tls_version")
            .or_else(|| f.get("maxtlsversion"))
            .map_or(f.location(), |n| &n.location);
        p.push(Diagnostic::at(
            at.clone(),
            "`client.max_tls_version` is lower than `client.min_tls_version`",
        ));
    }
    ClientConfig {
        insecure,
        min_tls_version: min,
        max_tls_version: max,
    }
}

/// The documented key and the spelling the Go original actually read (`mintlsversion`).
fn tls_version(f: &Fields<'_>, key: &str, go_key: &str, p: &mut Problems) -> Option<TlsVersion> {
    if let (Some(_), Some(go)) = (f.entry(key), f.entry(go_key)) {
        p.push(
            Diagnostic::at(
                go.key_location.clone(),
                format!("`client.{go_key}` and `client.{key}` are both set"),
            )
            .with_hint(format!("keep `{key}`")),
        );
    }
    let (value, path) = match f.string(key, p) {
        Some(v) => (v, f.child(key)),
        None => (f.string(go_key, p)?, f.child(go_key)),
    };
    let word = value.value.trim().to_ascii_lowercase();
    let version = match word.as_str() {
        "" => return None,
        "1.0" | "10" | "tls1.0" | "tls10" => TlsVersion::V1_0,
        "1.1" | "11" | "tls1.1" | "tls11" => TlsVersion::V1_1,
        "1.2" | "12" | "tls1.2" | "tls12" => TlsVersion::V1_2,
        "1.3" | "13" | "tls1.3" | "tls13" => TlsVersion::V1_3,
        _ => {
            p.push(
                Diagnostic::at(
                    value.location,
                    format!("invalid `{path}`: `{}`", value.value),
                )
                .with_hint(
                    "valid values: `1.0`, `1.1`, `1.2`, `1.3` (also written `tls1.2` or `12`)",
                ),
            );
            return None;
        }
    };
    Some(version)
}

// --- logging -------------------------------------------------------------------------------

fn logging(f: &Fields<'_>, p: &mut Problems) -> LoggingConfig {
    let defaults = LoggingConfig::default();
    let level = f
        .one_of(
            "level",
            &[
                ("error", LogLevel::Error),
                ("warn", LogLevel::Warn),
                ("warning", LogLevel::Warn),
                ("info", LogLevel::Info),
                ("debug", LogLevel::Debug),
            ],
            p,
        )
        .unwrap_or(defaults.level);
    let format = f
        .one_of(
            "format",
            &[
                ("text", LogFormat::Text),
                ("json", LogFormat::Json),
                ("color", LogFormat::Color),
                ("colour", LogFormat::Color),
            ],
            p,
        )
        .unwrap_or(defaults.format);
    let color = f.bool("color", p);
    let mask = f.bool("mask_sensitive", p);
    let masking = f.fields("masking", &["enabled"], p).and_then(|m| {
        let enabled = m.bool("enabled", p);
        enabled.map(|e| {
            (
                e,
                m.get("enabled")
                    .map_or(m.location().clone(), |n| n.location.clone()),
            )
        })
    });
    let mask_sensitive = match (mask, masking) {
        (Some(a), Some((b, at))) if a != b => {
            p.push(
                Diagnostic::at(
                    at,
                    "`logging.masking.enabled` contradicts `logging.mask_sensitive`",
                )
                .with_hint("keep one of them"),
            );
            a
        }
        (Some(a), _) => a,
        (None, Some((b, _))) => b,
        (None, None) => defaults.mask_sensitive,
    };
    LoggingConfig {
        level,
        format,
        color,
        mask_sensitive,
    }
}

// --- plugins -------------------------------------------------------------------------------

fn plugins(node: &Node, dir: &Path, p: &mut Problems) -> Vec<PluginConfig> {
    let Some(items) = yaml::seq(node, "plugins", "a list of plugin entries", p) else {
        return Vec::new();
    };
    let mut out: Vec<PluginConfig> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = item_path("plugins", i);
        let Some(f) = Fields::new(
            item,
            &path,
            &["name", "path", "sha256", "allowed_hosts", "limits"],
            p,
        ) else {
            continue;
        };
        let name = f.required_string("name", p).filter(|n| {
            let ok_chars = n
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if !ok_chars {
                p.push(
                    Diagnostic::at(
                        n.location.clone(),
                        format!("invalid plugin name `{}`", n.value),
                    )
                    .with_hint("use letters, digits, `_`, `-` and `.`"),
                );
            } else if n.value == "http" {
                p.push(
                    Diagnostic::at(
                        n.location.clone(),
                        "plugin name `http` is taken by the built-in step type",
                    )
                    .with_hint("choose another name"),
                );
            } else if let Some(first) = out.iter().find(|o| o.name.value == n.value) {
                p.push(
                    Diagnostic::at(
                        n.location.clone(),
                        format!("duplicate plugin name `{}`", n.value),
                    )
                    .with_hint(format!(
                        "`{}` is already defined on line {}",
                        n.value, first.name.location.line
                    )),
                );
            } else {
                return true;
            }
            false
        });
        let file = f.required_string("path", p).and_then(|s| {
            let resolved = super::resolve_path(dir, &s.value);
            if !resolved.is_file() {
                p.push(
                    Diagnostic::at(
                        s.location.clone(),
                        format!("plugin file not found: {}", resolved.display()),
                    )
                    .with_hint(format!(
                        "`path` is relative to the config file's directory ({})",
                        dir.display()
                    )),
                );
                return None;
            }
            Some(Located::new(resolved, s.location))
        });
        let sha256 = f.string("sha256", p).and_then(|s| {
            let hex = s.value.trim().to_ascii_lowercase();
            if hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                Some(Located::new(hex, s.location))
            } else {
                p.push(
                    Diagnostic::at(s.location, format!("invalid `{path}.sha256`")).with_hint(
                        "64 hexadecimal characters, e.g. the output of `sha256sum plugin.wasm`",
                    ),
                );
                None
            }
        });
        let allowed_hosts = f
            .string_list("allowed_hosts", false, p)
            .unwrap_or_default()
            .into_iter()
            .filter(|h| match check_host_rule(h) {
                Some(d) => {
                    p.push(d);
                    false
                }
                None => true,
            })
            .collect();
        let limits = f
            .fields("limits", &["memory", "fuel", "timeout"], p)
            .map(|l| plugin_limits(&l, p))
            .unwrap_or_default();
        if let (Some(name), Some(file)) = (name, file) {
            out.push(PluginConfig {
                name,
                path: file,
                sha256,
                allowed_hosts,
                limits,
                location: f.location().clone(),
            });
        }
    }
    out
}

fn plugin_limits(f: &Fields<'_>, p: &mut Problems) -> PluginLimits {
    let memory_bytes = f
        .string("memory", p)
        .and_then(|m| match parse_byte_size(&m.value) {
            Ok(0) | Err(_) => {
                let reason = parse_byte_size(&m.value)
                    .err()
                    .unwrap_or_else(|| "it is zero".to_string());
                p.push(
                    Diagnostic::at(
                        m.location,
                        format!("invalid `{}`: {reason}", f.child("memory")),
                    )
                    .with_hint("a size such as `64MiB`, `512KiB` or a number of bytes"),
                );
                None
            }
            Ok(v) => Some(v),
        });
    let fuel = f.unsigned("fuel", p).and_then(|v| {
        if v.value == 0 {
            p.push(Diagnostic::at(
                v.location,
                format!("`{}` must be greater than 0", f.child("fuel")),
            ));
            return None;
        }
        Some(v.value)
    });
    let timeout = f.duration("timeout", p).and_then(|d| {
        if d.value.is_zero() {
            p.push(Diagnostic::at(
                d.location,
                format!("`{}` must be greater than 0", f.child("timeout")),
            ));
            return None;
        }
        Some(d.value)
    });
    PluginLimits {
        memory_bytes,
        fuel,
        timeout,
    }
}
