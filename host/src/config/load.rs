//! Reading config.yaml into [`Config`]: every key of the Go original's format, strict about
//! unknown keys and bad values, resolving relative paths against the config file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::bridge::check_host_rule;
use super::duration::parse_byte_size;
use super::error::LoadError;
use super::model::*;
use super::schema::{Key, Section, Shape};
use super::yaml::{self, Fields, Node, NodeKind, Problems, item_path, list_names, type_error};
use crate::report::{Diagnostic, Located, Location, did_you_mean};

/// config.yaml, the top level.
pub(crate) static CONFIG: Section = Section {
    name: "config",
    doc: "An apirun project: where its migrations are, their variables, credentials, state store and HTTP settings.",
    keys: &[
        Key::new(
            "migrate_dir",
            Shape::Text,
            "Folder of the migration files, relative to this file (default: this file's folder).",
        ),
        Key::new(
            "env",
            Shape::AnyOf(&[Shape::List(&ENV_VAR_SHAPE), Shape::Vars]),
            "Variables for every migration (lowest precedence): a list of `{name, value}` or `{name, valueFromEnv}`, or a mapping of names to values.",
        ),
        Key::new(
            "auth",
            Shape::List(&AUTH_SHAPE),
            "Credentials the host acquires and injects: `{type, name, config}` entries.",
        ),
        Key::new(
            "store",
            Shape::Section(&STORE),
            "Where applied versions and extracted values are recorded (default: SQLite at <migrate_dir>/apirun.db).",
        ),
        Key::new(
            "wait",
            Shape::Section(&WAIT),
            "Poll a URL until the API answers before running anything.",
        ),
        Key::new(
            "client",
            Shape::Section(&CLIENT),
            "TLS settings for every request apirun sends.",
        ),
        Key::new(
            "logging",
            Shape::Section(&LOGGING),
            "Log level, format and masking.",
        ),
        Key::new(
            "render_body",
            Shape::Bool,
            "Render request bodies as templates (default true); a step's `render_body` wins.",
        ),
        Key::new(
            "delay_between_migrations",
            Shape::Duration,
            "Pause between migrations (default: none).",
        ),
        Key::new(
            "plugins",
            Shape::List(&PLUGIN_SHAPE),
            "Custom step types: WebAssembly components with their own host allowlist and limits.",
        ),
        Key::new(
            "allowed_hosts",
            Shape::Texts { one_allowed: false },
            "Hosts every request may reach (`host`, `host:port`, `*.example.com`, `https://host`); absent: any host for the built-in http step.",
        ),
    ],
};

static ENV_VAR_SHAPE: Shape = Shape::Section(&ENV_VAR);
static ENV_VAR: Section = Section {
    name: "env_var",
    doc: "A variable: a literal `value`, or `valueFromEnv` read from the environment when the config loads.",
    keys: &[
        Key::required("name", Shape::Text, "The variable's name (`{{.name}}`)."),
        Key::new(
            "value",
            Shape::Text,
            "Its value (wins over `valueFromEnv` when not empty).",
        ),
        Key::new(
            "valueFromEnv",
            Shape::Text,
            "The environment variable to read the value from; unset is an error.",
        ),
    ],
};

static AUTH_SHAPE: Shape = Shape::Section(&AUTH);
static AUTH: Section = Section {
    name: "auth",
    doc: "A credential: acquired on first use, available as `{{.auth.NAME}}` and injected by `auth_name`.",
    keys: &[
        Key::required(
            "type",
            Shape::Word(AUTH_KIND_NAMES),
            "The provider: basic (`username`, `password`), oauth2 (`grant_type`, `grant_config`), pocketbase (`base_url`, `email`, `password`).",
        ),
        Key::required(
            "name",
            Shape::Text,
            "The name steps use (`auth_name`, `{{.auth.NAME}}`); unique.",
        ),
        Key::required(
            "config",
            Shape::Object,
            "The provider's settings; strings are templates over the config's `env`.",
        ),
    ],
};

/// The words of `store.type` / `store.driver`.
const STORE_KIND_NAMES: &[&str] = &["sqlite", "postgres", "postgresql"];

static STORE: Section = Section {
    name: "store",
    doc: "The state store: SQLite (default), PostgreSQL, or disabled.",
    keys: &[
        Key::new(
            "type",
            Shape::Word(STORE_KIND_NAMES),
            "sqlite (default), postgres or postgresql.",
        ),
        Key::new(
            "driver",
            Shape::Word(STORE_KIND_NAMES),
            "The same as `type` (short form).",
        ),
        Key::new(
            "disabled",
            Shape::Bool,
            "Keep no state at all: nothing is written and every run applies everything.",
        ),
        Key::new("sqlite", Shape::Section(&SQLITE), "SQLite settings."),
        Key::new(
            "postgres",
            Shape::Section(&POSTGRES),
            "PostgreSQL settings.",
        ),
        Key::new(
            "path",
            Shape::Text,
            "The SQLite file, relative to this file (short form).",
        ),
        Key::new(
            "dsn",
            Shape::Text,
            "The PostgreSQL connection string (short form).",
        ),
        Key::new(
            "save_response_body",
            Shape::Bool,
            "Keep the last response body of each run in `migration_runs.body`.",
        ),
        Key::new(
            "table_prefix",
            Shape::Text,
            "Prefix of the three table names (`p` → `p_schema_migrations`, …).",
        ),
        Key::new(
            "table_schema_migrations",
            Shape::Text,
            "Name of the applied-versions table.",
        ),
        Key::new(
            "table_migration_runs",
            Shape::Text,
            "Name of the run-history table.",
        ),
        Key::new(
            "table_stored_env",
            Shape::Text,
            "Name of the extracted-values table.",
        ),
    ],
};

static SQLITE: Section = Section {
    name: "sqlite",
    doc: "SQLite store settings.",
    keys: &[Key::new(
        "path",
        Shape::Text,
        "The database file, relative to this file (default: <migrate_dir>/apirun.db); `:memory:` keeps nothing.",
    )],
};

/// The words of `store.postgres.sslmode`.
const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

static POSTGRES: Section = Section {
    name: "postgres",
    doc: "PostgreSQL store settings: a `dsn`, or `host` and the other parameters.",
    keys: &[
        Key::new(
            "dsn",
            Shape::Text,
            "A connection string: `postgres://user:pass@host:5432/db?sslmode=disable`.",
        ),
        Key::new("host", Shape::Text, "The server's host."),
        Key::new("port", Shape::Count, "The server's port (default 5432)."),
        Key::new("user", Shape::Text, "The role to connect as."),
        Key::new(
            "password",
            Shape::Text,
            "Its password (masked in all output).",
        ),
        Key::new("dbname", Shape::Text, "The database."),
        Key::new(
            "sslmode",
            Shape::Word(SSL_MODES),
            "TLS mode (default disable).",
        ),
    ],
};

static WAIT: Section = Section {
    name: "wait",
    doc: "Poll `url` until it answers with `status`, before `up` and `down` run (and for `apirun wait`).",
    keys: &[
        Key::new(
            "url",
            Shape::Text,
            "The URL to poll (a template); blank turns the wait off.",
        ),
        Key::new(
            "method",
            Shape::Word(&["get", "head"]),
            "GET (default) or HEAD.",
        ),
        Key::new(
            "status",
            Shape::Count,
            "The status that means ready (default 200).",
        ),
        Key::new(
            "timeout",
            Shape::Duration,
            "How long to keep trying (default 60s).",
        ),
        Key::new(
            "interval",
            Shape::Duration,
            "The pause between tries (default 2s).",
        ),
        Key::new(
            "headers",
            Shape::Pairs,
            "Headers to send: `{name, value}` entries, templated.",
        ),
    ],
};

/// How `client.*_tls_version` may be written.
const TLS_VERSIONS: &[&str] = &[
    "1.2", "1.3", "1.0", "1.1", "tls1.2", "tls1.3", "tls1.0", "tls1.1", "12", "13", "10", "11",
    "tls12", "tls13", "tls10", "tls11",
];

static CLIENT: Section = Section {
    name: "client",
    doc: "TLS settings for every request apirun sends: steps, auth and wait.",
    keys: &[
        Key::new("insecure", Shape::Bool, "Accept any TLS certificate."),
        Key::new(
            "min_tls_version",
            Shape::Word(TLS_VERSIONS),
            "The lowest TLS version to accept.",
        ),
        Key::new(
            "max_tls_version",
            Shape::Word(TLS_VERSIONS),
            "The highest TLS version to offer.",
        ),
        Key::new(
            "mintlsversion",
            Shape::Word(TLS_VERSIONS),
            "The Go original's spelling of `min_tls_version`.",
        ),
        Key::new(
            "maxtlsversion",
            Shape::Word(TLS_VERSIONS),
            "The Go original's spelling of `max_tls_version`.",
        ),
    ],
};

static LOGGING: Section = Section {
    name: "logging",
    doc: "Logs on stderr.",
    keys: &[
        Key::new(
            "level",
            Shape::Word(&["error", "warn", "warning", "info", "debug"]),
            "The least severe level logged (default info); `-v`, `--quiet` and APIRUN_LOG win.",
        ),
        Key::new(
            "format",
            Shape::Word(&["text", "json", "color", "colour"]),
            "text (default), json, or color (colour on a terminal only).",
        ),
        Key::new(
            "color",
            Shape::Bool,
            "Colour on a terminal (never with NO_COLOR).",
        ),
        Key::new(
            "mask_sensitive",
            Shape::Bool,
            "Mask secrets in everything printed (default true).",
        ),
        Key::new(
            "masking",
            Shape::Section(&MASKING),
            "The same as `mask_sensitive`, nested.",
        ),
    ],
};

static MASKING: Section = Section {
    name: "masking",
    doc: "Secret masking.",
    keys: &[Key::new(
        "enabled",
        Shape::Bool,
        "Mask secrets (default true).",
    )],
};

static PLUGIN_SHAPE: Shape = Shape::Section(&PLUGIN);
static PLUGIN: Section = Section {
    name: "plugin",
    doc: "A custom step type: a WebAssembly component, deny-by-default.",
    keys: &[
        Key::required(
            "name",
            Shape::Text,
            "The step type migrations name with `type:`.",
        ),
        Key::required(
            "path",
            Shape::Text,
            "The component file, relative to this file.",
        ),
        Key::new(
            "sha256",
            Shape::Text,
            "Pin the file's SHA-256 (64 hex digits).",
        ),
        Key::new(
            "allowed_hosts",
            Shape::Texts { one_allowed: false },
            "The hosts this plugin may reach (none when absent).",
        ),
        Key::new("limits", Shape::Section(&LIMITS), "Per-call limits."),
    ],
};

static LIMITS: Section = Section {
    name: "limits",
    doc: "Limits on each call of a plugin.",
    keys: &[
        Key::new("memory", Shape::Size, "Memory (default 64MiB)."),
        Key::new(
            "fuel",
            Shape::Count,
            "CPU fuel, about one unit per instruction.",
        ),
        Key::new("timeout", Shape::Duration, "Wall-clock time per call."),
    ],
};

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
    let Some(f) = Fields::new(&root, "", &CONFIG, &mut p) else {
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
        .fields("wait", &WAIT, &mut p)
        .and_then(|w| wait(&w, &mut p));
    let client = f
        .fields("client", &CLIENT, &mut p)
        .map(|c| client(&c, &mut p))
        .unwrap_or_default();
    let logging = f
        .fields("logging", &LOGGING, &mut p)
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
                let Some(f) = Fields::new(item, &path, &ENV_VAR, p) else {
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

/// The words of `auth[].type`, in the order of [`AUTH_KINDS`].
const AUTH_KIND_NAMES: &[&str] = &["basic", "oauth2", "pocketbase"];

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
        let Some(f) = Fields::new(item, &path, &AUTH, p) else {
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
    let Some(f) = top.fields("store", &STORE, p) else {
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
                .fields("sqlite", &SQLITE, p)
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
    let pg = f.fields("postgres", &POSTGRES, p);
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
    let masking = f.fields("masking", &MASKING, p).and_then(|m| {
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
        let Some(f) = Fields::new(item, &path, &PLUGIN, p) else {
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
            .fields("limits", &LIMITS, p)
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

#[cfg(test)]
mod key_table_tests {
    use super::*;

    #[test]
    fn auth_type_words_are_the_kinds_the_loader_knows() {
        let known: Vec<&str> = AUTH_KINDS.iter().map(|(n, _)| *n).collect();
        assert_eq!(AUTH_KIND_NAMES, known.as_slice());
    }

    #[test]
    fn every_tls_version_word_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        for w in TLS_VERSIONS {
            std::fs::write(&path, format!("client:\n  min_tls_version: \"{w}\"\n")).expect("write");
            assert!(
                load_with_env(&path, &|_| None).is_ok(),
                "min_tls_version {w}"
            );
        }
    }
}
