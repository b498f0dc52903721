//! Support for end-to-end tests: a loopback HTTP API that records what it receives, project
//! folders in temporary directories, and a way to run the apirun command line.

pub mod golden;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A request the mock API received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent (`/realms?x=1`).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// The value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.url.split('?').next().unwrap_or("")
    }
}

/// What the mock API answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: String,
    pub headers: Vec<(String, String)>,
    /// Wait this long before answering (for crash and concurrency tests).
    pub delay_ms: u64,
}

impl Reply {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            body: body.to_string(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            delay_ms: 0,
        }
    }

    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            body: body.to_string(),
            headers: Vec::new(),
            delay_ms: 0,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn delayed(mut self, ms: u64) -> Self {
        self.delay_ms = ms;
        self
    }
}

type Handler = dyn Fn(&Received) -> Reply + Send + Sync;

/// An HTTP server on 127.0.0.1 with a free port, answering with `handler`.
pub struct MockApi {
    addr: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    threads: Vec<JoinHandle<()>>,
}

impl MockApi {
    pub fn start(handler: impl Fn(&Received) -> Reply + Send + Sync + 'static) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let addr = format!(
            "http://{}",
            server.server_addr().to_ip().expect("ip listener")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let mut threads = Vec::new();
        for _ in 0..4 {
            let server = server.clone();
            let received = received.clone();
            let handler = handler.clone();
            threads.push(std::thread::spawn(move || {
                for mut request in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let rec = Received {
                        method: request.method().as_str().to_string(),
                        url: request.url().to_string(),
                        headers: request
                            .headers()
                            .iter()
                            .map(|h| {
                                (
                                    h.field.as_str().as_str().to_string(),
                                    h.value.as_str().to_string(),
                                )
                            })
                            .collect(),
                        body,
                    };
                    received.lock().expect("lock").push(rec.clone());
                    let reply = handler(&rec);
                    if reply.delay_ms > 0 {
                        std::thread::sleep(std::time::Duration::from_millis(reply.delay_ms));
                    }
                    let mut response =
                        tiny_http::Response::from_string(reply.body).with_status_code(reply.status);
                    for (n, v) in reply.headers {
                        if let Ok(h) = tiny_http::Header::from_bytes(n.as_bytes(), v.as_bytes()) {
                            response.add_header(h);
                        }
                    }
                    let _ = request.respond(response);
                }
            }));
        }
        Self {
            addr,
            received,
            server,
            threads,
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> &str {
        &self.addr
    }

    /// Everything received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Requests received with this method and path.
    pub fn count(&self, method: &str, path: &str) -> usize {
        self.received()
            .iter()
            .filter(|r| r.method == method && r.path() == path)
            .count()
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.server.unblock();
        for _ in 1..self.threads.len() {
            self.server.unblock();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A project folder in a temporary directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (creating folders); returns its path.
    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, content).expect("write");
        path
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(rel)).expect("read")
    }

    /// Run apirun with `args` in the project folder.
    pub fn apirun(&self, args: &[&str]) -> Run {
        self.apirun_with(args, &[], None)
    }

    /// Run apirun with extra environment variables and optional stdin.
    pub fn apirun_with(&self, args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
        let mut cmd = apirun_command();
        cmd.current_dir(self.dir.path()).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = match stdin {
            Some(input) => {
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = cmd.spawn().expect("spawn apirun");
                {
                    use std::io::Write;
                    let mut pipe = child.stdin.take().expect("stdin");
                    pipe.write_all(input.as_bytes()).expect("write stdin");
                }
                child.wait_with_output().expect("wait apirun")
            }
            None => cmd.stdin(Stdio::null()).output().expect("run apirun"),
        };
        Run::from(output)
    }

    /// Query the SQLite state file.
    pub fn sql_rows(&self, db: &str, sql: &str) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(self.dir.path().join(db)).expect("open db");
        let mut stmt = conn.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        stmt.query_map([], |row| {
            (0..n)
                .map(|i| {
                    let v: rusqlite::types::Value = row.get(i)?;
                    Ok(match v {
                        rusqlite::types::Value::Null => "NULL".to_string(),
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Real(f) => f.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(b) => format!("<{} bytes>", b.len()),
                    })
                })
                .collect()
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    }
}

/// The `apirun-e2e` binary beside the running test (cargo builds a package's binaries before
/// its integration tests: `target/<profile>/deps/<test>` → `target/<profile>/apirun-e2e`).
pub fn apirun_exe() -> PathBuf {
    let test = std::env::current_exe().expect("test executable path");
    let profile_dir = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable lives in target/<profile>/deps");
    profile_dir.join(format!("apirun-e2e{}", std::env::consts::EXE_SUFFIX))
}

/// The apirun command, with a compiled-component cache shared by all tests of this build.
pub fn apirun_command() -> Command {
    let exe = apirun_exe();
    let mut cmd = Command::new(&exe);
    let cache = exe
        .parent()
        .map(|p| p.join("apirun-test-cache"))
        .unwrap_or_else(|| std::env::temp_dir().join("apirun-test-cache"));
    cmd.env("APIRUN_CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .env_remove("APIRUN_CONFIG")
        .env_remove("APIRUN_OUTPUT");
    cmd
}

/// A finished apirun process.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit code {code}, got {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// stdout and stderr together, for searching messages.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// A handler that answers from a table of `(METHOD, path) → reply`, 404 otherwise.
pub fn routes(
    table: Vec<((&'static str, &'static str), Reply)>,
) -> impl Fn(&Received) -> Reply + Send + Sync + 'static {
    let map: BTreeMap<(String, String), Reply> = table
        .into_iter()
        .map(|((m, p), r)| ((m.to_string(), p.to_string()), r))
        .collect();
    move |req: &Received| {
        map.get(&(req.method.clone(), req.path().to_string()))
            .cloned()
            .unwrap_or_else(|| Reply::text(404, "not found"))
    }
}
