//! stages.yaml as loaded: every value keeps the place it was written, so a mistake found later
//! (an unknown dependency, a cycle, a condition that does not render) can point at its line.

use std::path::PathBuf;
use std::time::Duration;

use crate::report::{Located, Location};

/// The `apiVersion` a stages.yaml gets when it does not say (as in the Go original).
pub const DEFAULT_API_VERSION: &str = "apirun/v1";
/// The `kind` a stages.yaml gets when it does not say (as in the Go original).
pub const DEFAULT_KIND: &str = "StageOrchestration";

/// A loaded stages.yaml: the stages of a multi-project run and the settings shared by all.
#[derive(Debug, Clone)]
pub struct StagesFile {
    /// The file, as it was named when loaded.
    pub path: PathBuf,
    /// Its directory: every `config_path` is resolved against it.
    pub dir: PathBuf,
    /// `apiVersion` (default `apirun/v1`; any value is accepted, as by the Go original).
    pub api_version: String,
    /// `kind` (default `StageOrchestration`; any value is accepted).
    pub kind: String,
    /// The stages in file order (execution order comes from [`super::Graph`]).
    pub stages: Vec<Stage>,
    /// The `global` section.
    pub global: Global,
}

impl StagesFile {
    /// The stage named `name`.
    pub fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.name.value == name)
    }

    /// Stage names in file order, for did-you-mean suggestions and messages.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.stages.iter().map(|s| s.name.value.as_str())
    }
}

/// One stage: an ordinary apirun project (its own config.yaml, migrations and state) placed in
/// the dependency graph.
#[derive(Debug, Clone)]
pub struct Stage {
    /// The unique name other stages and the command line use.
    pub name: Located<String>,
    /// `config_path` resolved against the stages.yaml directory.
    pub config_path: PathBuf,
    /// `config_path` as written, with where.
    pub config_path_written: Located<String>,
    /// Stages that must run before this one.
    pub depends_on: Vec<Located<String>>,
    /// Variables for this stage's migrations (`env`), in file order.
    pub env: Vec<(String, Located<String>)>,
    /// Values this stage reads from the stores of upstream stages.
    pub env_from_stages: Vec<EnvFromStage>,
    /// Longest time the stage may run; `None` = unbounded.
    pub timeout: Option<Located<Duration>>,
    /// What a failure of this stage does to the rest of the run.
    pub on_failure: OnFailure,
    /// Run the stage only when this renders to true (`None` = always).
    pub condition: Option<Located<String>>,
    /// Where the stage's mapping starts.
    pub location: Location,
}

/// `env_from_stages[]`: which values to take from which upstream stage.
#[derive(Debug, Clone)]
pub struct EnvFromStage {
    /// The upstream stage (must be upstream of the stage that names it).
    pub stage: Located<String>,
    /// The variables to copy from that stage's exported values.
    pub vars: Vec<Located<String>>,
}

/// `on_failure`: what happens to the rest of a run when a stage fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnFailure {
    /// No further stage starts; the run fails (the default).
    #[default]
    Stop,
    /// The failure is reported and recorded, and the run goes on as if the stage succeeded.
    Continue,
    /// Every stage downstream of this one is skipped; independent stages still run, and the run
    /// fails at the end.
    SkipDependents,
}

impl OnFailure {
    /// The word used in stages.yaml.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Continue => "continue",
            Self::SkipDependents => "skip_dependents",
        }
    }
}

/// The `global` section.
#[derive(Debug, Clone)]
pub struct Global {
    /// Variables for every stage, below each stage's config env (lowest precedence).
    pub env: Vec<(String, Located<String>)>,
    /// Pause between batches (up) or between stages (down).
    pub wait_between_stages: Option<Duration>,
    /// How many independent stages may run at once (default 1: one after another).
    pub max_concurrent_stages: usize,
    /// When a stage fails and the run fails, roll back what this run applied.
    pub rollback_on_failure: bool,
}

impl Default for Global {
    fn default() -> Self {
        Self {
            env: Vec::new(),
            wait_between_stages: None,
            max_concurrent_stages: 1,
            rollback_on_failure: false,
        }
    }
}
