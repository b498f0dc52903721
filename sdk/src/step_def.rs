//! A step: name, version, params type, optional validator and the function that runs it.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::{Context, Outputs, StepError, parse_params};

/// The function that runs a step: context and deserialized params in, outputs out.
pub type RunFn<P> = fn(&Context<'_>, P) -> Result<Outputs, StepError>;

/// An extra check of deserialized params, run before every `run` and by `validate`.
pub type ValidateFn<P> = fn(&P) -> Result<(), StepError>;

/// Everything the host needs to know about a step; `#[apirun_sdk::step]` generates one named
/// `STEP` and exports it with [`export_step!`](crate::export_step).
///
/// The same value drives the component's exports and native tests, so a test through
/// [`StepDef::run_json`] runs the step exactly as the host does: parse, validate, run.
///
/// Written by hand (instead of the attribute) it looks like this:
///
/// ```
/// use apirun_sdk::{Context, Outputs, StepDef, StepError};
///
/// #[derive(serde::Deserialize)]
/// struct Params { greeting: String }
///
/// fn run(_ctx: &Context, params: Params) -> Result<Outputs, StepError> {
///     Ok(Outputs::new().with("said", params.greeting))
/// }
///
/// const STEP: StepDef<Params> = StepDef {
///     name: "hello",
///     version: env!("CARGO_PKG_VERSION"),
///     run,
///     validate: None,
/// };
/// apirun_sdk::export_step!(STEP);
/// # fn main() {}
/// ```
pub struct StepDef<P> {
    /// The step type name migrations use to select it (`http`, `job`, ...).
    pub name: &'static str,
    /// The plugin's own version (semver).
    pub version: &'static str,
    /// Runs the step.
    pub run: RunFn<P>,
    /// Checks params beyond deserialization (optional).
    pub validate: Option<ValidateFn<P>>,
}

impl<P> Clone for StepDef<P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for StepDef<P> {}

impl<P> fmt::Debug for StepDef<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StepDef")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("validate", &self.validate.is_some())
            .finish_non_exhaustive()
    }
}

impl<P: DeserializeOwned> StepDef<P> {
    /// Deserialize `params` and run the validator: what `validate` does, keeping the params.
    pub fn parse(&self, params: &str) -> Result<P, StepError> {
        let params = parse_params(params)?;
        if let Some(validate) = self.validate {
            validate(&params)?;
        }
        Ok(params)
    }

    /// The component's `validate` export: check `params` without sending anything.
    pub fn validate_json(&self, params: &str) -> Result<(), StepError> {
        self.parse(params).map(drop)
    }

    /// The component's `run` export: parse and validate `params`, then run the step.
    pub fn run_json(&self, ctx: &Context<'_>, params: &str) -> Result<Outputs, StepError> {
        let params = self.parse(params)?;
        (self.run)(ctx, params)
    }
}
