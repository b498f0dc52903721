//! apirun: API migrations whose steps run in sandboxed WebAssembly components.
//!
//! The pipeline runs in one direction: `config` and `migration` load the user's YAML with
//! source locations, `execute` plans and runs pending migrations (rendering templates with
//! `template`, running each step through a `plugin` whose requests go out through `http`),
//! `state` records what was applied, and `report` renders logs, errors and results.

pub mod auth;
pub mod cli;
pub mod config;
pub mod execute;
pub mod http;
pub mod migration;
pub mod plugin;
pub mod report;
pub mod stages;
pub mod state;
pub mod template;
