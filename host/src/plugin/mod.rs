//! The sandbox: step plugins are WebAssembly components run by wasmtime.
//!
//! One [`Runtime`] (one `Engine`) per process. Each component is compiled once (and cached on
//! disk, see [`cache`]) and pre-linked once; every step call gets a fresh `Store` with a memory
//! limit, a fuel budget (CPU) and an epoch deadline (wall time). WASI is linked because a
//! `wasm32-wasip2` guest built with std imports it, but its context grants nothing: no
//! preopened directories, no environment, no arguments, no sockets; stdout and stderr go to
//! bounded in-memory pipes (a Rust panic message lands there and makes the error useful).
//! The only way out of the sandbox is the `host.send` import, served by an [`Outbound`] that
//! the caller provides for each step; every request a plugin asks for is written to the log as
//! an audit line (plugin, step, method, host, allowed or denied, status), whatever its outcome.
//! Waiting is bounded too: a `host.sleep` or a WASI clock wait that would end after the
//! step's deadline stops the step at once (see the `wasi_clock` module), so a plugin cannot
//! hold a run past its time limit.

pub mod bindings;
pub mod builtin;
pub mod cache;
pub mod registry;
mod wasi_clock;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use bindings::{HttpRequest, HttpResponse, LogLevel, PluginInfo, StepOutput, StepPluginPre};
pub use bindings::{StepError, TransportError};
pub use cache::ComponentCache;

/// How often the epoch advances; deadlines are counted in these ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Captured guest stdout/stderr, per step.
const GUEST_OUTPUT_CAP: usize = 64 * 1024;
/// The largest linear memory any plugin may be granted (the pool reserves address space for it).
pub const MAX_MEMORY_LIMIT: usize = 1 << 30;

/// Resource limits for one step call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest linear memory the guest may grow to, in bytes.
    pub memory_bytes: usize,
    /// CPU budget in wasmtime fuel units (roughly one per instruction).
    pub fuel: u64,
    /// Wall-clock bound for the whole call, including time spent in `send`.
    pub timeout: Duration,
    /// Largest total size of the outputs a step may return.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 * 1024 * 1024,
            fuel: 10_000_000_000,
            timeout: Duration::from_secs(120),
            max_output_bytes: 1024 * 1024,
        }
    }
}

/// What the host does for a plugin during one step: the only way out of the sandbox.
pub trait Outbound: Send {
    /// Perform an HTTP request on the plugin's behalf, applying the policy of this step.
    fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError>;
    /// Record a log line written by the plugin.
    fn log(&mut self, level: LogLevel, message: &str);

    /// Which step this outbound serves (`001_x.yaml #1 (create realm)`), for audit lines.
    fn step_label(&self) -> Option<&str> {
        None
    }
}

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is not a WebAssembly component (a core module, another format, corrupt).
    #[error("plugin `{name}`: not a valid component: {message}")]
    Invalid { name: String, message: String },
    /// A component, but not a step plugin: it does not export `apirun:step/step`.
    #[error("plugin `{name}` is not an apirun step plugin: {message}")]
    NotAStepPlugin { name: String, message: String },
    /// Built against a version of the WIT package this host cannot run (another major, or
    /// another minor while the major is 0).
    #[error(
        "plugin `{name}` was built against {}@{found}, which this apirun cannot run: it implements {}@{} and runs plugins built against {}@{}",
        bindings::WIT_PACKAGE,
        bindings::WIT_PACKAGE,
        bindings::WIT_VERSION,
        bindings::WIT_PACKAGE,
        compatible_range()
    )]
    IncompatibleWit { name: String, found: String },
    /// Built against a newer compatible version, and it uses a host function this apirun
    /// does not have yet.
    #[error(
        "plugin `{name}` was built against {}@{found}, newer than this apirun ({}@{}), and needs what this apirun does not provide: {message}",
        bindings::WIT_PACKAGE,
        bindings::WIT_PACKAGE,
        bindings::WIT_VERSION
    )]
    NewerWit {
        name: String,
        found: String,
        message: String,
    },
    /// It could not be linked or instantiated, or `describe` failed.
    #[error("plugin `{name}`: {message}")]
    Instantiate { name: String, message: String },
    /// The engine itself failed (not the plugin's fault).
    #[error("could not start the wasm engine: {0}")]
    Engine(String),
}

impl LoadError {
    /// What to do about it, for the user.
    pub fn hint(&self) -> Option<String> {
        match self {
            Self::Invalid { .. } => Some(
                "build the plugin with `cargo build --release --target wasm32-wasip2` (wasm32-wasip1 \
                 and wasm32-unknown-unknown produce core modules, not components)"
                    .to_string(),
            ),
            Self::NotAStepPlugin { .. } => Some(
                "write the plugin with apirun-sdk (`apirun plugin new NAME` starts one)".to_string(),
            ),
            Self::IncompatibleWit { found, .. } => Some(if version_newer(found, bindings::WIT_VERSION) {
                format!(
                    "upgrade apirun to one that implements {}@{found}, or rebuild the plugin with apirun-sdk for {}@{}",
                    bindings::WIT_PACKAGE,
                    bindings::WIT_PACKAGE,
                    bindings::WIT_VERSION
                )
            } else {
                format!(
                    "rebuild the plugin with a current apirun-sdk (it targets {}@{})",
                    bindings::WIT_PACKAGE,
                    bindings::WIT_VERSION
                )
            }),
            Self::NewerWit { found, .. } => Some(format!(
                "upgrade apirun to one that implements {}@{found}, or rebuild the plugin with apirun-sdk for {}@{}",
                bindings::WIT_PACKAGE,
                bindings::WIT_PACKAGE,
                bindings::WIT_VERSION
            )),
            Self::Instantiate { .. } | Self::Engine(_) => None,
        }
    }
}

/// `0.1.0 to 0.1.1`: the versions of the WIT package this host runs plugins of.
pub fn compatible_range() -> String {
    let mut parts = bindings::WIT_VERSION.split('.');
    let major = parts.next().unwrap_or("0");
    let minor = parts.next().unwrap_or("0");
    if major == "0" {
        format!("0.{minor}.0 to {}", bindings::WIT_VERSION)
    } else {
        format!("{major}.0.0 to {}", bindings::WIT_VERSION)
    }
}

/// Which limit stopped a guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrapKind {
    /// The fuel budget (CPU) ran out.
    OutOfFuel,
    /// The wall-clock deadline passed.
    Timeout,
    /// The guest tried to grow its memory past the limit.
    Memory,
    /// The guest panicked or hit `unreachable`.
    Panic,
    /// Any other trap.
    Other,
}

/// Why a step call did not produce outputs.
#[derive(Debug, thiserror::Error)]
pub enum StepFailure {
    /// The plugin returned an error: data it chose to report.
    #[error("{}", describe_step_error(.0))]
    Step(StepError),
    /// The guest was stopped: a limit, a panic or a bug.
    #[error("{message}")]
    Trap {
        kind: TrapKind,
        message: String,
        /// What the guest wrote to stderr (a panic message, usually), bounded.
        stderr: String,
    },
    /// The plugin returned more output than allowed.
    #[error("plugin returned {size} bytes of outputs, more than the limit of {limit}")]
    OutputTooLarge { size: usize, limit: usize },
}

/// A one-line description of a plugin's error, for messages.
pub fn describe_step_error(err: &StepError) -> String {
    match err {
        StepError::InvalidParams(m) => format!("invalid step: {m}"),
        StepError::RejectedStatus(r) => {
            let accepted = if r.accepted.is_empty() {
                "any".to_string()
            } else {
                r.accepted.join(", ")
            };
            let excerpt = r.body_excerpt.trim();
            if excerpt.is_empty() {
                format!("status {} not in accepted set [{accepted}]", r.status)
            } else {
                format!(
                    "status {} not in accepted set [{accepted}]; response body: {excerpt}",
                    r.status
                )
            }
        }
        StepError::MissingValue(m) => {
            format!("missing env_from for key '{}' at path '{}'", m.name, m.path)
        }
        StepError::Transport(t) => describe_transport_error(t),
        StepError::Failed(m) => m.clone(),
    }
}

/// A one-line description of a transport error, for messages.
pub fn describe_transport_error(err: &TransportError) -> String {
    match err {
        TransportError::Denied(m) => format!("request denied: {m}"),
        TransportError::InvalidRequest(m) => format!("invalid request: {m}"),
        TransportError::Connect(m) => format!("connection failed: {m}"),
        TransportError::Timeout(m) => format!("timed out: {m}"),
        TransportError::TooLarge(m) => format!("response too large: {m}"),
        TransportError::Other(m) => m.clone(),
    }
}

/// The per-store state of one step call.
struct StepData {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    outbound: Box<dyn Outbound>,
    /// How the config names the plugin, for audit and log lines.
    plugin: String,
    /// When the call's time limit runs out (the epoch deadline, in wall-clock terms).
    deadline: Instant,
    /// Set when the plugin asked to wait past `deadline`: the trap that follows is a timeout.
    overslept: Option<String>,
}

impl StepData {
    /// Refuse a wait that would end after the deadline, remembering why for the trap message.
    fn check_wait(&mut self, wanted: Duration, how: &str) -> wasmtime::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if wanted >= left {
            let reason = format!(
                "it asked to {how} for {} ms with {} ms of its time limit left",
                wanted.as_millis(),
                left.as_millis()
            );
            self.overslept = Some(reason.clone());
            return Err(wasmtime::format_err!("{reason}"));
        }
        Ok(())
    }
}

impl WasiView for StepData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl bindings::apirun::step::types::Host for StepData {}

impl bindings::apirun::step::host::Host for StepData {
    fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        let method = request.method.trim().to_ascii_uppercase();
        let host = audit_host(&request.url);
        let result = self.outbound.send(request);
        audit(
            &self.plugin,
            self.outbound.step_label().unwrap_or("-"),
            &method,
            &host,
            &result,
        );
        result
    }

    fn log(&mut self, level: LogLevel, message: String) {
        self.outbound.log(level, &message);
    }

    fn sleep(&mut self, ms: u32) -> wasmtime::Result<()> {
        let wanted = Duration::from_millis(u64::from(ms));
        self.check_wait(wanted, "pause")?;
        tracing::debug!(
            plugin = %self.plugin,
            step = self.outbound.step_label().unwrap_or("-"),
            ms,
            "plugin pauses"
        );
        std::thread::sleep(wanted);
        Ok(())
    }
}

/// `host:port` of a URL for audit lines; never the path, query or credentials, which may hold
/// secrets.
fn audit_host(url: &str) -> String {
    match reqwest::Url::parse(url.trim()) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => format!("({} url without a host)", u.scheme()),
        },
        Err(_) => "(invalid url)".to_string(),
    }
}

/// The audit line of one outbound request: who asked (plugin, step), what (method, host),
/// and what the host decided (allowed with the final status, denied with the reason, or
/// allowed but failed in transport). Logged at INFO under the `apirun::audit` target so a
/// locked-down site can route it (`APIRUN_LOG=apirun::audit=info`).
fn audit(
    plugin: &str,
    step: &str,
    method: &str,
    host: &str,
    result: &Result<HttpResponse, TransportError>,
) {
    match result {
        Ok(response) => tracing::info!(
            target: "apirun::audit",
            plugin,
            step,
            method,
            host,
            decision = "allowed",
            status = response.status,
            "outbound request"
        ),
        Err(TransportError::Denied(reason)) => tracing::info!(
            target: "apirun::audit",
            plugin,
            step,
            method,
            host,
            decision = "denied",
            reason = %crate::report::mask::text(reason),
            "outbound request"
        ),
        Err(other) => tracing::info!(
            target: "apirun::audit",
            plugin,
            step,
            method,
            host,
            decision = "allowed",
            error = %crate::report::mask::text(&describe_transport_error(other)),
            "outbound request"
        ),
    }
}

/// Refuses memory growth past the limit, and remembers that it did so the trap can be
/// reported as a limit rather than a bug.
struct MemoryLimiter {
    limit: usize,
    exceeded: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.exceeded = true;
            return Err(wasmtime::format_err!(
                "memory limit exceeded: the plugin asked for {desired} bytes, the limit is {} bytes",
                self.limit
            ));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// Advances the engine's epoch so deadlines fire; stops with the runtime.
struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    fn start(engine: &Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("apirun-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .ok();
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The wasm engine, its linker and the compiled-component cache. One per process.
pub struct Runtime {
    engine: Engine,
    linker: Linker<StepData>,
    cache: ComponentCache,
    /// The built-in `http` step, loaded (hashed, deserialized, pre-linked, described) once per
    /// process: every stage of a `stages` run builds a runner that needs it.
    builtin_http: std::sync::OnceLock<Plugin>,
    _ticker: EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("cache", &self.cache)
            .finish()
    }
}

fn engine_config(pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    if pooling {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(512)
            .total_memories(256)
            .total_tables(256)
            .total_stacks(64)
            .max_memory_size(MAX_MEMORY_LIMIT)
            .linear_memory_keep_resident(1 << 20)
            .table_keep_resident(1 << 16)
            // Reset only the pages a step dirtied (PAGEMAP_SCAN, Linux 6.7+) instead of
            // memsetting the whole resident megabyte: a step's fresh instance costs ~20 µs
            // instead of ~55 µs (see docs/performance.md). Elsewhere the memset stays.
            .pagemap_scan(wasmtime::Enabled::Auto);
        config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

impl Runtime {
    /// An engine with the pooling allocator (fast instantiation), falling back to on-demand
    /// allocation where the address space for the pool cannot be reserved.
    pub fn new(cache: ComponentCache) -> Result<Self, LoadError> {
        let engine = Engine::new(&engine_config(true))
            .or_else(|_| Engine::new(&engine_config(false)))
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let mut linker: Linker<StepData> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        bindings::StepPlugin::add_to_linker::<_, HasSelf<_>>(&mut linker, |d| d)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        wasi_clock::bound_waits(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let ticker = EpochTicker::start(&engine);
        Ok(Self {
            engine,
            linker,
            cache,
            builtin_http: std::sync::OnceLock::new(),
            _ticker: ticker,
        })
    }

    /// Compile (or load from the cache), check and pre-link a component. `name` is how the
    /// config calls it, for messages.
    pub fn load(&self, name: &str, wasm: &[u8], limits: Limits) -> Result<Plugin, LoadError> {
        let component = self.compile(name, wasm)?;
        let version = check_wit_version(&self.engine, &component, name)?;
        let pre = self.linker.instantiate_pre(&component).map_err(|e| {
            let message = format!("{e:#}");
            if version_newer(&version, bindings::WIT_VERSION) {
                LoadError::NewerWit {
                    name: name.to_string(),
                    found: version.clone(),
                    message,
                }
            } else {
                LoadError::Instantiate {
                    name: name.to_string(),
                    message,
                }
            }
        })?;
        let pre = StepPluginPre::new(pre).map_err(|e| LoadError::Instantiate {
            name: name.to_string(),
            message: format!("{e:#}"),
        })?;
        let mut plugin = Plugin {
            name: name.to_string(),
            pre,
            engine: self.engine.clone(),
            limits,
            info: PluginInfo {
                name: name.to_string(),
                version: String::new(),
            },
            size: wasm.len(),
        };
        plugin.info = plugin.describe().map_err(|e| LoadError::Instantiate {
            name: name.to_string(),
            message: format!("describe failed: {e}"),
        })?;
        Ok(plugin)
    }

    /// The built-in `http` step, compiled from `plugins/http` and embedded in the binary.
    pub fn builtin_http(&self, limits: Limits) -> Result<Plugin, LoadError> {
        if let Some(loaded) = self.builtin_http.get() {
            return Ok(Plugin {
                limits,
                ..loaded.clone()
            });
        }
        let plugin = self.load("http", builtin::HTTP_WASM, limits)?;
        // Another thread may have loaded it meanwhile; either copy is the same plugin.
        let _ = self.builtin_http.set(plugin.clone());
        Ok(plugin)
    }

    fn compile(&self, name: &str, wasm: &[u8]) -> Result<Component, LoadError> {
        self.cache
            .load_or_compile(&self.engine, wasm)
            .map_err(|e| LoadError::Invalid {
                name: name.to_string(),
                message: format!("{e:#}"),
            })
    }

    /// What a component file declares, without registering it: its imports and exports, the
    /// WIT version it was built against, whether this apirun can run it, and (when it can)
    /// the name and version the plugin reports. Only `describe` runs, in the sandbox, under
    /// default limits and with no way out. Fails only when the file is not a component.
    pub fn inspect(&self, name: &str, wasm: &[u8]) -> Result<Inspection, LoadError> {
        let component = self.compile(name, wasm)?;
        let ty = component.component_type();
        let mut imports: Vec<String> = ty
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let mut exports: Vec<String> = ty
            .exports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        imports.sort();
        exports.sort();
        let wit_version = step_export_version(&exports).map(str::to_string);
        let (compatibility, info) = match self.load(name, wasm, Limits::default()) {
            Ok(plugin) => (Ok(()), Some(plugin.info().clone())),
            Err(e) => (Err(e), None),
        };
        Ok(Inspection {
            size: wasm.len(),
            sha256: registry::sha256_hex(wasm),
            imports,
            exports,
            wit_version,
            compatibility,
            info,
        })
    }
}

/// What `apirun plugin inspect` reports about a component file.
#[derive(Debug)]
pub struct Inspection {
    /// Size of the file in bytes.
    pub size: usize,
    /// Lower-case hex sha256 of the file: the value to pin in config.yaml.
    pub sha256: String,
    /// Interfaces the component imports (WASI and `apirun:step/host`), sorted.
    pub imports: Vec<String>,
    /// Interfaces it exports, sorted.
    pub exports: Vec<String>,
    /// The version of `apirun:step` it exports `step` from, if it does.
    pub wit_version: Option<String>,
    /// Whether this apirun can run it, and if not why.
    pub compatibility: Result<(), LoadError>,
    /// The name and version the plugin reports (only when it could be loaded).
    pub info: Option<PluginInfo>,
}

impl Inspection {
    /// The world the component implements, as far as its interfaces show it:
    /// `apirun:step/step-plugin@0.1.1` for a step plugin.
    pub fn world(&self) -> Option<String> {
        self.wit_version
            .as_ref()
            .map(|v| format!("{}/step-plugin@{v}", bindings::WIT_PACKAGE))
    }
}

/// The version in an `apirun:step/step@X` export name, if any.
fn step_export_version(exports: &[String]) -> Option<&str> {
    let prefix = format!("{}/step@", bindings::WIT_PACKAGE);
    exports.iter().find_map(|e| e.strip_prefix(prefix.as_str()))
}

/// Refuse a component that does not export the step interface of a compatible WIT version;
/// returns the version it was built against.
fn check_wit_version(
    engine: &Engine,
    component: &Component,
    name: &str,
) -> Result<String, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let Some(version) = step_export_version(&exports) else {
        return Err(LoadError::NotAStepPlugin {
            name: name.to_string(),
            message: format!(
                "it does not export {}/step (its exports: {})",
                bindings::WIT_PACKAGE,
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            ),
        });
    };
    if !semver_compatible(version, bindings::WIT_VERSION) {
        return Err(LoadError::IncompatibleWit {
            name: name.to_string(),
            found: version.to_string(),
        });
    }
    Ok(version.to_string())
}

/// Whether `found` is a later version than `ours` (by major, minor, patch; pre-release and
/// build suffixes ignored). Unparsable versions are not newer.
fn version_newer(found: &str, ours: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64, u64)> {
        let core = v.split(['-', '+']).next()?;
        let mut it = core.split('.');
        Some((
            it.next()?.parse().ok()?,
            it.next()?.parse().ok()?,
            it.next().unwrap_or("0").parse().ok()?,
        ))
    };
    matches!((parse(found), parse(ours)), (Some(f), Some(o)) if f > o)
}

/// Semver compatibility as cargo reads it: same major, and for 0.x the same minor.
fn semver_compatible(found: &str, ours: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut it = v.split(['.', '-', '+']);
        Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
    };
    match (parse(found), parse(ours)) {
        (Some((fm, fn_)), Some((om, on))) => fm == om && (om != 0 || fn_ == on),
        _ => false,
    }
}

/// A loaded step plugin, ready to run steps. Cloning is cheap: the compiled component is
/// shared.
#[derive(Clone)]
pub struct Plugin {
    name: String,
    pre: StepPluginPre<StepData>,
    engine: Engine,
    limits: Limits,
    info: PluginInfo,
    size: usize,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.name)
            .field("info", &(&self.info.name, &self.info.version))
            .field("limits", &self.limits)
            .finish()
    }
}

/// An [`Outbound`] for calls that must not reach out (describe, validate).
struct NoOutbound;

impl Outbound for NoOutbound {
    fn send(&mut self, request: HttpRequest) -> Result<HttpResponse, TransportError> {
        Err(TransportError::Denied(format!(
            "{} {}: no requests may be sent while describing or validating a step",
            request.method, request.url
        )))
    }
    fn log(&mut self, level: LogLevel, message: &str) {
        log_guest(level, "validate", message);
    }
}

/// Forward a plugin's log line to apirun's log.
pub fn log_guest(level: LogLevel, plugin: &str, message: &str) {
    match level {
        LogLevel::Trace => tracing::trace!(plugin, "{message}"),
        LogLevel::Debug => tracing::debug!(plugin, "{message}"),
        LogLevel::Info => tracing::info!(plugin, "{message}"),
        LogLevel::Warn => tracing::warn!(plugin, "{message}"),
        LogLevel::Error => tracing::error!(plugin, "{message}"),
    }
}

impl Plugin {
    /// How the config names this plugin.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the plugin says about itself.
    pub fn info(&self) -> &PluginInfo {
        &self.info
    }

    /// The limits each call of this plugin runs under.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    fn call<R>(
        &self,
        outbound: Box<dyn Outbound>,
        f: impl FnOnce(
            &bindings::exports::apirun::step::step::Guest,
            &mut Store<StepData>,
        ) -> wasmtime::Result<R>,
    ) -> Result<R, StepFailure> {
        let stdout = MemoryOutputPipe::new(GUEST_OUTPUT_CAP);
        let stderr = MemoryOutputPipe::new(GUEST_OUTPUT_CAP);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let data = StepData {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryLimiter {
                limit: self.limits.memory_bytes,
                exceeded: false,
            },
            outbound,
            plugin: self.name.clone(),
            deadline: Instant::now() + self.limits.timeout,
            overslept: None,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        let trap = |store: &Store<StepData>, err: wasmtime::Error| {
            let data = store.data();
            classify_trap(
                err,
                data.limiter.exceeded,
                data.overslept.as_deref(),
                &self.limits,
                &stderr,
            )
        };
        if let Err(e) = store.set_fuel(self.limits.fuel) {
            return Err(trap(&store, e));
        }
        let ticks = (self.limits.timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let instance = match self.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => return Err(trap(&store, e)),
        };
        let guest = instance.apirun_step_step();
        match f(guest, &mut store) {
            Ok(r) => Ok(r),
            Err(e) => Err(trap(&store, e)),
        }
    }

    /// Ask the plugin for its name and version.
    pub fn describe(&self) -> Result<PluginInfo, StepFailure> {
        self.call(Box::new(NoOutbound), |g, s| g.call_describe(s))
    }

    /// Check rendered params without sending anything.
    pub fn validate(&self, params: &str) -> Result<(), StepFailure> {
        self.call(Box::new(NoOutbound), |g, s| g.call_validate(s, params))?
            .map_err(StepFailure::Step)
    }

    /// Run one step with rendered params; requests go through `outbound`.
    pub fn run(
        &self,
        params: &str,
        outbound: Box<dyn Outbound>,
    ) -> Result<Vec<(String, String)>, StepFailure> {
        let out: StepOutput = self
            .call(outbound, |g, s| g.call_run(s, params))?
            .map_err(StepFailure::Step)?;
        let size: usize = out
            .outputs
            .iter()
            .map(|p| p.name.len() + p.value.len())
            .sum();
        if size > self.limits.max_output_bytes {
            return Err(StepFailure::OutputTooLarge {
                size,
                limit: self.limits.max_output_bytes,
            });
        }
        Ok(out.outputs.into_iter().map(|p| (p.name, p.value)).collect())
    }
}

/// The message of a Rust panic in captured stderr: `thread '..' panicked at FILE:LINE:COL:`
/// followed by the message on the next line(s).
fn panic_message(stderr: &str) -> Option<String> {
    let mut lines = stderr.lines();
    let header = lines.find(|l| l.contains("panicked at"))?;
    let place = header
        .split("panicked at ")
        .nth(1)
        .map(|p| p.trim_end_matches(':').trim().to_string());
    let message: Vec<&str> = lines
        .take_while(|l| !l.starts_with("note:") && !l.trim().is_empty())
        .collect();
    let message = message.join(" ").trim().to_string();
    Some(match (message.is_empty(), place) {
        (false, Some(p)) => format!("{message} (at {p})"),
        (false, None) => message,
        (true, _) => header.trim().to_string(),
    })
}

fn classify_trap(
    err: wasmtime::Error,
    memory_exceeded: bool,
    overslept: Option<&str>,
    limits: &Limits,
    stderr: &MemoryOutputPipe,
) -> StepFailure {
    let stderr_text = String::from_utf8_lossy(&stderr.contents())
        .trim()
        .to_string();
    let trap = err.downcast_ref::<wasmtime::Trap>().copied();
    let (kind, message) = if memory_exceeded {
        (
            TrapKind::Memory,
            format!(
                "plugin exceeded its memory limit of {} bytes",
                limits.memory_bytes
            ),
        )
    } else if let Some(reason) = overslept {
        (
            TrapKind::Timeout,
            format!(
                "plugin would not finish within its time limit of {:?}: {reason}",
                limits.timeout
            ),
        )
    } else {
        match trap {
            Some(wasmtime::Trap::OutOfFuel) => (
                TrapKind::OutOfFuel,
                format!(
                    "plugin used up its CPU budget of {} fuel (an endless loop?)",
                    limits.fuel
                ),
            ),
            Some(wasmtime::Trap::Interrupt) => (
                TrapKind::Timeout,
                format!(
                    "plugin did not finish within its time limit of {:?}",
                    limits.timeout
                ),
            ),
            Some(wasmtime::Trap::UnreachableCodeReached) => (
                TrapKind::Panic,
                match panic_message(&stderr_text) {
                    Some(m) => format!("plugin crashed: {m}"),
                    None => "plugin crashed (wasm `unreachable` executed)".to_string(),
                },
            ),
            _ => (TrapKind::Other, format!("plugin failed: {err:#}")),
        }
    };
    StepFailure::Trap {
        kind,
        message,
        stderr: stderr_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_from_stderr() {
        let stderr = "thread '<unnamed>' (1) panicked at src/lib.rs:44:20:\nboom on purpose\nnote: run with `RUST_BACKTRACE=1`";
        assert_eq!(
            panic_message(stderr).as_deref(),
            Some("boom on purpose (at src/lib.rs:44:20)")
        );
        assert_eq!(panic_message("nothing"), None);
    }

    #[test]
    fn newer_versions() {
        assert!(version_newer("0.1.2", "0.1.1"));
        assert!(version_newer("0.2.0", "0.1.9"));
        assert!(!version_newer("0.1.1", "0.1.1"));
        assert!(!version_newer("0.1.0", "0.1.1"));
        assert!(!version_newer("x", "0.1.1"));
        assert!(version_newer("1.0", "0.9.9"));
    }

    #[test]
    fn refusals_name_both_versions_and_say_what_to_do() {
        let e = LoadError::IncompatibleWit {
            name: "job".into(),
            found: "0.2.0".into(),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "plugin `job` was built against apirun:step@0.2.0, which this apirun cannot run: it implements apirun:step@{v} and runs plugins built against apirun:step@0.1.0 to {v}",
                v = bindings::WIT_VERSION
            )
        );
        assert!(e.hint().is_some_and(|h| h.starts_with("upgrade apirun")));
        let old = LoadError::IncompatibleWit {
            name: "job".into(),
            found: "0.0.3".into(),
        };
        assert!(old.hint().is_some_and(|h| h.contains("rebuild the plugin")));
    }

    #[test]
    fn audit_host_never_shows_path_query_or_credentials() {
        assert_eq!(
            audit_host("https://user:pw@api.example.com/x?token=s3cret"),
            "api.example.com:443"
        );
        assert_eq!(audit_host("http://127.0.0.1:8080/jobs"), "127.0.0.1:8080");
        assert_eq!(audit_host("not a url"), "(invalid url)");
    }

    #[test]
    fn semver_rules() {
        assert!(semver_compatible("0.1.0", "0.1.0"));
        assert!(semver_compatible("0.1.3", "0.1.0"));
        assert!(!semver_compatible("0.2.0", "0.1.0"));
        assert!(!semver_compatible("1.0.0", "0.1.0"));
        assert!(semver_compatible("1.4.0", "1.0.0"));
        assert!(!semver_compatible("x", "0.1.0"));
    }
}
