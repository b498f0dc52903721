//! Host-side bindings generated from `wit/step.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "step-plugin",
});

pub use apirun::step::types::{
    HttpRequest, HttpResponse, LogLevel, MissingValue, Pair, PluginInfo, RejectedStatus, StepError,
    StepOutput, TransportError,
};

/// The WIT package and version this host implements; a plugin's imports must match it.
pub const WIT_PACKAGE: &str = "apirun:step";
/// See [`WIT_PACKAGE`].
pub const WIT_VERSION: &str = "0.1.0";
