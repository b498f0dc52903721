//! Write apirun step plugins in Rust.
//!
//! A step plugin is a WebAssembly component (`wasm32-wasip2`) implementing the
//! `apirun:step@0.1.1` world `step-plugin`: the host renders a migration step, hands the
//! plugin the step's params as JSON, and the plugin sends HTTP requests through the host,
//! checks the responses and returns named string outputs or a typed [`StepError`].
//!
//! With this crate a plugin is **one function** from serde params to [`Outputs`], marked
//! with [`#[apirun_sdk::step]`](step):
//!
//! - [`Context`] gives the function the host: [`Context::send`] a [`Request`], get a
//!   [`Response`]; [`Context::sleep`] to wait between polls; [`Context::info`] and friends
//!   log.
//! - [`Response::check_status`] / [`check_status`] check statuses against lists such as
//!   `["200", "2xx"]`; [`extract`] / [`Response::extract`] read values by gjson path
//!   (`vpc.subnets.0.id`), converted to strings exactly as the built-in `http` step does.
//! - [`MockHost`] stands in for the host in native `cargo test`s: canned responses in,
//!   recorded requests and log lines out.
//!
//! # A complete plugin
//!
//! `Cargo.toml`:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib", "rlib"]   # cdylib: the component; rlib: native tests
//!
//! [dependencies]
//! # not on crates.io: the SDK reads the WIT from the apirun repository it lives in
//! apirun-sdk = { git = "https://example.invalid/apirun", tag = "v0.1.0" }  # or { path = ".../apirun/sdk" }
//! serde = { version = "1", features = ["derive"] }
//! serde_json = "1"
//! ```
//!
//! `src/lib.rs` (built with `cargo build --target wasm32-wasip2 --release`, which already
//! produces a component: `target/wasm32-wasip2/release/<crate>.wasm`):
//!
//! ```
//! use apirun_sdk::{Context, Outputs, Request, StepError};
//! use serde::Deserialize;
//!
//! /// The step's params: what the migration file says, rendered by the host.
//! #[derive(Deserialize)]
//! #[serde(deny_unknown_fields)]
//! struct Params {
//!     url: String,
//!     name: String,
//! }
//!
//! /// Extra checks for `apirun validate` (and before every run); optional.
//! fn check(params: &Params) -> Result<(), StepError> {
//!     if params.name.is_empty() {
//!         return Err(StepError::invalid_params("name: must not be empty"));
//!     }
//!     Ok(())
//! }
//!
//! /// Create a user and return its id as `user_id`.
//! #[apirun_sdk::step(name = "create-user", validate = check)]
//! fn run(ctx: &Context, params: Params) -> Result<Outputs, StepError> {
//!     let request = Request::post(&params.url)
//!         .json(&serde_json::json!({ "name": params.name }))?
//!         .auth("admin");
//!     let response = ctx.send(request)?;
//!     response.check_status(&["201", "2xx"])?;
//!     let id = response
//!         .extract("user.id")
//!         .ok_or_else(|| StepError::missing_value("user_id", "user.id"))?;
//!     ctx.info(format!("created user {id}"));
//!     Ok(Outputs::new().with("user_id", id))
//! }
//!
//! // The attribute generated `STEP`, which runs the step exactly as the host does (parse
//! // the JSON params, validate, run). In a real crate this is a `#[test]` in `mod tests`.
//! fn creates_a_user() {
//!     use apirun_sdk::{MockHost, Response};
//!
//!     let mock = MockHost::new().respond(Response::new(201).with_body(r#"{"user":{"id":42}}"#));
//!     let outputs = STEP
//!         .run_json(&mock.context(), r#"{"url": "http://api.local/users", "name": "ada"}"#)
//!         .expect("the step succeeds");
//!     assert_eq!(outputs.get("user_id"), Some("42"));
//!
//!     let sent = mock.last_request().expect("one request");
//!     assert_eq!((sent.method.as_str(), sent.url.as_str()), ("POST", "http://api.local/users"));
//!     assert_eq!(sent.body_text().as_deref(), Some(r#"{"name":"ada"}"#));
//!     assert_eq!(sent.auth.as_deref(), Some("admin"));
//!
//!     // a refused status is data, not a panic
//!     let mock = MockHost::new().respond(Response::new(409).with_body("exists"));
//!     let err = STEP
//!         .run_json(&mock.context(), r#"{"url": "http://api.local/users", "name": "ada"}"#)
//!         .expect_err("409 is not accepted");
//!     assert!(matches!(err, StepError::RejectedStatus { status: 409, .. }));
//!
//!     // params are checked before anything is sent
//!     assert!(matches!(
//!         STEP.validate_json(r#"{"url": "http://x", "name": ""}"#),
//!         Err(StepError::InvalidParams(_))
//!     ));
//!     assert!(matches!(
//!         STEP.validate_json(r#"{"url": "http://x"}"#),
//!         Err(StepError::InvalidParams(m)) if m == "missing field `name`"
//!     ));
//! }
//! # fn main() { creates_a_user() }
//! ```
//!
//! # The exported step
//!
//! `#[apirun_sdk::step(name = "...", version = "...", validate = path)]` goes on a
//! `fn(&Context, P) -> Result<Outputs, StepError>` where `P: serde::de::DeserializeOwned`.
//! `version` defaults to the crate's `CARGO_PKG_VERSION`; `validate` is an optional
//! `fn(&P) -> Result<(), StepError>`. The attribute keeps the function and adds
//! `const STEP: StepDef<P>` (with the function's visibility) and
//! [`export_step!(STEP)`](export_step), which on `wasm32` implements the WIT exports:
//!
//! - `describe` returns the name and version;
//! - `validate` deserializes the params, then runs the validator, sending nothing;
//! - `run` does the same, then calls the function with a [`Context`] over the real host.
//!
//! Params that do not deserialize are [`StepError::InvalidParams`] with serde's message and
//! the path of the offending field (`response.result_code[1]: invalid type: ...`).
//! Panics are not caught: they trap, and the host reports them as a plugin failure. In a
//! component the SDK installs a panic hook that writes the panic on a single stderr line,
//! `plugin panicked at src/lib.rs:7:5: <message>`, for the host to quote.
//!
//! Without the attribute, write the [`StepDef`] yourself and call [`export_step!`].

#![warn(missing_docs)]

// The generated bindings resolve the runtime through `apirun_sdk::...`, both in this crate
// and in the plugin crates that expand the export macro.
extern crate self as apirun_sdk;

mod error;
mod extract;
mod host;
mod mock;
mod outputs;
mod params;
mod request;
mod response;
mod status;
mod step_def;
mod wit;

pub use apirun_sdk_macros::step;
pub use error::{BODY_EXCERPT_BYTES, StepError, TransportError, body_excerpt};
pub use extract::extract;
pub use host::{Context, Host, LogLevel, WasmHost};
pub use mock::MockHost;
pub use outputs::Outputs;
pub use params::parse_params;
pub use request::{Request, append_query, percent_encode};
pub use response::Response;
pub use status::{StatusSet, check_status};
pub use step_def::{RunFn, StepDef, ValidateFn};

/// The version of the WIT package `apirun:step` this SDK builds plugins against; apirun
/// runs a plugin built against any 0.1.x up to the version it implements.
pub const WIT_VERSION: &str = "0.1.1";

/// The generated WIT bindings (`apirun:step@0.1.1`, world `step-plugin`). Not part of the
/// API: use the SDK's types and [`export_step!`].
#[doc(hidden)]
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "step-plugin",
        pub_export_macro: true,
        export_macro_name: "__export_step_plugin",
        default_bindings_module: "apirun_sdk::bindings",
        runtime_path: "apirun_sdk::__private::wit_bindgen::rt",
    });
}

/// What the macros expand to. Not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::exports::apirun::step::step::{
        Guest, PluginInfo, StepError, StepOutput,
    };
    pub use crate::wit::{describe, run, validate};
    pub use wit_bindgen;

    /// Fails to compile unless the step's params can be deserialized.
    pub const fn assert_exportable<P: serde::de::DeserializeOwned>(_step: &crate::StepDef<P>) {}
}

/// Export `step` (a [`StepDef`] constant or static) as this component's `step` interface.
///
/// `#[apirun_sdk::step]` calls this for you; call it yourself only with a hand-written
/// [`StepDef`]. Use it once per crate (a component exports one step). It expands to nothing
/// unless the target is `wasm32`, so native tests of the crate link normally.
#[macro_export]
macro_rules! export_step {
    ($step:path) => {
        // The params must deserialize on every target, not only where the export exists.
        const _: () = $crate::__private::assert_exportable(&$step);

        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
            struct __ApirunStepExport;

            impl $crate::__private::Guest for __ApirunStepExport {
                fn describe() -> $crate::__private::PluginInfo {
                    $crate::__private::describe(&$step)
                }

                fn validate(
                    params: ::std::string::String,
                ) -> ::core::result::Result<(), $crate::__private::StepError> {
                    $crate::__private::validate(&$step, &params)
                }

                fn run(
                    params: ::std::string::String,
                ) -> ::core::result::Result<
                    $crate::__private::StepOutput,
                    $crate::__private::StepError,
                > {
                    $crate::__private::run(&$step, &params)
                }
            }

            $crate::bindings::__export_step_plugin!(
                __ApirunStepExport with_types_in $crate::bindings
            );
        };
    };
}

/// Misuses of `#[apirun_sdk::step]` that must not compile.
///
/// No step name:
///
/// ```compile_fail
/// #[apirun_sdk::step]
/// fn run(_: &apirun_sdk::Context, _: ()) -> Result<apirun_sdk::Outputs, apirun_sdk::StepError> {
///     Ok(apirun_sdk::Outputs::new())
/// }
/// # fn main() {}
/// ```
///
/// An unknown argument:
///
/// ```compile_fail
/// #[apirun_sdk::step(name = "x", nmae = "y")]
/// fn run(_: &apirun_sdk::Context, _: ()) -> Result<apirun_sdk::Outputs, apirun_sdk::StepError> {
///     Ok(apirun_sdk::Outputs::new())
/// }
/// # fn main() {}
/// ```
///
/// No context parameter:
///
/// ```compile_fail
/// #[apirun_sdk::step(name = "x")]
/// fn run(_: ()) -> Result<apirun_sdk::Outputs, apirun_sdk::StepError> {
///     Ok(apirun_sdk::Outputs::new())
/// }
/// # fn main() {}
/// ```
///
/// Params that are not `DeserializeOwned`:
///
/// ```compile_fail
/// struct NotSerde;
/// #[apirun_sdk::step(name = "x")]
/// fn run(_: &apirun_sdk::Context, _: NotSerde) -> Result<apirun_sdk::Outputs, apirun_sdk::StepError> {
///     Ok(apirun_sdk::Outputs::new())
/// }
/// # fn main() {}
/// ```
///
/// A validator of the wrong type:
///
/// ```compile_fail
/// fn check(_: &u32) -> Result<(), apirun_sdk::StepError> { Ok(()) }
/// #[apirun_sdk::step(name = "x", validate = check)]
/// fn run(_: &apirun_sdk::Context, _: String) -> Result<apirun_sdk::Outputs, apirun_sdk::StepError> {
///     Ok(apirun_sdk::Outputs::new())
/// }
/// # fn main() {}
/// ```
///
/// And the accepted forms, for contrast:
///
/// ```
/// fn check(_: &String) -> Result<(), apirun_sdk::StepError> { Ok(()) }
/// #[apirun_sdk::step(name = "x", version = "9.9.9", validate = check)]
/// pub fn run(_: &apirun_sdk::Context, _: String) -> Result<apirun_sdk::Outputs, apirun_sdk::StepError> {
///     Ok(apirun_sdk::Outputs::new())
/// }
/// # fn main() {
/// assert_eq!((STEP.name, STEP.version), ("x", "9.9.9"));
/// # }
/// ```
#[cfg(doctest)]
#[allow(dead_code)]
struct StepAttributeMisuse;
