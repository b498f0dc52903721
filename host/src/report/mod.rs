//! Everything the user sees: diagnostics with source locations, logging, masking, results.

pub mod diagnostic;
pub mod mask;

pub use diagnostic::{Diagnostic, Located, Location, did_you_mean};
