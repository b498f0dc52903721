//! Everything the user sees: diagnostics with source locations, logging, masking, results.

pub mod diagnostic;
pub mod junit;
pub mod mask;
pub mod run;

pub use diagnostic::{Diagnostic, Located, Location, did_you_mean};
