//! Reading stages.yaml: every key of the Go original's format, strict about unknown keys and bad
//! values, and every check that needs only this file (names, dependencies, cycles,
//! `env_from_stages` targets, config files that exist, conditions that render), all reported at
//! once with file:line:col.

use std::path::{Path, PathBuf};

use super::condition::{self, ConditionError};
use super::graph::Graph;
use super::model::*;
use crate::config::LoadError;
use crate::config::schema::{Key, Section, Shape};
use crate::config::yaml::{self, Fields, Node, NodeKind, Problems, item_path};
use crate::report::{Diagnostic, Located, Location, did_you_mean};
use crate::template::{Renderer, Vars};

/// stages.yaml, the top level.
pub(crate) static STAGES: Section = Section {
    name: "stages",
    doc: "A multi-stage run: apirun projects (stages) in a dependency graph, values flowing from each stage to the stages that depend on it.",
    keys: &[
        Key::new("apiVersion", Shape::Text, "Any value (default apirun/v1)."),
        Key::new(
            "kind",
            Shape::Text,
            "Any value (default StageOrchestration).",
        ),
        Key::required(
            "stages",
            Shape::List(&STAGE_SHAPE),
            "The stages, in any order.",
        ),
        Key::new(
            "global",
            Shape::Section(&GLOBAL),
            "Settings for the whole run.",
        ),
    ],
};

static STAGE_SHAPE: Shape = Shape::Section(&STAGE);
/// `env` of a stage or of `global`: a mapping, or config.yaml's `{name, value}` list.
const STAGE_ENV: Shape = Shape::AnyOf(&[Shape::Vars, Shape::Pairs]);

static STAGE: Section = Section {
    name: "stage",
    doc: "One stage: an ordinary apirun project (its own config.yaml, migrations and state).",
    keys: &[
        Key::required("name", Shape::Text, "The stage's unique name."),
        Key::required(
            "config_path",
            Shape::Text,
            "The stage's config.yaml, relative to stages.yaml.",
        ),
        Key::new(
            "depends_on",
            Shape::Texts { one_allowed: true },
            "Stages that must run first: a list, or one name.",
        ),
        Key::new("env", STAGE_ENV, "Variables for this stage's migrations."),
        Key::new(
            "env_from_stages",
            Shape::List(&ENV_FROM_SHAPE),
            "Values to read from upstream stages' state.",
        ),
        Key::new(
            "timeout",
            Shape::Duration,
            "Longest time the stage may run.",
        ),
        Key::new(
            "on_failure",
            Shape::Word(ON_FAILURE_NAMES),
            "What a failure does: stop (default), continue, or skip_dependents.",
        ),
        Key::new(
            "condition",
            Shape::Text,
            "Run the stage only when this renders to true (`{{.environment}} == 'staging'`).",
        ),
    ],
};

static ENV_FROM_SHAPE: Shape = Shape::Section(&ENV_FROM);
static ENV_FROM: Section = Section {
    name: "env_from_stage",
    doc: "Values to take from one upstream stage.",
    keys: &[
        Key::required("stage", Shape::Text, "The upstream stage."),
        Key::required(
            "vars",
            Shape::Texts { one_allowed: true },
            "The variables to copy from its exported values.",
        ),
    ],
};

static GLOBAL: Section = Section {
    name: "global",
    doc: "Settings for the whole run.",
    keys: &[
        Key::new(
            "env",
            STAGE_ENV,
            "Variables for every stage (lowest precedence).",
        ),
        Key::new(
            "wait_between_stages",
            Shape::Duration,
            "Pause between waves (up) or stages (down).",
        ),
        Key::new(
            "max_concurrent_stages",
            Shape::Count,
            "How many independent stages may run at once (default 1).",
        ),
        Key::new(
            "rollback_on_failure",
            Shape::Bool,
            "When the run fails, roll back what this run applied.",
        ),
    ],
};

/// The words of `on_failure`, in the order of [`ON_FAILURE`].
const ON_FAILURE_NAMES: &[&str] = &["stop", "continue", "skip_dependents"];
const ON_FAILURE: &[(&str, OnFailure)] = &[
    ("stop", OnFailure::Stop),
    ("continue", OnFailure::Continue),
    ("skip_dependents", OnFailure::SkipDependents),
];

/// Read stages.yaml and check it; every problem of the file at once.
pub fn load(path: &Path) -> Result<StagesFile, LoadError> {
    let (file, problems) = decode(path)?;
    if problems.is_empty() {
        Ok(file)
    } else {
        Err(LoadError::Invalid(problems))
    }
}

/// Read stages.yaml, returning what could be decoded and every problem found (in file order),
/// so `stages validate` can go on to check the stages' own projects. Fails outright only when
/// the file cannot be read or is not YAML.
pub fn decode(path: &Path) -> Result<(StagesFile, Vec<Diagnostic>), LoadError> {
    if path.is_dir() {
        return Err(LoadError::diagnostic(
            Diagnostic::new(
                None,
                format!("stages file path is a directory: {}", path.display()),
            )
            .with_hint("pass the stages.yaml file itself with `--config`"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            LoadError::diagnostic(
                Diagnostic::new(None, format!("stages file not found: {}", path.display()))
                    .with_hint(
                        "pass `--config <path>` (for `apirun stages` the default is ./stages.yaml), or create the file",
                    ),
            )
        } else {
            LoadError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        LoadError::diagnostic(Diagnostic::at(
            Location::file_start(path),
            "stages file is not valid UTF-8",
        ))
    })?;
    let root = yaml::parse(path, &text)
        .map_err(LoadError::diagnostic)?
        .unwrap_or_else(|| Node::null(Location::file_start(path)));
    let mut p = Problems::new();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file = decode_root(path, &dir, &root, &mut p);
    if let Some(file) = &file {
        check(file, &mut p);
    }
    let problems = match p.finish(()) {
        Ok(()) => Vec::new(),
        Err(e) => e.diagnostics(),
    };
    let file = file.unwrap_or_else(|| StagesFile {
        path: path.to_path_buf(),
        dir,
        api_version: DEFAULT_API_VERSION.into(),
        kind: DEFAULT_KIND.into(),
        stages: Vec::new(),
        global: Global::default(),
    });
    Ok((file, problems))
}

fn decode_root(path: &Path, dir: &Path, root: &Node, p: &mut Problems) -> Option<StagesFile> {
    // A project's config.yaml passed by mistake (e.g. through APIRUN_CONFIG): say so once
    // instead of listing each of its keys as unknown.
    if let NodeKind::Map(entries) = &root.kind
        && !entries.iter().any(|e| e.key == "stages")
        && let Some(e) = entries
            .iter()
            .find(|e| matches!(e.key.as_str(), "migrate_dir" | "store" | "auth"))
    {
        p.push(
            Diagnostic::at(
                e.key_location.clone(),
                format!(
                    "{} looks like a project's config.yaml (it has `{}`), not a stages.yaml",
                    path.display(),
                    e.key
                ),
            )
            .with_hint(
                "`apirun stages` reads a stages.yaml (`stages:` list, default ./stages.yaml); pass it with `--config`, or run the project with `apirun up --config <config.yaml>`",
            ),
        );
        return None;
    }
    let f = Fields::new(root, "", &STAGES, p)?;
    let api_version = f
        .string("apiVersion", p)
        .map(|s| s.value.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
    let kind = f
        .string("kind", p)
        .map(|s| s.value.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_KIND.to_string());
    let mut stages = Vec::new();
    match f.present("stages") {
        Some(node) => {
            if let Some(items) = yaml::seq(node, "stages", "a list of stages", p) {
                for (i, item) in items.iter().enumerate() {
                    if let Some(s) = stage(item, &item_path("stages", i), dir, p) {
                        stages.push(s);
                    }
                }
                if items.is_empty() {
                    p.push(no_stages(node.location.clone()));
                }
            }
        }
        None => {
            let at = f
                .entry("stages")
                .map_or_else(|| Location::file_start(path), |e| e.key_location.clone());
            p.push(no_stages(at));
        }
    }
    let global = f
        .fields("global", &GLOBAL, p)
        .map(|g| global(&g, p))
        .unwrap_or_default();
    Some(StagesFile {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        api_version,
        kind,
        stages,
        global,
    })
}

fn no_stages(at: Location) -> Diagnostic {
    Diagnostic::at(at, "no stages defined").with_hint(
        "add a list under `stages:`, each with `name` and `config_path` (a config.yaml relative to stages.yaml)",
    )
}

fn env_map(f: &Fields<'_>, key: &str, p: &mut Problems) -> Vec<(String, Located<String>)> {
    match f.present(key) {
        // The list form of config.yaml (`- name: X / value: Y`) is accepted too.
        Some(n) if matches!(n.kind, NodeKind::Seq(_)) => yaml::pairs(n, &f.child(key), p)
            .into_iter()
            .map(|pair| (pair.name, pair.value))
            .collect(),
        Some(_) => f.scalar_map(key, p),
        None => Vec::new(),
    }
}

fn stage(node: &Node, path: &str, dir: &Path, p: &mut Problems) -> Option<Stage> {
    let f = Fields::new(node, path, &STAGE, p)?;
    let name = f.required_string("name", p);
    let config = f.required_string("config_path", p);
    let depends_on = f.string_list("depends_on", true, p).unwrap_or_default();
    let env = env_map(&f, "env", p);
    let env_from_stages = f
        .present("env_from_stages")
        .map(|n| env_from_stages(n, &f.child("env_from_stages"), p))
        .unwrap_or_default();
    let timeout = f.duration("timeout", p);
    if let Some(t) = &timeout
        && t.value.is_zero()
    {
        p.push(
            Diagnostic::at(
                t.location.clone(),
                format!("`{}` must be more than 0", f.child("timeout")),
            )
            .with_hint("remove `timeout` for no limit, or write e.g. `300s`"),
        );
    }
    let on_failure = f.one_of("on_failure", ON_FAILURE, p).unwrap_or_default();
    let condition = f
        .string("condition", p)
        .filter(|c| !c.value.trim().is_empty());
    let (name, config) = (name?, config?);
    let written = config.value.clone();
    let config_path = if Path::new(&written).is_absolute() || dir == Path::new(".") {
        PathBuf::from(&written)
    } else {
        dir.join(&written)
    };
    Some(Stage {
        name,
        config_path,
        config_path_written: config,
        depends_on,
        env,
        env_from_stages,
        timeout,
        on_failure,
        condition,
        location: f.location().clone(),
    })
}

fn env_from_stages(node: &Node, path: &str, p: &mut Problems) -> Vec<EnvFromStage> {
    let Some(items) = yaml::seq(node, path, "a list of `{stage, vars}` entries", p) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ipath = item_path(path, i);
        let Some(f) = Fields::new(item, &ipath, &ENV_FROM, p) else {
            continue;
        };
        let stage = f.required_string("stage", p);
        let vars = match f.present("vars") {
            Some(_) => f.string_list("vars", true, p).unwrap_or_default(),
            None => {
                f.require(
                    "vars",
                    Some("list the variables to take from that stage, e.g. `vars: [vpc_id]`"),
                    p,
                );
                Vec::new()
            }
        };
        if let Some(stage) = stage {
            out.push(EnvFromStage { stage, vars });
        }
    }
    out
}

fn global(f: &Fields<'_>, p: &mut Problems) -> Global {
    let env = env_map(f, "env", p);
    let wait_between_stages = f
        .duration("wait_between_stages", p)
        .map(|d| d.value)
        .filter(|d| !d.is_zero());
    let max_concurrent_stages = match f.unsigned("max_concurrent_stages", p) {
        Some(n) if n.value == 0 => {
            p.push(
                Diagnostic::at(
                    n.location,
                    "`global.max_concurrent_stages` must be at least 1",
                )
                .with_hint(
                    "1 runs stages one after another; more runs independent stages in parallel",
                ),
            );
            1
        }
        Some(n) => usize::try_from(n.value).unwrap_or(usize::MAX),
        None => 1,
    };
    let rollback_on_failure = f.bool("rollback_on_failure", p).unwrap_or(false);
    Global {
        env,
        wait_between_stages,
        max_concurrent_stages,
        rollback_on_failure,
    }
}

// ---------------------------------------------------------------------------------------------
// Checks across stages

fn check(file: &StagesFile, p: &mut Problems) {
    let names: Vec<&str> = file.names().collect();
    // Duplicate names: the later one is the mistake.
    for (i, s) in file.stages.iter().enumerate() {
        if let Some(first) = file.stages[..i]
            .iter()
            .find(|o| o.name.value == s.name.value)
        {
            p.push(
                Diagnostic::at(
                    s.name.location.clone(),
                    format!("duplicate stage name: {}", s.name.value),
                )
                .with_hint(format!(
                    "`{}` is already defined on line {}; stage names must be unique (e.g. `{}-setup`, `{}-config`)",
                    s.name.value, first.name.location.line, s.name.value, s.name.value
                )),
            );
        }
    }
    let graph = Graph::new(file);
    for s in &file.stages {
        let name = &s.name.value;
        for d in &s.depends_on {
            if d.value == *name {
                p.push(
                    Diagnostic::at(
                        d.location.clone(),
                        format!("stage {name}: cannot depend on itself"),
                    )
                    .with_hint(format!("remove `{name}` from its own `depends_on`")),
                );
            } else if !names.contains(&d.value.as_str()) {
                p.push(
                    Diagnostic::at(
                        d.location.clone(),
                        format!("stage {name}: dependency {} not found", d.value),
                    )
                    .with_hint(unknown_stage_hint(&d.value, &names)),
                );
            }
        }
        for e in &s.env_from_stages {
            let up = &e.stage.value;
            if up == name {
                p.push(
                    Diagnostic::at(
                        e.stage.location.clone(),
                        format!("stage {name}: env_from_stages names the stage itself"),
                    )
                    .with_hint(
                        "values a stage extracts are already visible to its own later migrations; remove this entry",
                    ),
                );
            } else if !names.contains(&up.as_str()) {
                p.push(
                    Diagnostic::at(
                        e.stage.location.clone(),
                        format!("stage {name}: env_from_stages stage {up} not found"),
                    )
                    .with_hint(unknown_stage_hint(up, &names)),
                );
            } else if !graph.upstream(name).contains(up) {
                p.push(
                    Diagnostic::at(
                        e.stage.location.clone(),
                        format!(
                            "stage {name}: env_from_stages stage {up} is not a dependency of {name}"
                        ),
                    )
                    .with_hint(format!(
                        "add `{up}` to the `depends_on` of {name} (directly or through another stage), so it runs first and its values exist"
                    )),
                );
            }
        }
        if !s.config_path.exists() {
            p.push(
                Diagnostic::at(
                    s.config_path_written.location.clone(),
                    format!(
                        "stage {name}: config file not found: {}",
                        s.config_path.display()
                    ),
                )
                .with_hint(format!(
                    "`config_path` is relative to the folder of {}: create the file (`migrate_dir: migration` is enough) or fix the path",
                    file.path.display()
                )),
            );
        } else if s.config_path.is_dir() {
            p.push(
                Diagnostic::at(
                    s.config_path_written.location.clone(),
                    format!(
                        "stage {name}: config_path is a directory: {}",
                        s.config_path.display()
                    ),
                )
                .with_hint(format!(
                    "name the config file itself, e.g. `{}/config.yaml`",
                    s.config_path_written.value.trim_end_matches('/')
                )),
            );
        }
        if let Some(c) = &s.condition
            && let Err(e) = condition::evaluate(
                &Renderer::new(),
                &c.value,
                &condition_vars_for_check(file, s),
                &|_| None,
            )
        {
            p.push(condition_problem(name, c, &e));
        }
    }
    for cycle in graph.cycles() {
        let at = file
            .stage(&cycle[0])
            .and_then(|s| s.depends_on.iter().find(|d| d.value == cycle[1]))
            .map(|d| d.location.clone())
            .or_else(|| file.stage(&cycle[0]).map(|s| s.name.location.clone()));
        p.push(
            Diagnostic::new(
                at,
                format!("circular dependency detected: {}", cycle.join(" → ")),
            )
            .with_hint(
                "each stage in the circle depends on the next; remove one of these `depends_on` entries",
            ),
        );
    }
}

fn unknown_stage_hint(name: &str, names: &[&str]) -> String {
    match did_you_mean(name, names.iter().copied()) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!(
            "stages in this file: {}; fix the name, add the stage, or remove the entry",
            names.join(", ")
        ),
    }
}

/// A condition that cannot be decided, located at the condition.
pub(crate) fn condition_problem(
    stage: &str,
    c: &Located<String>,
    e: &ConditionError,
) -> Diagnostic {
    Diagnostic::at(
        c.location.clone(),
        format!("stage {stage}: invalid condition `{}`: {e}", c.value.trim()),
    )
    .with_hint(e.hint())
}

/// What a condition sees while it is checked at load time: global env, stage env, and a
/// stand-in for each value it will read from upstream stages.
fn condition_vars_for_check(file: &StagesFile, stage: &Stage) -> Vars {
    let mut vars = Vars::new();
    for (k, v) in &file.global.env {
        vars.insert(k.clone(), v.value.clone());
    }
    for (k, v) in &stage.env {
        vars.insert(k.clone(), v.value.clone());
    }
    for e in &stage.env_from_stages {
        for v in &e.vars {
            vars.insert(
                v.value.clone(),
                format!("<{} from {}>", v.value, e.stage.value),
            );
        }
    }
    vars
}
