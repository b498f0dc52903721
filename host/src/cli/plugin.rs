//! `apirun plugin`: the step types a project can use and what each may reach (`list`), what a
//! component file is (`inspect`), and a new plugin crate to start from (`new`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::Cli;
use super::exit::{self, Failure};
use crate::config::{self, Config, PluginConfig};
use crate::plugin::registry::{self, RegistryError};
use crate::plugin::{Inspection, Limits, Runtime, bindings, builtin};

/// `apirun plugin ...`
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// List the step types a project can use, built in and registered in config.yaml, with
    /// what each may reach (allowed hosts) and its limits, version, size and sha256.
    #[command(
        after_help = "Examples:\n  apirun plugin list\n  apirun plugin list --config config/config.yaml --json"
    )]
    List(ListArgs),
    /// Show what a component file is (world and WIT version, name, version, size, sha256)
    /// and whether this apirun can run it, without registering it.
    #[command(
        after_help = "Example:\n  apirun plugin inspect target/wasm32-wasip2/release/job.wasm"
    )]
    Inspect(InspectArgs),
    /// Generate a step plugin crate: it builds with `cargo build --release --target
    /// wasm32-wasip2` as generated, and its unit tests pass with `cargo test`.
    #[command(
        after_help = "Examples:\n  apirun plugin new notify\n  apirun plugin new notify --dir plugins/notify --sdk-path ../apirun/sdk"
    )]
    New(NewArgs),
}

/// Arguments of `apirun plugin list`.
#[derive(Debug, Args, Clone)]
pub struct ListArgs {
    /// Print JSON instead of text (the same as `--output json`).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `apirun plugin inspect`.
#[derive(Debug, Args, Clone)]
pub struct InspectArgs {
    /// The component file (`.wasm`).
    pub file: PathBuf,
    /// Print JSON instead of text (the same as `--output json`).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `apirun plugin new`.
#[derive(Debug, Args, Clone)]
pub struct NewArgs {
    /// The step type name migrations will use (`type: NAME`) and the crate's name: lower-case
    /// letters, digits, `-` and `_`, starting with a letter.
    pub name: String,
    /// Where to create the crate (default: ./NAME). Must not exist or be empty.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// The `sdk` directory of an apirun checkout to depend on by path. Default: the checkout
    /// this apirun was built from, if it still exists; otherwise a git dependency on the
    /// apirun repository at this version's tag.
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

/// Run an `apirun plugin` command.
pub fn run(cli: &Cli, command: &PluginCommand) -> Result<(), Failure> {
    match command {
        PluginCommand::List(a) => list(cli, a),
        PluginCommand::Inspect(a) => inspect(a),
        PluginCommand::New(a) => new(a),
    }
}

fn runtime() -> Result<std::sync::Arc<Runtime>, Failure> {
    crate::execute::shared_runtime().map_err(Failure::from)
}

// --- list ----------------------------------------------------------------------------------

/// One line of `plugin list`, as data (the JSON output) and text.
struct Entry {
    name: String,
    builtin: bool,
    path: Option<PathBuf>,
    inspection: Option<Inspection>,
    pinned: Option<String>,
    /// The plugin's own `allowed_hosts` (`None` for the built-in step: it has none of its own).
    own_hosts: Option<Vec<String>>,
    limits: Limits,
    error: Option<String>,
}

fn list(cli: &Cli, args: &ListArgs) -> Result<(), Failure> {
    let (config, note) = match &cli.config {
        Some(path) => (Some(config::load(path).map_err(Failure::from)?), None),
        None => {
            let path = Config::default_path();
            if path.is_file() {
                (Some(config::load(&path).map_err(Failure::from)?), None)
            } else {
                (
                    None,
                    Some(format!(
                        "no config at {}: only the built-in step types are shown (use --config)",
                        path.display()
                    )),
                )
            }
        }
    };
    let runtime = runtime()?;
    let top: Option<Vec<String>> = config
        .as_ref()
        .and_then(|c| c.allowed_hosts.as_ref())
        .map(|hosts| hosts.iter().map(|h| h.value.clone()).collect());

    let mut entries = vec![Entry {
        name: "http".to_string(),
        builtin: true,
        path: None,
        inspection: runtime.inspect("http", builtin::HTTP_WASM).ok(),
        pinned: None,
        own_hosts: None,
        limits: Limits::default(),
        error: None,
    }];
    for p in config.iter().flat_map(|c| c.plugins.iter()) {
        entries.push(registered_entry(&runtime, p));
    }

    if args.json || super::output::json() {
        let value = json!({
            "config": config.as_ref().map(|c| c.path.display().to_string()),
            "wit": format!("{}@{}", bindings::WIT_PACKAGE, bindings::WIT_VERSION),
            "top_level_allowed_hosts": top,
            "step_types": entries.iter().map(|e| entry_json(e, top.as_deref())).collect::<Vec<_>>(),
        });
        super::output::emit_json(&value);
    } else {
        if let Some(note) = &note {
            println!("note: {note}");
        }
        for e in &entries {
            print!("{}", entry_text(e, top.as_deref()));
        }
        println!(
            "Every step type runs sandboxed: no files, environment or sockets of its own; it reaches \
             only the allowed hosts above, through apirun, which injects auth headers itself."
        );
    }
    let broken: Vec<&Entry> = entries.iter().filter(|e| e.error.is_some()).collect();
    if broken.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = broken.iter().map(|e| format!("`{}`", e.name)).collect();
    Err(Failure::new(
        exit::USAGE,
        format!(
            "{} registered plugin(s) cannot be used: {}",
            broken.len(),
            names.join(", ")
        ),
    )
    .with_hint("`apirun validate` points at the config entries"))
}

fn registered_entry(runtime: &Runtime, p: &PluginConfig) -> Entry {
    let mut entry = Entry {
        name: p.name.value.clone(),
        builtin: false,
        path: Some(p.path.value.clone()),
        inspection: None,
        pinned: p
            .sha256
            .as_ref()
            .map(|s| s.value.trim().to_ascii_lowercase()),
        own_hosts: Some(p.allowed_hosts.iter().map(|h| h.value.clone()).collect()),
        limits: registry::limits_for(p),
        error: None,
    };
    let bytes = match registry::read_component(p) {
        Ok(b) => b,
        Err(RegistryError::Config(d)) => {
            entry.error = Some(d.to_string());
            // Still show what the file is, so a stale pin can be compared.
            if let Ok(b) = std::fs::read(&p.path.value) {
                entry.inspection = runtime.inspect(&p.name.value, &b).ok();
            }
            return entry;
        }
        Err(RegistryError::Load(e)) => {
            entry.error = Some(e.to_string());
            return entry;
        }
    };
    match runtime.inspect(&p.name.value, &bytes) {
        Ok(i) => {
            if let Err(e) = &i.compatibility {
                entry.error = Some(e.to_string());
            }
            entry.inspection = Some(i);
        }
        Err(e) => entry.error = Some(e.to_string()),
    }
    entry
}

fn hosts_text(e: &Entry, top: Option<&[String]>) -> String {
    let top_text = top.map(|t| {
        if t.is_empty() {
            "none".to_string()
        } else {
            t.join(", ")
        }
    });
    match (&e.own_hosts, top_text) {
        (None, None) => "any host (no top-level allowed_hosts)".to_string(),
        (None, Some(t)) => format!("{t} (top-level allowed_hosts)"),
        (Some(own), _) if own.is_empty() => {
            "none: the entry has no allowed_hosts, so every request is denied".to_string()
        }
        (Some(own), None) => own.join(", "),
        (Some(own), Some(t)) => {
            format!(
                "{} (and only where the top-level allowed_hosts allow: {t})",
                own.join(", ")
            )
        }
    }
}

/// `64 MiB`, `1536 KiB` or `1000 bytes`.
fn bytes_text(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}

fn duration_text(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn limits_text(l: &Limits) -> String {
    format!(
        "memory {}, fuel {}, time {}, outputs {}",
        bytes_text(l.memory_bytes),
        l.fuel,
        duration_text(l.timeout),
        bytes_text(l.max_output_bytes)
    )
}

fn entry_text(e: &Entry, top: Option<&[String]>) -> String {
    let mut out = String::new();
    let kind = if e.builtin { " (built-in)" } else { "" };
    let _ = writeln!(out, "{}{kind}", e.name);
    let row = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "  {:<14} {value}", format!("{key}:"));
    };
    if let Some(path) = &e.path {
        row(&mut out, "path", &path.display().to_string());
    }
    if let Some(i) = &e.inspection {
        if let Some(info) = &i.info {
            row(&mut out, "version", &info.version);
        }
        row(
            &mut out,
            "wit",
            &i.wit_version
                .as_ref()
                .map(|v| format!("{}@{v}", bindings::WIT_PACKAGE))
                .unwrap_or_else(|| "none (not a step plugin)".to_string()),
        );
        row(&mut out, "size", &format!("{} bytes", i.size));
        let pin = match &e.pinned {
            Some(p) if *p == i.sha256 => " (pinned)",
            Some(_) => " (does not match the pinned sha256)",
            None if e.builtin => " (built into apirun)",
            None => " (not pinned)",
        };
        row(&mut out, "sha256", &format!("{}{pin}", i.sha256));
    }
    row(&mut out, "allowed hosts", &hosts_text(e, top));
    row(&mut out, "limits", &limits_text(&e.limits));
    if let Some(err) = &e.error {
        row(&mut out, "error", err);
    }
    out
}

fn entry_json(e: &Entry, top: Option<&[String]>) -> Value {
    let i = e.inspection.as_ref();
    json!({
        "name": e.name,
        "builtin": e.builtin,
        "path": e.path.as_ref().map(|p| p.display().to_string()),
        "version": i.and_then(|i| i.info.as_ref()).map(|info| info.version.clone()),
        "wit": i.and_then(|i| i.wit_version.as_ref()).map(|v| format!("{}@{v}", bindings::WIT_PACKAGE)),
        "size": i.map(|i| i.size),
        "sha256": i.map(|i| i.sha256.clone()),
        "pinned_sha256": e.pinned,
        "allowed_hosts": e.own_hosts,
        "top_level_allowed_hosts": top,
        "allowed_hosts_text": hosts_text(e, top),
        "limits": {
            "memory_bytes": e.limits.memory_bytes,
            "fuel": e.limits.fuel,
            "timeout_ms": u64::try_from(e.limits.timeout.as_millis()).unwrap_or(u64::MAX),
            "max_output_bytes": e.limits.max_output_bytes,
        },
        "error": e.error,
    })
}

// --- inspect -------------------------------------------------------------------------------

fn inspect(args: &InspectArgs) -> Result<(), Failure> {
    let bytes = std::fs::read(&args.file).map_err(|e| {
        Failure::new(
            exit::USAGE,
            format!("cannot read {}: {e}", args.file.display()),
        )
    })?;
    let name = args
        .file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".to_string());
    let runtime = runtime()?;
    let inspection = runtime.inspect(&name, &bytes).map_err(|e| {
        let hint = e.hint();
        let f = Failure::new(exit::USAGE, format!("{}: {e}", args.file.display()));
        match hint {
            Some(h) => f.with_hint(h),
            None => f,
        }
    })?;
    let compatible = inspection.compatibility.is_ok();
    if args.json || super::output::json() {
        let value = json!({
            "file": args.file.display().to_string(),
            "size": inspection.size,
            "sha256": inspection.sha256,
            "world": inspection.world(),
            "wit": inspection.wit_version.as_ref().map(|v| format!("{}@{v}", bindings::WIT_PACKAGE)),
            "name": inspection.info.as_ref().map(|i| i.name.clone()),
            "version": inspection.info.as_ref().map(|i| i.version.clone()),
            "imports": inspection.imports,
            "exports": inspection.exports,
            "compatible": compatible,
            "host_wit": format!("{}@{}", bindings::WIT_PACKAGE, bindings::WIT_VERSION),
        });
        super::output::emit_json(&value);
    } else {
        print!("{}", inspection_text(&args.file, &inspection));
    }
    match inspection.compatibility {
        Ok(()) => Ok(()),
        Err(e) => {
            let f = Failure::new(exit::USAGE, e.to_string());
            Err(match e.hint() {
                Some(h) => f.with_hint(h),
                None => f,
            })
        }
    }
}

fn inspection_text(file: &Path, i: &Inspection) -> String {
    let mut out = String::new();
    let row = |out: &mut String, key: &str, value: &str| {
        let _ = writeln!(out, "{:<11} {value}", format!("{key}:"));
    };
    let unknown = "(unknown: the plugin cannot be loaded)";
    row(&mut out, "file", &file.display().to_string());
    row(
        &mut out,
        "world",
        &i.world()
            .unwrap_or_else(|| "none: it does not export apirun:step/step".to_string()),
    );
    row(
        &mut out,
        "name",
        i.info.as_ref().map(|x| x.name.as_str()).unwrap_or(unknown),
    );
    row(
        &mut out,
        "version",
        i.info
            .as_ref()
            .map(|x| x.version.as_str())
            .unwrap_or(unknown),
    );
    row(&mut out, "size", &format!("{} bytes", i.size));
    row(&mut out, "sha256", &i.sha256);
    for (key, list) in [("imports", &i.imports), ("exports", &i.exports)] {
        let _ = writeln!(out, "{key}:");
        for name in list {
            let _ = writeln!(out, "    {name}");
        }
    }
    let verdict = match &i.compatibility {
        Ok(()) => format!(
            "yes (this apirun implements {}@{})",
            bindings::WIT_PACKAGE,
            bindings::WIT_VERSION
        ),
        Err(_) => format!(
            "no (this apirun implements {}@{})",
            bindings::WIT_PACKAGE,
            bindings::WIT_VERSION
        ),
    };
    row(&mut out, "compatible", &verdict);
    out
}

// --- new -----------------------------------------------------------------------------------

/// The checkout this apirun was built from: `<checkout>/host` at build time.
const BUILT_FROM: &str = env!("CARGO_MANIFEST_DIR");

/// Where apirun's source lives: the package's `repository`, else the workspace's.
const REPOSITORY: &str = if env!("CARGO_PKG_REPOSITORY").is_empty() {
    "https://example.invalid/apirun"
} else {
    env!("CARGO_PKG_REPOSITORY")
};

/// Crate names a plugin may not take: they would clash with its own dependencies or with
/// Rust's built-in crates.
const RESERVED: &[&str] = &[
    "http",
    "apirun",
    "apirun-sdk",
    "apirun_sdk",
    "serde",
    "serde_json",
    "std",
    "core",
    "alloc",
    "proc_macro",
    "test",
];

/// Why `name` cannot be a plugin name, if it cannot.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return Err("the name is empty".to_string());
    };
    if !first.is_ascii_lowercase() {
        return Err(format!("`{name}` must start with a lower-case letter"));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_')))
    {
        return Err(format!(
            "`{name}` contains `{bad}`: use lower-case letters, digits, `-` and `_`"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(if name == "http" {
            "`http` is the built-in step type".to_string()
        } else {
            format!("`{name}` would clash with a crate the plugin depends on")
        });
    }
    Ok(())
}

/// Where the generated crate gets apirun-sdk from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SdkSource {
    /// A local checkout's `sdk` directory (absolute).
    Path(PathBuf),
    /// The apirun repository at this version's tag.
    Git { url: String, tag: String },
}

impl SdkSource {
    /// The checkout's sdk if `--sdk-path` names one, else the checkout this binary was built
    /// from if it is still there, else git.
    fn choose(explicit: Option<&Path>) -> Result<Self, Failure> {
        if let Some(path) = explicit {
            return match sdk_dir(path) {
                Some(dir) => Ok(Self::Path(dir)),
                None => Err(Failure::new(
                    exit::USAGE,
                    format!(
                        "--sdk-path {}: not the sdk directory of an apirun checkout (no Cargo.toml of package `apirun-sdk`)",
                        path.display()
                    ),
                )),
            };
        }
        if let Some(dir) = Path::new(BUILT_FROM)
            .parent()
            .and_then(|root| sdk_dir(&root.join("sdk")))
        {
            return Ok(Self::Path(dir));
        }
        Ok(Self::Git {
            url: REPOSITORY.to_string(),
            tag: format!("v{}", env!("CARGO_PKG_VERSION")),
        })
    }

    fn git_line() -> String {
        format!(
            "apirun-sdk = {{ git = \"{}\", tag = \"v{}\" }}",
            REPOSITORY,
            env!("CARGO_PKG_VERSION")
        )
    }

    /// The dependency lines of Cargo.toml, with a comment saying where the SDK comes from
    /// and how to get it elsewhere.
    fn dependency(&self) -> String {
        let wit = format!("{}@{}", bindings::WIT_PACKAGE, bindings::WIT_VERSION);
        match self {
            Self::Path(dir) => format!(
                "# apirun-sdk from the apirun checkout at {checkout}: the SDK reads the WIT contract\n\
                 # ({wit}) from that checkout's wit/ folder. The SDK is not on crates.io: outside\n\
                 # a checkout, depend on the apirun repository at the tag of your apirun version\n\
                 # instead (cargo fetches the whole repository, wit/ included):\n\
                 #   {git}\n\
                 apirun-sdk = {{ path = \"{path}\" }}\n",
                checkout = dir.parent().unwrap_or(dir).display(),
                git = Self::git_line(),
                path = toml_escape(&dir.display().to_string()),
            ),
            Self::Git { url, tag } => format!(
                "# apirun-sdk from the apirun repository at the tag of the apirun that generated\n\
                 # this crate; cargo fetches the whole repository, so the SDK finds the WIT\n\
                 # contract ({wit}) in its wit/ folder. With a local checkout, use instead:\n\
                 #   apirun-sdk = {{ path = \"/path/to/apirun/sdk\" }}\n\
                 apirun-sdk = {{ git = \"{url}\", tag = \"{tag}\" }}\n"
            ),
        }
    }
}

/// `path` made absolute, if it is the sdk directory of an apirun checkout.
fn sdk_dir(path: &Path) -> Option<PathBuf> {
    let manifest = std::fs::read_to_string(path.join("Cargo.toml")).ok()?;
    if !manifest.contains("name = \"apirun-sdk\"") {
        return None;
    }
    std::fs::canonicalize(path).ok()
}

fn toml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn new(args: &NewArgs) -> Result<(), Failure> {
    check_name(&args.name).map_err(|m| {
        Failure::new(exit::USAGE, format!("invalid plugin name: {m}"))
            .with_hint("for example `apirun plugin new notify` or `apirun plugin new job-poller`")
    })?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&args.name));
    if dir.exists()
        && std::fs::read_dir(&dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Failure::new(
            exit::USAGE,
            format!("{} already exists and is not empty", dir.display()),
        )
        .with_hint("choose another name or --dir"));
    }
    let sdk = SdkSource::choose(args.sdk_path.as_deref())?;
    let files = scaffold(&args.name, &sdk);
    for (rel, content) in &files {
        let path = dir.join(rel);
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&path, content));
        written.map_err(|e| {
            Failure::new(
                exit::INTERNAL,
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    }
    let wasm = format!(
        "target/wasm32-wasip2/release/{}.wasm",
        args.name.replace('-', "_")
    );
    println!("created step plugin `{}` in {}", args.name, dir.display());
    match &sdk {
        SdkSource::Path(p) => println!("  apirun-sdk: path {}", p.display()),
        SdkSource::Git { url, tag } => println!("  apirun-sdk: git {url} (tag {tag})"),
    }
    println!("next:");
    println!("  cd {}", dir.display());
    println!("  cargo test                                     # native unit tests, MockHost");
    println!("  cargo build --release --target wasm32-wasip2   # the component");
    println!("  apirun plugin inspect {wasm}");
    println!(
        "then register it in config.yaml and use it with `type: {}` (see README.md)",
        args.name
    );
    Ok(())
}

/// The files of a new plugin crate, relative to its directory.
fn scaffold(name: &str, sdk: &SdkSource) -> Vec<(&'static str, String)> {
    let file = name.replace('-', "_");
    let wit = format!("{}@{}", bindings::WIT_PACKAGE, bindings::WIT_VERSION);
    let cargo = format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
description = "apirun step plugin `{name}`"
publish = false

# A step plugin is a WebAssembly component: `cargo build --release --target wasm32-wasip2`
# writes target/wasm32-wasip2/release/{file}.wasm (a wasm32-wasip2 cdylib is already a
# component; no extra tool is needed). The rlib is for the native `cargo test`.
[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
{dependency}serde = {{ version = "1", features = ["derive"] }}
serde_json = "1"

# Small components that load fast; a panic aborts (apirun reports it as a plugin crash).
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
panic = "abort"
strip = true

# Its own workspace, so it builds wherever it is generated (even inside another workspace).
[workspace]
"#,
        dependency = sdk.dependency(),
    );
    let lib = LIB_TEMPLATE.replace("{{name}}", name);
    let readme = README_TEMPLATE
        .replace("{{name}}", name)
        .replace("{{file}}", &file)
        .replace("{{wit}}", &wit);
    vec![
        ("Cargo.toml", cargo),
        ("src/lib.rs", lib),
        ("README.md", readme),
        (".gitignore", "/target\n".to_string()),
    ]
}

const LIB_TEMPLATE: &str = r##"//! `{{name}}`: an apirun step plugin.
//!
//! A migration step selects it with `type: {{name}}` and passes `params:`; apirun renders
//! every template in the params, then hands them to this component, which deserializes them
//! into [`Params`], checks them with [`check`] and runs [`run`]. Requests go out through
//! apirun (`ctx.send`), which allows only the hosts the config grants this plugin.

use apirun_sdk::{Context, Outputs, Request, StepError};
use serde::Deserialize;

/// What a migration step passes in `params:`. Unknown keys are refused, so a typo is caught
/// by `apirun validate` before anything is sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The URL to read (its host must be in this plugin's `allowed_hosts`).
    pub url: String,
    /// Where the wanted value is in the JSON response: a gjson path such as `items.0.id`.
    #[serde(default = "default_path")]
    pub path: String,
    /// An `auth` entry of config.yaml: apirun adds its Authorization header, the plugin never
    /// sees the secret.
    #[serde(default)]
    pub auth: Option<String>,
}

fn default_path() -> String {
    "id".to_string()
}

/// Checks beyond what the types say; run by `apirun validate`, before a run sends anything,
/// and before every call. Values not known before the run arrive as placeholders such as
/// `<name>`, so check structure rather than such values.
fn check(params: &Params) -> Result<(), StepError> {
    if params.url.trim().is_empty() {
        return Err(StepError::invalid_params("url: must not be empty"));
    }
    if params.path.trim().is_empty() {
        return Err(StepError::invalid_params("path: must not be empty"));
    }
    Ok(())
}

/// GET `url`, accept any 2xx status, and return the value at `path` as output `value`.
#[apirun_sdk::step(name = "{{name}}", validate = check)]
pub fn run(ctx: &Context, params: Params) -> Result<Outputs, StepError> {
    let mut request = Request::get(&params.url);
    if let Some(auth) = &params.auth {
        request = request.auth(auth);
    }
    let response = ctx.send(request)?;
    response.check_status(&["2xx"])?;
    let value = response
        .extract(&params.path)
        .ok_or_else(|| StepError::missing_value("value", &params.path))?;
    ctx.info(format!("found `{}`", params.path));
    Ok(Outputs::new().with("value", value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apirun_sdk::{MockHost, Response};

    #[test]
    fn returns_the_value_at_the_path() {
        let mock = MockHost::new().respond(Response::new(200).with_body(r#"{"items":[{"id":7}]}"#));
        let outputs = STEP
            .run_json(
                &mock.context(),
                r#"{"url": "http://api.local/items", "path": "items.0.id", "auth": "admin"}"#,
            )
            .expect("the step succeeds");
        assert_eq!(outputs.get("value"), Some("7"));
        let sent = mock.last_request().expect("one request");
        assert_eq!((sent.method.as_str(), sent.url.as_str()), ("GET", "http://api.local/items"));
        assert_eq!(sent.auth.as_deref(), Some("admin"));
    }

    #[test]
    fn an_error_status_is_a_step_error() {
        let mock = MockHost::new().respond(Response::new(503).with_body("down"));
        let err = STEP
            .run_json(&mock.context(), r#"{"url": "http://api.local/items"}"#)
            .expect_err("503 is not 2xx");
        assert!(matches!(err, StepError::RejectedStatus { status: 503, .. }));
    }

    #[test]
    fn params_are_checked_before_anything_is_sent() {
        assert!(matches!(
            STEP.validate_json(r#"{"url": ""}"#),
            Err(StepError::InvalidParams(m)) if m == "url: must not be empty"
        ));
        assert!(matches!(
            STEP.validate_json(r#"{"url": "http://x", "pth": "id"}"#),
            Err(StepError::InvalidParams(m)) if m.contains("unknown field `pth`")
        ));
    }
}
"##;

const README_TEMPLATE: &str = r#"# {{name}}: an apirun step plugin

Built with `apirun-sdk` against `{{wit}}`. See apirun's docs/plugins.md for the whole story.

## Build and test

```sh
cargo test                                     # native unit tests against a MockHost
cargo build --release --target wasm32-wasip2   # needs `rustup target add wasm32-wasip2`
apirun plugin inspect target/wasm32-wasip2/release/{{file}}.wasm
```

`inspect` prints the component's sha256, to pin in config.yaml.

## Register it (config.yaml)

```yaml
plugins:
  - name: {{name}}
    path: plugins/{{file}}.wasm          # relative to config.yaml
    sha256: <from apirun plugin inspect>
    allowed_hosts: [api.example.com]   # deny by default: no list, no requests
    limits: {memory: 64MiB, timeout: 30s}
```

## Use it in a migration

```yaml
up:
  name: read the first item
  type: {{name}}
  params:
    url: "{{.base_url}}/items"
    path: items.0.id
```

The output `value` is then available to later steps as `{{.value}}`.
`apirun validate` checks the params through the plugin; `apirun plugin list` shows what it
may reach.
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_names() {
        assert!(check_name("job").is_ok());
        assert!(check_name("job-poller_2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("Job").is_err());
        assert!(check_name("2job").is_err());
        assert!(check_name("jo b").is_err());
        assert_eq!(
            check_name("http").err().as_deref(),
            Some("`http` is the built-in step type")
        );
        assert!(check_name("serde").is_err());
    }

    #[test]
    fn scaffold_depends_on_the_sdk_as_chosen() {
        let files = scaffold(
            "notify-me",
            &SdkSource::Path(PathBuf::from("/src/apirun/sdk")),
        );
        let cargo = &files[0].1;
        assert!(cargo.contains("name = \"notify-me\""), "{cargo}");
        assert!(
            cargo.contains("apirun-sdk = { path = \"/src/apirun/sdk\" }"),
            "{cargo}"
        );
        assert!(cargo.contains("#   apirun-sdk = { git = "), "{cargo}");
        assert!(cargo.contains("notify_me.wasm"), "{cargo}");
        assert!(cargo.contains("\n[workspace]\n"), "{cargo}");
        let lib = &files[1].1;
        assert!(
            lib.contains("#[apirun_sdk::step(name = \"notify-me\""),
            "{lib}"
        );
        assert!(!lib.contains("{{name}}"));
        let readme = &files[2].1;
        assert!(readme.contains("type: notify-me"), "{readme}");
        assert!(
            readme.contains("{{.base_url}}"),
            "templates in the example stay templates"
        );

        let git = SdkSource::Git {
            url: "https://example.invalid/apirun".into(),
            tag: "v0.1.0".into(),
        };
        let cargo = &scaffold("x", &git)[0].1;
        assert!(
            cargo.contains(
                "apirun-sdk = { git = \"https://example.invalid/apirun\", tag = \"v0.1.0\" }"
            ),
            "{cargo}"
        );
    }

    #[test]
    fn limits_read_well() {
        assert_eq!(
            limits_text(&Limits::default()),
            "memory 64 MiB, fuel 10000000000, time 120s, outputs 1 MiB"
        );
        assert_eq!(bytes_text(1000), "1000 bytes");
        assert_eq!(
            duration_text(std::time::Duration::from_millis(1500)),
            "1500ms"
        );
    }
}
