//! The PostgreSQL store: the SQLite store's tables and columns in a database that several
//! people or CI runners share.
//!
//! Layout: the Go original's PostgreSQL tables (`failed BOOLEAN`, `ran_at TIMESTAMPTZ`), plus
//! the columns apirun added (`applied_at`, `state`, ...), with `BIGINT` versions so timestamp
//! versions (`20260101120000`) fit. Tables the Go original created are upgraded in place: the
//! missing columns are added and `INTEGER` versions widened. apirun's own bookkeeping tables
//! (`apirun_store_meta` with the store's schema version, `apirun_stage_runs`) sit beside
//! `schema_migrations`, in its schema and with its prefix, so two projects sharing a database
//! never share them.
//!
//! DDL runs only for what is missing, so a role that may only read and write tables an owner
//! created ahead works; concurrent first opens are serialized by a transaction-scoped advisory
//! lock. Times are the database server's clock (`now()`), read back in the SQLite store's text
//! format (`2026-12-04T17:10:26.123Z`).
//!
//! The run lock ([`PgRunLock`]) is a session advisory lock held on a connection of its own: the
//! server releases it when that connection closes, however the process ends.
//!
//! Connection: a DSN (`postgres://…` URL or libpq `key=value` words, possibly a template rendered
//! from config `env`) or host/port/user/password/dbname/sslmode. TLS follows libpq's `sslmode`:
//! `disable` is plain TCP; `allow`/`prefer` (the default for a DSN) use TLS when the server
//! offers it; `require` insists on it; both encrypt without checking the certificate, as libpq
//! does. `verify-ca` checks the chain, `verify-full` the chain and the host name, against
//! `sslrootcert` (a PEM file), else `~/.postgresql/root.crt`, else Mozilla's roots. TLS is
//! rustls: no OpenSSL. The password is registered with the masker and never part of a message.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ::postgres::config::{Host, SslMode};
use ::postgres::error::SqlState;
use ::postgres::types::ToSql;
use ::postgres::{Client, GenericClient, NoTls, Row};
use sha2::{Digest, Sha256};

use super::{
    Applied, Direction, LockHolder, Outcome, RunRecord, RunStart, RunState, StageRun, StateError,
    Store, TableNames, quote_table, validate_table_name,
};
use crate::config::{PostgresConnection, PostgresParams};
use crate::report::mask;
use crate::template::{Renderer, Vars, is_template};

/// Version of the tables' layout written by this apirun (kept in `apirun_store_meta`).
pub const SCHEMA_VERSION: i64 = 1;

/// First half of every advisory lock key apirun takes ("apir"), so its locks are recognisable
/// in `pg_locks.classid`.
pub const LOCK_CLASS: i32 = 0x6170_6972;

/// Second half of the advisory lock that serializes creating and upgrading tables.
const INIT_LOCK: i32 = 0;

/// How long a connection attempt may take when the DSN does not say (`connect_timeout`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest `application_name` PostgreSQL keeps (NAMEDATALEN - 1).
const APPLICATION_NAME_MAX: usize = 63;

/// What went wrong with a PostgreSQL store, for callers that react differently to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PgErrorKind {
    /// The DSN or connection settings are wrong (template, syntax, sslmode, certificate file).
    Config,
    /// No connection: refused, unknown host, timeout, TLS handshake, or lost mid-run.
    Unreachable,
    /// The server refused the login: wrong user or password, unknown database, no CONNECT.
    Authentication,
    /// Connected, but the role may not create or use the store's tables.
    Permission,
    /// The tables were written by a newer apirun.
    Schema,
    /// Any other statement failure.
    Query,
}

/// libpq's `sslmode`, which apirun accepts in full (the client library knows only three).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    Disable,
    /// TLS when the server offers it (treated as `prefer`).
    Allow,
    /// TLS when the server offers it; the certificate is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate that chains to a trusted root.
    VerifyCa,
    /// TLS with a trusted certificate that names the host.
    VerifyFull,
}

impl TlsMode {
    fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    /// What the client library does: `allow` is treated as `prefer` (TLS when offered).
    fn client_mode(self) -> SslMode {
        match self {
            Self::Disable => SslMode::Disable,
            Self::Allow | Self::Prefer => SslMode::Prefer,
            Self::Require | Self::VerifyCa | Self::VerifyFull => SslMode::Require,
        }
    }
}

/// Where a PostgreSQL store lives and how to reach it: parsed, rendered and validated, with a
/// description that never contains the password.
#[derive(Clone)]
pub struct PgTarget {
    config: ::postgres::Config,
    tls: TlsMode,
    root_cert: Option<PathBuf>,
    /// `postgres://user@host:port/dbname`, for messages.
    display: String,
    /// `host:port` (comma-separated when several), for messages.
    server: String,
    dbname: String,
    user: String,
}

impl fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTarget")
            .field("display", &self.display)
            .field("tls", &self.tls)
            .finish()
    }
}

impl fmt::Display for PgTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

impl PgTarget {
    /// The target a config's `store.postgres` names. Templates (`{{.database_url}}`) in the DSN
    /// or in the separate settings are rendered against the config's `env`.
    pub fn from_config(
        store: &crate::config::PostgresStore,
        env: &[(String, String)],
    ) -> Result<Self, StateError> {
        let vars: Vars = env.iter().cloned().collect();
        let renderer = Renderer::new();
        let render = |what: &str, value: &str, at: String| -> Result<String, StateError> {
            if !is_template(value) {
                return Ok(value.to_string());
            }
            renderer
                .render(value, &vars)
                .map_err(|e| StateError::Postgres {
                    store: at,
                    kind: PgErrorKind::Config,
                    message: format!("cannot render `store.postgres.{what}`: {e}"),
                })
        };
        match &store.connection {
            PostgresConnection::Dsn(dsn) => {
                let at = dsn.location.to_string();
                let rendered = render("dsn", &dsn.value, at.clone())?;
                Self::parse(&rendered).map_err(|message| StateError::Postgres {
                    store: at,
                    kind: PgErrorKind::Config,
                    message,
                })
            }
            PostgresConnection::Params(p) => {
                let at = store.location.to_string();
                let rendered = PostgresParams {
                    host: render("host", &p.host, at.clone())?,
                    port: p.port,
                    user: render("user", &p.user, at.clone())?,
                    password: render("password", &p.password, at.clone())?,
                    dbname: render("dbname", &p.dbname, at.clone())?,
                    sslmode: p.sslmode.clone(),
                };
                Self::from_params(&rendered).map_err(|message| StateError::Postgres {
                    store: at,
                    kind: PgErrorKind::Config,
                    message,
                })
            }
        }
    }

    /// Parse a DSN: a `postgres://` / `postgresql://` URL or libpq `key=value` words.
    /// `sslmode` takes all of libpq's values; `sslrootcert` names a PEM file of trusted roots;
    /// the Go original's pgxpool settings (`pool_max_conns`, ...) are accepted and ignored.
    pub fn parse(dsn: &str) -> Result<Self, String> {
        let dsn = dsn.trim();
        if dsn.is_empty() {
            return Err("the DSN is empty".into());
        }
        let split = split_dsn(dsn)?;
        let config = ::postgres::Config::from_str(&split.rest).map_err(|e| {
            let cause = std::error::Error::source(&e)
                .map(|c| format!(": {c}"))
                .unwrap_or_default();
            format!("invalid DSN: {e}{cause}")
        })?;
        let tls = match split.sslmode.as_deref() {
            None => TlsMode::Prefer,
            Some(m) => TlsMode::parse(m).ok_or_else(|| {
                format!(
                    "invalid sslmode `{m}` in the DSN: use disable, allow, prefer, require, verify-ca or verify-full"
                )
            })?,
        };
        Self::finish(config, tls, split.sslrootcert.map(PathBuf::from))
    }

    /// The target of `postgres: {host, port, user, password, dbname, sslmode}`.
    pub fn from_params(p: &PostgresParams) -> Result<Self, String> {
        let mut config = ::postgres::Config::new();
        if !p.host.trim().is_empty() {
            config.host(p.host.trim());
        }
        config.port(p.port);
        if !p.user.is_empty() {
            config.user(&p.user);
        }
        if !p.password.is_empty() {
            config.password(&p.password);
        }
        if !p.dbname.is_empty() {
            config.dbname(&p.dbname);
        }
        let tls = TlsMode::parse(&p.sslmode)
            .ok_or_else(|| format!("invalid `store.postgres.sslmode`: `{}`", p.sslmode))?;
        Self::finish(config, tls, None)
    }

    fn finish(
        mut config: ::postgres::Config,
        tls: TlsMode,
        root_cert: Option<PathBuf>,
    ) -> Result<Self, String> {
        if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
            config.host("localhost");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("apirun");
        }
        config.ssl_mode(tls.client_mode());
        if let Some(password) = config.get_password() {
            mask::register_secret(&String::from_utf8_lossy(password));
        }
        let hosts: Vec<String> = if config.get_hosts().is_empty() {
            config
                .get_hostaddrs()
                .iter()
                .map(|a| a.to_string())
                .collect()
        } else {
            config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    Host::Tcp(name) => name.clone(),
                    #[cfg(unix)]
                    Host::Unix(path) => path.display().to_string(),
                })
                .collect()
        };
        let ports = config.get_ports();
        let server = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let port = ports
                    .get(i)
                    .or_else(|| ports.first())
                    .copied()
                    .unwrap_or(5432);
                format!("{h}:{port}")
            })
            .collect::<Vec<_>>()
            .join(",");
        let user = config.get_user().unwrap_or_default().to_string();
        let dbname = config
            .get_dbname()
            .map(str::to_string)
            .unwrap_or_else(|| user.clone());
        let at = if user.is_empty() {
            String::new()
        } else {
            format!("{user}@")
        };
        Ok(Self {
            display: format!("postgres://{at}{server}/{dbname}"),
            config,
            tls,
            root_cert,
            server,
            dbname,
            user,
        })
    }

    /// `host:port` of the server(s), for messages.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The database name (libpq's default, the user name, when the DSN gives none).
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// The TLS mode in force.
    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// The role name from the DSN (empty when it leaves it to the client's default).
    pub fn user(&self) -> &str {
        &self.user
    }

    fn role(&self) -> &str {
        if self.user.is_empty() {
            "(default)"
        } else {
            &self.user
        }
    }

    /// Open a connection; `application_name` is what `pg_stat_activity` shows for it.
    pub fn connect(&self, application_name: Option<&str>) -> Result<Client, StateError> {
        let mut config = self.config.clone();
        if let Some(name) = application_name {
            config.application_name(&truncate(name, APPLICATION_NAME_MAX));
        }
        let result = match self.tls {
            TlsMode::Disable => config.connect(NoTls),
            mode => config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(
                tls::client_config(mode, self.root_cert.as_deref()).map_err(|message| {
                    self.error(PgErrorKind::Config, format!("TLS settings: {message}"))
                })?,
            )),
        };
        result.map_err(|e| self.connect_error(&e))
    }

    fn error(&self, kind: PgErrorKind, message: String) -> StateError {
        StateError::Postgres {
            store: self.display.clone(),
            kind,
            message,
        }
    }

    fn connect_error(&self, e: &::postgres::Error) -> StateError {
        let (server, db, role) = (&self.server, &self.dbname, self.role());
        if let Some(dbe) = e.as_db_error() {
            let code = dbe.code();
            let msg = dbe.message();
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            {
                return self.error(
                    PgErrorKind::Authentication,
                    format!(
                        "PostgreSQL at {server} refused the login of role `{role}` to database `{db}`: {msg}; \
                         check the user and password of `store.postgres`"
                    ),
                );
            }
            if *code == SqlState::INVALID_CATALOG_NAME {
                return self.error(
                    PgErrorKind::Authentication,
                    format!(
                        "PostgreSQL at {server} has no database `{db}`: {msg}; create it \
                         (`CREATE DATABASE {db}`) or fix `dbname`"
                    ),
                );
            }
            if *code == SqlState::INSUFFICIENT_PRIVILEGE {
                return self.error(
                    PgErrorKind::Authentication,
                    format!(
                        "PostgreSQL at {server} does not let role `{role}` connect to database `{db}`: {msg}; \
                         grant it CONNECT on the database"
                    ),
                );
            }
            return self.error(
                PgErrorKind::Unreachable,
                format!("cannot connect to PostgreSQL at {server} (database `{db}`): {msg}"),
            );
        }
        let text = error_chain(e);
        if text.contains("password missing") {
            return self.error(
                PgErrorKind::Authentication,
                format!(
                    "PostgreSQL at {server} asks role `{role}` for a password for database `{db}` and none is configured; \
                     set the password in the DSN or `store.postgres.password`"
                ),
            );
        }
        self.error(
            PgErrorKind::Unreachable,
            format!(
                "cannot connect to PostgreSQL at {server} (database `{db}`): {text}; check that the server is \
                 running and reachable and that the host, port and sslmode are right"
            ),
        )
    }

    /// A failed statement on an open connection, described by what apirun was `doing`.
    fn query_error(&self, e: &::postgres::Error, doing: &str) -> StateError {
        let (server, db, role) = (&self.server, &self.dbname, self.role());
        match e.as_db_error() {
            Some(dbe) if *dbe.code() == SqlState::INSUFFICIENT_PRIVILEGE => self.error(
                PgErrorKind::Permission,
                format!(
                    "role `{role}` may not {doing} in database `{db}` at {server}: {}; {}",
                    dbe.message(),
                    if doing.starts_with("create") || doing.starts_with("upgrade") {
                        format!(
                            "grant it CREATE on the schema (`GRANT CREATE ON SCHEMA <schema> TO {role}`), \
                             or let the tables' owner create or upgrade them first; see docs/postgres.md"
                        )
                    } else {
                        format!(
                            "grant it SELECT, INSERT, UPDATE and DELETE on the store's tables and USAGE on \
                             their sequences (`GRANT ... TO {role}`); see docs/postgres.md"
                        )
                    }
                ),
            ),
            Some(dbe) => self.error(
                PgErrorKind::Query,
                format!(
                    "cannot {doing} in database `{db}` at {server}: {}{}",
                    dbe.message(),
                    dbe.detail().map(|d| format!(" ({d})")).unwrap_or_default()
                ),
            ),
            None if !lost_connection(e) => self.error(
                PgErrorKind::Query,
                format!(
                    "cannot {doing} in database `{db}` at {server}: {}",
                    error_chain(e)
                ),
            ),
            None => self.error(
                PgErrorKind::Unreachable,
                format!(
                    "lost the connection to PostgreSQL at {server} (database `{db}`) while trying to {doing}: {}",
                    error_chain(e)
                ),
            ),
        }
    }
}

/// Whether a failed statement failed because the connection is gone.
fn lost_connection(e: &::postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// An error and its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

fn truncate(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// A DSN without the settings apirun handles itself.
#[derive(Debug, Default, PartialEq, Eq)]
struct SplitDsn {
    rest: String,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
}

/// Settings taken out of the DSN before the client library parses it: it knows only three
/// sslmodes, no `sslrootcert`, and rejects pgxpool's settings.
fn split_dsn(dsn: &str) -> Result<SplitDsn, String> {
    let mut out = SplitDsn::default();
    let lower = dsn.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        let (base, query) = match dsn.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (dsn, None),
        };
        let mut kept = Vec::new();
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "sslmode" => out.sslmode = Some(percent_decode(v)),
                "sslrootcert" => out.sslrootcert = Some(percent_decode(v)),
                k if k.starts_with("pool_") => {}
                _ => kept.push(pair),
            }
        }
        out.rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        return Ok(out);
    }
    let mut kept = Vec::new();
    for (k, v) in parse_key_values(dsn)? {
        match k.as_str() {
            "sslmode" => out.sslmode = Some(v),
            "sslrootcert" => out.sslrootcert = Some(v),
            k if k.starts_with("pool_") => {}
            _ => kept.push(format!(
                "{k}='{}'",
                v.replace('\\', "\\\\").replace('\'', "\\'")
            )),
        }
    }
    out.rest = kept.join(" ");
    Ok(out)
}

/// libpq `key=value` words; values may be single-quoted, with `\` escapes.
fn parse_key_values(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(out);
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(format!(
                "invalid DSN: expected `=` after `{key}` (write `postgres://…` or `key=value` words)"
            ));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("invalid DSN: unterminated quote in `{key}`")),
                    Some('\'') => break,
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        out.push((key, value));
    }
}

fn percent_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            out.push((hi * 16 + lo) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// rustls client configurations for libpq's TLS modes.
mod tls {
    use std::path::Path;
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{
        CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    };

    use super::TlsMode;

    pub(super) fn client_config(
        mode: TlsMode,
        root_cert: Option<&Path>,
    ) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier: Arc<dyn ServerCertVerifier> = match mode {
            TlsMode::Disable | TlsMode::Allow | TlsMode::Prefer | TlsMode::Require => {
                Arc::new(EncryptOnly(provider.clone()))
            }
            TlsMode::VerifyCa | TlsMode::VerifyFull => {
                let roots = Arc::new(roots(root_cert)?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                    .build()
                    .map_err(|e| format!("cannot build the certificate verifier: {e}"))?;
                if mode == TlsMode::VerifyCa {
                    Arc::new(ChainOnly(webpki))
                } else {
                    webpki
                }
            }
        };
        Ok(ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth())
    }

    /// `sslrootcert`, else libpq's `~/.postgresql/root.crt`, else Mozilla's roots.
    fn roots(root_cert: Option<&Path>) -> Result<RootCertStore, String> {
        let home_file = std::env::var_os("HOME")
            .map(|h| Path::new(&h).join(".postgresql/root.crt"))
            .filter(|p| p.is_file());
        let file = match root_cert {
            Some(p) if p.as_os_str() == "system" => None,
            Some(p) => Some(p.to_path_buf()),
            None => home_file,
        };
        let Some(file) = file else {
            return Ok(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            });
        };
        let pem = std::fs::read(&file)
            .map_err(|e| format!("cannot read sslrootcert {}: {e}", file.display()))?;
        let mut store = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", file.display()))?;
            store
                .add(cert)
                .map_err(|e| format!("sslrootcert {}: {e}", file.display()))?;
        }
        if store.is_empty() {
            return Err(format!(
                "sslrootcert {} holds no PEM certificate",
                file.display()
            ));
        }
        Ok(store)
    }

    /// `prefer`/`require`: encrypted, certificate not checked (libpq's meaning of these modes).
    #[derive(Debug)]
    struct EncryptOnly(Arc<CryptoProvider>);

    impl ServerCertVerifier for EncryptOnly {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }

    /// `verify-ca`: the chain must lead to a trusted root; the name is not checked.
    #[derive(Debug)]
    struct ChainOnly(Arc<WebPkiServerVerifier>);

    impl ServerCertVerifier for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            match self.0.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ) {
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                    | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls12_signature(message, cert, dss)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            self.0.verify_tls13_signature(message, cert, dss)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.supported_verify_schemes()
        }
    }
}

/// The store's tables, validated and quoted.
#[derive(Debug, Clone)]
struct Tables {
    migrations: String,
    runs: String,
    env: String,
    meta: String,
    stage_runs: String,
    /// The schema named in `schema_migrations`, if qualified.
    schema: Option<String>,
}

impl Tables {
    fn new(tables: &TableNames) -> Result<Self, StateError> {
        for name in [
            &tables.schema_migrations,
            &tables.migration_runs,
            &tables.stored_env,
        ] {
            validate_table_name(name)?;
        }
        let (schema, bare) = match tables.schema_migrations.split_once('.') {
            Some((s, t)) => (Some(s.to_string()), t),
            None => (None, tables.schema_migrations.as_str()),
        };
        let prefix = match bare.strip_suffix("schema_migrations") {
            Some(p) => p.to_string(),
            None => format!("{bare}_"),
        };
        let aux = |name: &str| {
            let full = match &schema {
                Some(s) => format!("{s}.{prefix}{name}"),
                None => format!("{prefix}{name}"),
            };
            quote_table(&full)
        };
        Ok(Self {
            migrations: quote_table(&tables.schema_migrations),
            runs: quote_table(&tables.migration_runs),
            env: quote_table(&tables.stored_env),
            meta: aux("apirun_store_meta"),
            stage_runs: aux("apirun_stage_runs"),
            schema,
        })
    }

    /// Every schema a table is qualified with.
    fn schemas(&self) -> Vec<String> {
        let mut out: Vec<String> = [&self.migrations, &self.runs, &self.env]
            .iter()
            .filter_map(|q| {
                q.split_once("\".\"")
                    .map(|(s, _)| s.trim_matches('"').to_string())
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    fn all(&self) -> [&str; 5] {
        [
            &self.meta,
            &self.migrations,
            &self.runs,
            &self.env,
            &self.stage_runs,
        ]
    }
}

/// `to_char` of a timestamp column in the SQLite store's text format, UTC.
fn ts(column: &str) -> String {
    format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A PostgreSQL state store.
pub struct PostgresStore {
    target: PgTarget,
    client: Mutex<Client>,
    t: Tables,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("target", &self.target)
            .finish()
    }
}

impl PostgresStore {
    /// Connect, and create or upgrade the tables if needed.
    pub fn open(target: &PgTarget, tables: &TableNames) -> Result<Self, StateError> {
        let t = Tables::new(tables)?;
        let client = target.connect(None)?;
        let store = Self {
            target: target.clone(),
            client: Mutex::new(client),
            t,
        };
        store.ensure_schema()?;
        Ok(store)
    }

    fn version_param(&self, version: u64) -> Result<i64, StateError> {
        i64::try_from(version).map_err(|_| {
            self.target.error(
                PgErrorKind::Query,
                format!("version {version} is too large for a BIGINT column"),
            )
        })
    }

    /// The connection, reopened if the server closed it since the last statement.
    fn client(&self) -> Result<MutexGuard<'_, Client>, StateError> {
        let mut guard = self.client.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_closed() {
            *guard = self.target.connect(None)?;
        }
        Ok(guard)
    }

    fn query(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        doing: &str,
    ) -> Result<Vec<Row>, StateError> {
        self.client()?
            .query(sql, params)
            .map_err(|e| self.target.query_error(&e, doing))
    }

    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        doing: &str,
    ) -> Result<u64, StateError> {
        self.client()?
            .execute(sql, params)
            .map_err(|e| self.target.query_error(&e, doing))
    }

    fn get<'a, T: ::postgres::types::FromSql<'a>>(
        &self,
        row: &'a Row,
        idx: usize,
    ) -> Result<T, StateError> {
        row.try_get(idx)
            .map_err(|e| self.target.query_error(&e, "read the store"))
    }

    /// Whether every table exists at the current layout, without writing anything (so a role
    /// with only read and write rights on tables an owner created can use the store).
    fn schema_ready(&self) -> Result<bool, StateError> {
        let names: Vec<String> = self.t.all().iter().map(|s| s.to_string()).collect();
        let rows = self.query(
            "SELECT bool_and(to_regclass(n) IS NOT NULL) FROM unnest($1::text[]) AS n",
            &[&names],
            "inspect the store's tables",
        )?;
        let all_exist: Option<bool> = match rows.first() {
            Some(r) => self.get(r, 0)?,
            None => None,
        };
        if all_exist != Some(true) {
            return Ok(false);
        }
        let version = self.stored_schema_version()?;
        if version > SCHEMA_VERSION {
            return Err(self.target.error(
                PgErrorKind::Schema,
                format!(
                    "the store's tables were written by a newer apirun (layout {version}, this apirun knows {SCHEMA_VERSION}); \
                     upgrade apirun"
                ),
            ));
        }
        Ok(version == SCHEMA_VERSION)
    }

    fn stored_schema_version(&self) -> Result<i64, StateError> {
        let rows = self.query(
            &format!(
                "SELECT value FROM {} WHERE key = 'schema_version'",
                self.t.meta
            ),
            &[],
            "read the store's layout version",
        )?;
        let value: Option<String> = match rows.first() {
            Some(r) => Some(self.get(r, 0)?),
            None => None,
        };
        Ok(value.and_then(|v| v.trim().parse().ok()).unwrap_or(0))
    }

    /// Create what is missing and upgrade older layouts, in one transaction, one opener at a
    /// time.
    fn ensure_schema(&self) -> Result<(), StateError> {
        if self.schema_ready()? {
            return Ok(());
        }
        let target = &self.target;
        let t = &self.t;
        let mut client = self.client()?;
        let err = |doing: &'static str| move |e: ::postgres::Error| target.query_error(&e, doing);
        let mut tx = client
            .transaction()
            .map_err(err("create the store's tables"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&LOCK_CLASS, &INIT_LOCK],
        )
        .map_err(err("create the store's tables"))?;
        for schema in t.schemas() {
            let exists = tx
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
                    &[&schema],
                )
                .map_err(err("create the store's schema"))?;
            let exists: bool = exists
                .try_get(0)
                .map_err(err("create the store's schema"))?;
            if !exists {
                tx.batch_execute(&format!("CREATE SCHEMA {}", quote_table(&schema)))
                    .map_err(err("create the store's schema"))?;
            }
        }
        let creates = [
            (
                &t.meta,
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL)".to_string(),
            ),
            (&t.migrations, "(version BIGINT PRIMARY KEY)".to_string()),
            (
                &t.runs,
                "(id BIGSERIAL PRIMARY KEY, version BIGINT NOT NULL, direction TEXT NOT NULL,
                  status_code INTEGER NOT NULL, body TEXT NULL, env_json TEXT NULL,
                  failed BOOLEAN NOT NULL DEFAULT FALSE, ran_at TIMESTAMPTZ NOT NULL)"
                    .to_string(),
            ),
            (
                &t.env,
                "(version BIGINT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL,
                  PRIMARY KEY (version, name))"
                    .to_string(),
            ),
            (
                &t.stage_runs,
                "(id BIGSERIAL PRIMARY KEY, stage TEXT NOT NULL, outcome TEXT NOT NULL,
                  started_at TEXT NOT NULL, finished_at TEXT NOT NULL, duration_ms BIGINT NOT NULL,
                  error TEXT NULL, exported BIGINT NOT NULL DEFAULT 0)"
                    .to_string(),
            ),
        ];
        for (table, columns) in &creates {
            let row = tx
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table.as_str()])
                .map_err(err("create the store's tables"))?;
            let exists: bool = row.try_get(0).map_err(err("create the store's tables"))?;
            if !exists {
                tx.batch_execute(&format!("CREATE TABLE {table} {columns}"))
                    .map_err(err("create the store's tables"))?;
            }
        }
        // Columns apirun added to the original layout; added in place to older tables.
        let added: [(&String, &[(&str, &str)]); 2] = [
            (
                &t.migrations,
                &[
                    ("applied_at", "TIMESTAMPTZ NULL"),
                    ("name", "TEXT NULL"),
                    ("checksum", "TEXT NULL"),
                ],
            ),
            (
                &t.runs,
                &[
                    ("state", "TEXT NOT NULL DEFAULT 'succeeded'"),
                    ("finished_at", "TIMESTAMPTZ NULL"),
                    ("duration_ms", "BIGINT NULL"),
                    ("error", "TEXT NULL"),
                    ("name", "TEXT NULL"),
                    ("checksum", "TEXT NULL"),
                    ("pid", "BIGINT NULL"),
                ],
            ),
        ];
        let columns_of = |tx: &mut ::postgres::Transaction<'_>,
                          table: &str|
         -> Result<Vec<(String, String)>, StateError> {
            let rows = tx
                .query(
                    "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute
                     WHERE attrelid = to_regclass($1)::oid AND attnum > 0 AND NOT attisdropped",
                    &[&table],
                )
                .map_err(err("upgrade the store's tables"))?;
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get(0).map_err(err("upgrade the store's tables"))?,
                        r.try_get(1).map_err(err("upgrade the store's tables"))?,
                    ))
                })
                .collect()
        };
        for (table, wanted) in added {
            let existing = columns_of(&mut tx, table)?;
            for (name, decl) in wanted {
                if !existing.iter().any(|(c, _)| c == name) {
                    tx.batch_execute(&format!("ALTER TABLE {table} ADD COLUMN {name} {decl}"))
                        .map_err(err("upgrade the store's tables"))?;
                }
            }
        }
        // The Go original's INTEGER versions cannot hold timestamp versions.
        for table in [&t.migrations, &t.runs, &t.env] {
            let existing = columns_of(&mut tx, table)?;
            if existing
                .iter()
                .any(|(c, ty)| c == "version" && ty == "integer")
            {
                tx.batch_execute(&format!(
                    "ALTER TABLE {table} ALTER COLUMN version TYPE BIGINT"
                ))
                .map_err(err("upgrade the store's tables"))?;
            }
        }
        tx.execute(
            &format!(
                "INSERT INTO {} (key, value) VALUES ('schema_version', $1)
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                t.meta
            ),
            &[&SCHEMA_VERSION.to_string()],
        )
        .map_err(err("create the store's tables"))?;
        tx.commit().map_err(err("create the store's tables"))
    }

    /// Insert the `started` row of a run (on a client or inside a transaction); its id.
    fn insert_start(
        &self,
        c: &mut impl GenericClient,
        start: &RunStart<'_>,
        version: i64,
    ) -> Result<i64, ::postgres::Error> {
        let sql = format!(
            "INSERT INTO {} (version, direction, status_code, failed, ran_at, state, name, checksum, pid)
             VALUES ($1, $2, 0, FALSE, now(), 'started', $3, $4, $5) RETURNING id::bigint",
            self.t.runs
        );
        let pid = i64::from(std::process::id());
        c.query_one(
            &sql,
            &[
                &version,
                &start.direction.as_str(),
                &start.name,
                &start.checksum,
                &pid,
            ],
        )?
        .try_get(0)
    }

    /// Mark a run succeeded and apply its effect: the applied version and its stored
    /// variables (up), or their removal (down). `tx` is the caller's transaction.
    fn record_success(
        &self,
        tx: &mut impl GenericClient,
        run_id: i64,
        start: &RunStart<'_>,
        outcome: &Outcome,
        version: i64,
    ) -> Result<(), ::postgres::Error> {
        let t = &self.t;
        let env = if start.direction == Direction::Up {
            super::env_to_json(&outcome.env)
        } else {
            None
        };
        tx.execute(
            &format!(
                "UPDATE {} SET state = 'succeeded', failed = FALSE, status_code = $2, body = $3,
                 env_json = $4, finished_at = now(), duration_ms = $5, error = NULL WHERE id = $1::bigint",
                t.runs
            ),
            &[
                &run_id,
                &i32::from(outcome.status_code),
                &outcome.body,
                &env,
                &millis(outcome.duration),
            ],
        )?;
        match start.direction {
            Direction::Up => {
                tx.execute(
                    &format!(
                        "INSERT INTO {} (version, applied_at, name, checksum) VALUES ($1, now(), $2, $3)
                         ON CONFLICT (version) DO UPDATE SET applied_at = EXCLUDED.applied_at,
                         name = EXCLUDED.name, checksum = EXCLUDED.checksum",
                        t.migrations
                    ),
                    &[&version, &start.name, &start.checksum],
                )?;
                tx.execute(
                    &format!("DELETE FROM {} WHERE version = $1", t.env),
                    &[&version],
                )?;
                for (name, value) in &outcome.env {
                    tx.execute(
                        &format!(
                            "INSERT INTO {} (version, name, value) VALUES ($1, $2, $3)",
                            t.env
                        ),
                        &[&version, name, value],
                    )?;
                }
            }
            Direction::Down => {
                tx.execute(
                    &format!("DELETE FROM {} WHERE version = $1", t.migrations),
                    &[&version],
                )?;
                tx.execute(
                    &format!("DELETE FROM {} WHERE version = $1", t.env),
                    &[&version],
                )?;
            }
        }
        Ok(())
    }

    fn run_from_row(&self, row: &Row) -> Result<RunRecord, StateError> {
        let env_json: Option<String> = self.get(row, 11)?;
        let env = super::env_from_json(env_json.as_deref());
        Ok(RunRecord {
            id: self.get(row, 0)?,
            version: self.get::<i64>(row, 1)?.max(0) as u64,
            direction: Direction::parse(&self.get::<String>(row, 2)?),
            status_code: self.get::<i64>(row, 3)?.clamp(0, i64::from(u16::MAX)) as u16,
            failed: self.get(row, 4)?,
            ran_at: self.get::<Option<String>>(row, 5)?.unwrap_or_default(),
            state: RunState::parse(&self.get::<String>(row, 6)?),
            finished_at: self.get(row, 7)?,
            duration_ms: self.get::<Option<i64>>(row, 8)?.map(|d| d.max(0) as u64),
            error: self.get(row, 9)?,
            name: self.get(row, 10)?,
            env,
        })
    }

    fn runs_where(&self, clause: &str, limit: Option<usize>) -> Result<Vec<RunRecord>, StateError> {
        let sql = format!(
            "SELECT id::bigint, version::bigint, direction, status_code::bigint, failed::boolean,
                    {}, state, {}, duration_ms::bigint, error, name, env_json
             FROM {} {clause} ORDER BY id DESC LIMIT $1",
            ts("ran_at"),
            ts("finished_at"),
            self.t.runs
        );
        let limit: Option<i64> = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        self.query(&sql, &[&limit], "read the run history")?
            .iter()
            .map(|r| self.run_from_row(r))
            .collect()
    }
}

impl Store for PostgresStore {
    fn describe(&self) -> String {
        self.target.display.clone()
    }

    fn applied(&self) -> Result<Vec<Applied>, StateError> {
        let sql = format!(
            "SELECT version::bigint, {}, name, checksum FROM {} ORDER BY version",
            ts("applied_at"),
            self.t.migrations
        );
        self.query(&sql, &[], "read the applied migrations")?
            .iter()
            .map(|r| {
                Ok(Applied {
                    version: self.get::<i64>(r, 0)?.max(0) as u64,
                    applied_at: self.get::<Option<String>>(r, 1)?.unwrap_or_default(),
                    name: self.get(r, 2)?,
                    checksum: self.get(r, 3)?,
                })
            })
            .collect()
    }

    fn stored_env(&self) -> Result<Vec<(u64, String, String)>, StateError> {
        let sql = format!(
            "SELECT e.version::bigint, e.name, e.value FROM {} e JOIN {} m ON m.version = e.version
             ORDER BY e.version, e.name",
            self.t.env, self.t.migrations
        );
        self.query(&sql, &[], "read the stored variables")?
            .iter()
            .map(|r| {
                Ok((
                    self.get::<i64>(r, 0)?.max(0) as u64,
                    self.get(r, 1)?,
                    self.get(r, 2)?,
                ))
            })
            .collect()
    }

    fn in_doubt(&self) -> Result<Vec<RunRecord>, StateError> {
        self.runs_where("WHERE state = 'started'", None)
    }

    fn history(&self, limit: Option<usize>) -> Result<Vec<RunRecord>, StateError> {
        self.runs_where("", limit)
    }

    fn begin(&mut self, start: RunStart<'_>) -> Result<i64, StateError> {
        let version = self.version_param(start.version)?;
        let mut client = self.client()?;
        self.insert_start(&mut *client, &start, version)
            .map_err(|e| {
                self.target
                    .query_error(&e, "record the start of a migration")
            })
    }

    fn succeed(
        &mut self,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
    ) -> Result<(), StateError> {
        let version = self.version_param(start.version)?;
        let err = |e: ::postgres::Error| self.target.query_error(&e, "record a finished migration");
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(err)?;
        self.record_success(&mut tx, run_id, &start, outcome, version)
            .map_err(err)?;
        tx.commit().map_err(err)
    }

    fn succeed_and_begin(
        &mut self,
        run_id: i64,
        start: RunStart<'_>,
        outcome: &Outcome,
        next: RunStart<'_>,
    ) -> Result<i64, StateError> {
        let version = self.version_param(start.version)?;
        let next_version = self.version_param(next.version)?;
        let err = |e: ::postgres::Error| self.target.query_error(&e, "record a finished migration");
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(err)?;
        self.record_success(&mut tx, run_id, &start, outcome, version)
            .map_err(err)?;
        let id = self
            .insert_start(&mut tx, &next, next_version)
            .map_err(|e| {
                self.target
                    .query_error(&e, "record the start of a migration")
            })?;
        tx.commit().map_err(err)?;
        Ok(id)
    }

    fn fail(&mut self, run_id: i64, outcome: &Outcome) -> Result<(), StateError> {
        let sql = format!(
            "UPDATE {} SET state = 'failed', failed = TRUE, status_code = $2, body = $3, env_json = $4,
             finished_at = now(), duration_ms = $5, error = $6 WHERE id = $1::bigint",
            self.t.runs
        );
        self.execute(
            &sql,
            &[
                &run_id,
                &i32::from(outcome.status_code),
                &outcome.body,
                &super::env_to_json(&outcome.env),
                &millis(outcome.duration),
                &outcome.error,
            ],
            "record a failed migration",
        )?;
        Ok(())
    }

    fn resolve(&mut self, run_id: i64, applied: bool) -> Result<(), StateError> {
        let target = &self.target;
        let t = &self.t;
        let err = |e: ::postgres::Error| target.query_error(&e, "resolve a run in doubt");
        let mut client = self.client()?;
        let mut tx = client.transaction().map_err(err)?;
        let row = tx
            .query_opt(
                &format!(
                    "SELECT version::bigint, direction, name, checksum FROM {}
                     WHERE id = $1::bigint AND state = 'started' FOR UPDATE",
                    t.runs
                ),
                &[&run_id],
            )
            .map_err(err)?;
        let Some(row) = row else {
            return Err(StateError::NotInDoubt(run_id));
        };
        let version: i64 = row.try_get(0).map_err(err)?;
        let direction: String = row.try_get(1).map_err(err)?;
        let name: Option<String> = row.try_get(2).map_err(err)?;
        let checksum: Option<String> = row.try_get(3).map_err(err)?;
        tx.execute(
            &format!(
                "UPDATE {} SET state = 'resolved', failed = $2, finished_at = now(), error = $3
                 WHERE id = $1::bigint",
                t.runs
            ),
            &[
                &run_id,
                &!applied,
                &if applied {
                    "resolved by hand as applied"
                } else {
                    "resolved by hand as not applied"
                },
            ],
        )
        .map_err(err)?;
        if applied {
            if Direction::parse(&direction) == Direction::Up {
                tx.execute(
                    &format!(
                        "INSERT INTO {} (version, applied_at, name, checksum) VALUES ($1, now(), $2, $3)
                         ON CONFLICT (version) DO NOTHING",
                        t.migrations
                    ),
                    &[&version, &name, &checksum],
                )
                .map_err(err)?;
            } else {
                tx.execute(
                    &format!("DELETE FROM {} WHERE version = $1", t.migrations),
                    &[&version],
                )
                .map_err(err)?;
                tx.execute(
                    &format!("DELETE FROM {} WHERE version = $1", t.env),
                    &[&version],
                )
                .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn record_stage_run(&mut self, run: &StageRun) -> Result<(), StateError> {
        let sql = format!(
            "INSERT INTO {} (stage, outcome, started_at, finished_at, duration_ms, error, exported)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            self.t.stage_runs
        );
        self.execute(
            &sql,
            &[
                &run.stage,
                &run.outcome,
                &run.started_at,
                &run.finished_at,
                &i64::try_from(run.duration_ms).unwrap_or(i64::MAX),
                &run.error,
                &i64::try_from(run.exported).unwrap_or(i64::MAX),
            ],
            "record a stage's outcome",
        )?;
        Ok(())
    }

    fn last_stage_run(&self, stage: &str) -> Result<Option<StageRun>, StateError> {
        let sql = format!(
            "SELECT stage, outcome, started_at, finished_at, duration_ms::bigint, error, exported::bigint
             FROM {} WHERE stage = $1 ORDER BY id DESC LIMIT 1",
            self.t.stage_runs
        );
        let rows = self.query(&sql, &[&stage], "read a stage's outcome")?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(StageRun {
            stage: self.get(r, 0)?,
            outcome: self.get(r, 1)?,
            started_at: self.get(r, 2)?,
            finished_at: self.get(r, 3)?,
            duration_ms: self.get::<i64>(r, 4)?.max(0) as u64,
            error: self.get(r, 5)?,
            exported: usize::try_from(self.get::<i64>(r, 6)?.max(0)).unwrap_or(usize::MAX),
        }))
    }
}

/// One run at a time per PostgreSQL store: a session advisory lock, held on a connection of
/// its own so that the server releases it when the process ends, however it ends.
///
/// The key is ([`LOCK_CLASS`], a hash of the schema-qualified `schema_migrations` table), so
/// projects sharing a database with their own tables do not block each other. The connection's
/// `application_name` names the holder (command, pid, host) for `status`.
pub struct PgRunLock {
    _client: Client,
    place: String,
}

impl fmt::Debug for PgRunLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgRunLock")
            .field("place", &self.place)
            .finish()
    }
}

impl PgRunLock {
    /// Take the lock without waiting; if another run holds it, say who.
    pub fn acquire(
        target: &PgTarget,
        tables: &TableNames,
        command: &str,
    ) -> Result<Self, StateError> {
        let t = Tables::new(tables)?;
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "unknown".into());
        let name = format!("{command}, pid {} on host {host}", std::process::id());
        let mut client = target.connect(Some(&name))?;
        let key = lock_key(target, &mut client, &t)?;
        let place = lock_place(target, key);
        let row = client
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&LOCK_CLASS, &key])
            .map_err(|e| target.query_error(&e, "take the run lock"))?;
        let got: bool = row
            .try_get(0)
            .map_err(|e| target.query_error(&e, "take the run lock"))?;
        if !got {
            let holder = find_holder(target, &mut client, key)?.unwrap_or_else(|| LockHolder {
                lock: place.clone(),
                description: "holder unknown; it may just have finished".into(),
            });
            return Err(StateError::Locked(holder));
        }
        Ok(Self {
            _client: client,
            place,
        })
    }

    /// Who holds the lock of this store now, if anyone (for `status`); takes nothing.
    pub fn holder(
        target: &PgTarget,
        tables: &TableNames,
    ) -> Result<Option<LockHolder>, StateError> {
        let t = Tables::new(tables)?;
        let mut client = target.connect(None)?;
        let key = lock_key(target, &mut client, &t)?;
        find_holder(target, &mut client, key)
    }

    /// Where the lock lives, for messages.
    pub fn place(&self) -> &str {
        &self.place
    }
}

fn lock_place(target: &PgTarget, key: i32) -> String {
    format!(
        "PostgreSQL advisory lock ({LOCK_CLASS}, {key}) in database `{}` at {}",
        target.dbname, target.server
    )
}

/// The lock's second key: a hash of the schema-qualified `schema_migrations` table, the schema
/// of an unqualified name being the connection's `current_schema()`.
fn lock_key(target: &PgTarget, client: &mut Client, t: &Tables) -> Result<i32, StateError> {
    let schema = match &t.schema {
        Some(s) => s.clone(),
        None => {
            let row = client
                .query_one("SELECT current_schema()::text", &[])
                .map_err(|e| target.query_error(&e, "find the current schema"))?;
            row.try_get::<_, Option<String>>(0)
                .map_err(|e| target.query_error(&e, "find the current schema"))?
                .unwrap_or_else(|| "public".into())
        }
    };
    let table = t
        .migrations
        .rsplit("\".\"")
        .next()
        .unwrap_or(&t.migrations)
        .trim_matches('"');
    let digest = Sha256::digest(format!("{schema}.{table}").as_bytes());
    let key = i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) & 0x7fff_ffff;
    // 0 is the lock that serializes table creation.
    Ok(if key == INIT_LOCK { 1 } else { key })
}

fn find_holder(
    target: &PgTarget,
    client: &mut Client,
    key: i32,
) -> Result<Option<LockHolder>, StateError> {
    let sql = format!(
        "SELECT l.pid, a.application_name, {}
         FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
           AND l.classid::bigint = $1 AND l.objid::bigint = $2
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         LIMIT 1",
        ts("a.backend_start")
    );
    let rows = client
        .query(&sql, &[&i64::from(LOCK_CLASS), &i64::from(key)])
        .map_err(|e| target.query_error(&e, "read who holds the run lock"))?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let read = |e: ::postgres::Error| target.query_error(&e, "read who holds the run lock");
    let backend: i32 = row.try_get(0).map_err(read)?;
    let app: Option<String> = row.try_get(1).map_err(read)?;
    let since: Option<String> = row.try_get(2).map_err(read)?;
    let mut description = app
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "an unnamed client".into());
    if let Some(since) = since {
        description.push_str(&format!(", since {since}"));
    }
    description.push_str(&format!(", PostgreSQL backend {backend}"));
    Ok(Some(LockHolder {
        lock: lock_place(target, key),
        description,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_dsn_keeps_what_the_client_knows_and_takes_out_the_rest() {
        let s = split_dsn(
            "postgres://u:p%40ss@db:5432/app?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&pool_max_conns=10&connect_timeout=3",
        )
        .expect("split");
        assert_eq!(s.rest, "postgres://u:p%40ss@db:5432/app?connect_timeout=3");
        assert_eq!(s.sslmode.as_deref(), Some("verify-full"));
        assert_eq!(s.sslrootcert.as_deref(), Some("/tmp/ca.pem"));
    }

    #[test]
    fn key_value_dsn_is_requoted() {
        let s = split_dsn("host=db  user=app password='it\\'s x' sslmode=require dbname = st")
            .expect("split");
        assert_eq!(s.sslmode.as_deref(), Some("require"));
        assert!(s.rest.contains("host='db'"), "{}", s.rest);
        assert!(s.rest.contains("dbname='st'"), "{}", s.rest);
        assert!(split_dsn("host=db password='open").is_err());
        assert!(split_dsn("host").is_err());
    }

    #[test]
    fn target_describes_server_and_database_never_the_password() {
        let t = PgTarget::parse("postgres://app:s3cr3t-pw@db.example:6543/state?sslmode=disable")
            .expect("parse");
        assert_eq!(t.to_string(), "postgres://app@db.example:6543/state");
        assert_eq!(t.server(), "db.example:6543");
        assert_eq!(t.dbname(), "state");
        assert_eq!(t.tls(), TlsMode::Disable);
        assert!(!format!("{t:?}").contains("s3cr3t"));
        assert_eq!(mask::text("x s3cr3t-pw y"), format!("x {} y", mask::MASK));

        let t =
            PgTarget::parse("host=10.0.0.1 user=ops dbname=x sslmode=verify-ca").expect("parse");
        assert_eq!(t.to_string(), "postgres://ops@10.0.0.1:5432/x");
        assert_eq!(t.tls(), TlsMode::VerifyCa);

        let t = PgTarget::parse("postgresql:///apirun").expect("parse");
        assert_eq!(t.server(), "localhost:5432");
        assert_eq!(t.tls(), TlsMode::Prefer);

        let e = PgTarget::parse("postgres://db/x?sslmode=sometimes").expect_err("bad mode");
        assert!(e.contains("sslmode `sometimes`"), "{e}");
        let e = PgTarget::parse("postgres://db/x?bogus=1").expect_err("bad option");
        assert!(e.contains("bogus"), "{e}");
        assert!(PgTarget::parse("  ").is_err());
    }

    #[test]
    fn params_target() {
        let t = PgTarget::from_params(&PostgresParams {
            host: "db".into(),
            port: 5433,
            user: "app".into(),
            password: "p@ss/w:rd-long".into(),
            dbname: "state".into(),
            sslmode: "require".into(),
        })
        .expect("params");
        assert_eq!(t.to_string(), "postgres://app@db:5433/state");
        assert_eq!(t.tls(), TlsMode::Require);
    }

    #[test]
    fn aux_tables_follow_schema_and_prefix() {
        let t = Tables::new(&TableNames::default()).expect("tables");
        assert_eq!(t.meta, "\"apirun_store_meta\"");
        assert_eq!(t.stage_runs, "\"apirun_stage_runs\"");
        assert!(t.schemas().is_empty());
        let t = Tables::new(&TableNames {
            schema_migrations: "ops.team1_schema_migrations".into(),
            migration_runs: "ops.team1_migration_runs".into(),
            stored_env: "audit.team1_stored_env".into(),
        })
        .expect("tables");
        assert_eq!(t.meta, "\"ops\".\"team1_apirun_store_meta\"");
        assert_eq!(t.stage_runs, "\"ops\".\"team1_apirun_stage_runs\"");
        assert_eq!(t.schemas(), vec!["audit".to_string(), "ops".to_string()]);
        let t = Tables::new(&TableNames {
            schema_migrations: "versions".into(),
            ..TableNames::default()
        })
        .expect("tables");
        assert_eq!(t.meta, "\"versions_apirun_store_meta\"");
    }

    #[test]
    fn tls_configs_build_for_every_mode() {
        for mode in [
            TlsMode::Prefer,
            TlsMode::Require,
            TlsMode::VerifyCa,
            TlsMode::VerifyFull,
        ] {
            tls::client_config(mode, None).expect("config");
        }
        let e = tls::client_config(
            TlsMode::VerifyFull,
            Some(std::path::Path::new("/nonexistent/ca.pem")),
        )
        .expect_err("missing file");
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
    }
}
