//! The way out of the sandbox: the host's `send` and `log` imports, behind a trait so steps
//! can be tested natively with [`MockHost`](crate::MockHost).

use std::fmt;
use std::time::Duration;

use crate::{Request, Response, StepError, TransportError};

/// Severity of a log line (WIT `log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Very detailed tracing.
    Trace,
    /// Diagnostics for developers.
    Debug,
    /// Normal progress.
    Info,
    /// Something looks wrong but the step goes on.
    Warn,
    /// Something failed.
    Error,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        })
    }
}

/// What a step can ask of the host.
///
/// In a component this is [`WasmHost`] (the WIT imports); in native tests a
/// [`MockHost`](crate::MockHost). Steps do not call it directly but through [`Context`].
pub trait Host {
    /// Perform `request`, subject to the step's allowed hosts, timeouts and size caps.
    fn send(&self, request: Request) -> Result<Response, TransportError>;

    /// Write a line to apirun's log, attributed to the running step.
    fn log(&self, level: LogLevel, message: &str);

    /// Pause the step for `duration` (the host's `sleep`, WIT 0.1.1), e.g. between polls.
    ///
    /// The default blocks the current thread, which is right for a native host; a
    /// [`MockHost`](crate::MockHost) records the pause and returns at once.
    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A duration in whole milliseconds for the WIT `sleep` (rounded up, at most `u32::MAX`).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn whole_millis(duration: Duration) -> u32 {
    let ms = duration.as_nanos().div_ceil(1_000_000);
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// The real host: the component's `apirun:step/host` imports.
///
/// Only meaningful on `wasm32`. Elsewhere (native builds of a plugin crate) `send` fails
/// with [`TransportError::Other`] and `log` writes to stderr: use a
/// [`MockHost`](crate::MockHost) in native tests.
#[derive(Debug, Clone, Copy, Default)]
pub struct WasmHost;

impl Host for WasmHost {
    #[cfg(target_arch = "wasm32")]
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        crate::bindings::apirun::step::host::send(&request.into())
            .map(Response::from)
            .map_err(TransportError::from)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn send(&self, request: Request) -> Result<Response, TransportError> {
        Err(TransportError::Other(format!(
            "cannot send {} {}: the apirun host is only reachable from a wasm32 component \
             (use MockHost in native tests)",
            request.method, request.url
        )))
    }

    #[cfg(target_arch = "wasm32")]
    fn log(&self, level: LogLevel, message: &str) {
        crate::bindings::apirun::step::host::log(level.into(), message);
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn log(&self, level: LogLevel, message: &str) {
        eprintln!("[{level}] {message}");
    }

    #[cfg(target_arch = "wasm32")]
    fn sleep(&self, duration: Duration) {
        crate::bindings::apirun::step::host::sleep(whole_millis(duration));
    }
}

/// What a step function receives besides its params: access to the host.
///
/// ```
/// use apirun_sdk::{Context, MockHost, Request, Response};
///
/// let mock = MockHost::new().respond(Response::new(204));
/// let ctx = Context::new(&mock);
/// ctx.info("deleting user 7");
/// let response = ctx.send(Request::delete("http://api.local/users/7"))?;
/// assert_eq!(response.status, 204);
/// # Ok::<(), apirun_sdk::StepError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Context<'h> {
    host: &'h dyn Host,
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}

impl<'h> Context<'h> {
    /// A context over `host` ([`WasmHost`] in a component, a
    /// [`MockHost`](crate::MockHost) in tests).
    pub fn new(host: &'h dyn Host) -> Self {
        Self { host }
    }

    /// The host this context talks to.
    pub fn host(&self) -> &'h dyn Host {
        self.host
    }

    /// Send `request` through the host; a transport failure becomes
    /// [`StepError::Transport`]. Any status is a response: check it with
    /// [`Response::check_status`].
    pub fn send(&self, request: Request) -> Result<Response, StepError> {
        self.host.send(request).map_err(StepError::Transport)
    }

    /// Log `message` at `level`.
    pub fn log(&self, level: LogLevel, message: impl AsRef<str>) {
        self.host.log(level, message.as_ref());
    }

    /// Pause the step for `duration`, e.g. between polls of an asynchronous job.
    ///
    /// A component has no clock to wait on that the host does not control: the host sleeps on
    /// its behalf, within the step's time limit. A pause that would outlast the limit stops
    /// the step as timed out at once, so keep `interval × polls` well inside the plugin's
    /// `limits.timeout`. In native tests a [`MockHost`](crate::MockHost) records the pause
    /// ([`MockHost::sleeps`](crate::MockHost::sleeps)) without waiting.
    ///
    /// ```
    /// use std::time::Duration;
    /// use apirun_sdk::MockHost;
    ///
    /// let mock = MockHost::new();
    /// mock.context().sleep(Duration::from_millis(500));
    /// assert_eq!(mock.sleeps(), vec![Duration::from_millis(500)]);
    /// ```
    pub fn sleep(&self, duration: Duration) {
        self.host.sleep(duration);
    }

    /// Log at [`LogLevel::Trace`].
    pub fn trace(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Trace, message);
    }

    /// Log at [`LogLevel::Debug`].
    pub fn debug(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Debug, message);
    }

    /// Log at [`LogLevel::Info`].
    pub fn info(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Info, message);
    }

    /// Log at [`LogLevel::Warn`].
    pub fn warn(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Warn, message);
    }

    /// Log at [`LogLevel::Error`].
    pub fn error(&self, message: impl AsRef<str>) {
        self.log(LogLevel::Error, message);
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn the_real_host_refuses_natively() {
        let err = Context::new(&WasmHost)
            .send(Request::get("http://x"))
            .expect_err("no host natively");
        assert!(
            matches!(err, StepError::Transport(TransportError::Other(m)) if m.contains("MockHost"))
        );
    }

    #[test]
    fn sleep_rounds_up_to_whole_milliseconds() {
        assert_eq!(whole_millis(Duration::ZERO), 0);
        assert_eq!(whole_millis(Duration::from_micros(1)), 1);
        assert_eq!(whole_millis(Duration::from_millis(250)), 250);
        assert_eq!(whole_millis(Duration::from_secs(u64::MAX)), u32::MAX);
    }
}
