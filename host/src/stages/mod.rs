//! Multi-stage orchestration: a stages.yaml ties many projects into a graph of stages whose
//! exported values flow to the stages that depend on them.
//!
//! The pipeline mirrors a single project's: [`load`] reads stages.yaml with a location on every
//! value and checks everything this file alone can tell (names, dependencies, cycles,
//! `env_from_stages` targets, config files, conditions); [`Graph`] orders the stages in waves
//! with a by-name tie-break and applies `--stage`/`--from`/`--to` ([`select`]);
//! [`Projects::load`] loads every stage's config and migrations before anything runs;
//! [`plan`] and [`status`] read the stages' stores without sending or creating anything; and
//! [`Executor`] runs stages (see `run` for the rules on failures, timeouts and concurrency).
//!
//! Each stage keeps its own state in its own store (from its config.yaml). A stage's exported
//! values *are* its store's stored variables, so a dependent stage reads them from there and
//! `apirun stages up --stage X` works in a later process once X's upstream stages have run.

mod condition;
mod diagram;
mod graph;
mod load;
mod model;
mod plan;
mod project;
mod run;

#[cfg(test)]
mod tests;

pub use condition::{ConditionError, decide as decide_condition, evaluate as evaluate_condition};
pub use diagram::{DiagramFormat, render as render_diagram};
pub use graph::{Direction, Graph, SelectError, Selection, batches, select};
pub(crate) use load::STAGES;
pub use load::{decode, load};

/// The JSON Schema of stages.yaml, generated from the tables its loader checks keys against.
pub fn json_schema() -> serde_json::Value {
    crate::config::schema::json_schema(
        &STAGES,
        &format!("{}/stages.schema.json", crate::config::SCHEMA_BASE),
        "apirun stages.yaml",
    )
}
pub use model::{
    DEFAULT_API_VERSION, DEFAULT_KIND, EnvFromStage, Global, OnFailure, Stage, StagesFile,
};
pub use plan::{Plan, PlannedStage, StageStatus, plan, status};
pub use project::{Projects, StageState, exported, peek_store, state_location};
pub use run::{
    Executor, RunReport, StageError, StageEvents, StageOutcome, StageReport, fmt_duration,
};
