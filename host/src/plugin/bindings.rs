//! Host-side bindings generated from `wit/step.wit`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "step-plugin",
    imports: {
        // A pause that would outlast the step's time limit stops the step at once (a trap
        // classified as a timeout) rather than sleeping first.
        "apirun:step/host.sleep": trappable,
    },
});

pub use apirun::step::types::{
    HttpRequest, HttpResponse, LogLevel, MissingValue, Pair, PluginInfo, RejectedStatus, StepError,
    StepOutput, TransportError,
};

/// The WIT package this host implements.
pub const WIT_PACKAGE: &str = "apirun:step";
/// The version of [`WIT_PACKAGE`] this host implements. A plugin built against any 0.1.x up
/// to this one runs; 0.1.x only ever adds functions (see `wit/step.wit`).
pub const WIT_VERSION: &str = "0.1.1";

#[cfg(test)]
mod tests {
    /// The constant must follow the WIT file, or every plugin check is off by a version.
    #[test]
    fn wit_version_matches_the_wit_file() {
        let wit = include_str!("../../../wit/step.wit");
        let expected = format!("package {}@{};", super::WIT_PACKAGE, super::WIT_VERSION);
        assert!(
            wit.lines().any(|l| l.trim() == expected),
            "wit/step.wit does not declare `{expected}`"
        );
    }
}
