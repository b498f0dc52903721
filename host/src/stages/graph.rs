//! The dependency graph of stages: cycles, execution order, upstream sets and `--stage` /
//! `--from` / `--to` ranges.
//!
//! Order is Kahn's algorithm in waves: a wave holds every stage whose dependencies all ran in
//! earlier waves, sorted by name (byte order), as the Go original did, so declaration order
//! never matters and the order is the same on every machine. The linear order is the waves one
//! after another; `up` runs waves in order (the stages of one wave may run in parallel), `down`
//! runs the linear order reversed.

use std::collections::{BTreeMap, BTreeSet};

use super::model::StagesFile;
use crate::report::did_you_mean;

/// Which way a run goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Dependencies first.
    Up,
    /// Dependents first (the reverse of up).
    Down,
}

impl Direction {
    /// `up` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
        }
    }
}

/// Stage names and their dependencies, by name. Dependencies that name no stage are left out
/// (they are reported by loading), so the graph is always closed.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// The graph of a stages file. With duplicate names, the first stage of a name wins.
    pub fn new(file: &StagesFile) -> Self {
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for stage in &file.stages {
            deps.entry(stage.name.value.clone()).or_default();
        }
        let known: BTreeSet<String> = deps.keys().cloned().collect();
        let mut seen = BTreeSet::new();
        for stage in &file.stages {
            if !seen.insert(stage.name.value.clone()) {
                continue;
            }
            let entry = deps.entry(stage.name.value.clone()).or_default();
            for d in &stage.depends_on {
                if known.contains(&d.value) {
                    entry.insert(d.value.clone());
                }
            }
        }
        Self { deps }
    }

    /// Build a graph from `(stage, dependencies)` pairs (for tests and embedders).
    pub fn from_edges<'a>(edges: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) -> Self {
        let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, ds) in edges {
            deps.entry(name.to_string())
                .or_default()
                .extend(ds.iter().map(|d| d.to_string()));
        }
        let known: BTreeSet<String> = deps.keys().cloned().collect();
        for ds in deps.values_mut() {
            ds.retain(|d| known.contains(d));
        }
        Self { deps }
    }

    /// Whether a stage of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.deps.contains_key(name)
    }

    /// Direct dependencies of `name`, sorted.
    pub fn dependencies(&self, name: &str) -> impl Iterator<Item = &str> {
        self.deps
            .get(name)
            .into_iter()
            .flat_map(|d| d.iter().map(String::as_str))
    }

    /// Every stage `name` depends on, directly or through others (never `name` itself, even
    /// on a cycle).
    pub fn upstream(&self, name: &str) -> BTreeSet<String> {
        let mut out = self.reach(name);
        out.remove(name);
        out
    }

    /// Every stage reachable from `name` along dependency edges; `name` itself only when it is
    /// on a cycle.
    fn reach(&self, name: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut todo: Vec<&str> = self.dependencies(name).filter(|d| *d != name).collect();
        while let Some(n) = todo.pop() {
            if out.insert(n.to_string()) {
                todo.extend(self.dependencies(n).filter(|d| *d != n));
            }
        }
        out
    }

    /// Every stage that depends on `name`, directly or through others.
    pub fn downstream(&self, name: &str) -> BTreeSet<String> {
        self.deps
            .keys()
            .filter(|n| n.as_str() != name && self.upstream(n).contains(name))
            .cloned()
            .collect()
    }

    /// One cycle per group of stages that depend on each other in a circle, each as the
    /// shortest path from the group's smallest name back to itself (`a → b → a`), in name
    /// order. Self-dependencies are left out (they are reported on their own).
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut done: BTreeSet<String> = BTreeSet::new();
        let mut out = Vec::new();
        for start in self.deps.keys() {
            if done.contains(start) {
                continue;
            }
            let reach = self.reach(start);
            if !reach.contains(start) {
                continue;
            }
            // The group: stages reachable from `start` that reach it back.
            let group: BTreeSet<String> = reach
                .iter()
                .filter(|n| self.reach(n).contains(start))
                .cloned()
                .collect();
            done.extend(group.iter().cloned());
            if let Some(path) = self.shortest_cycle(start, &group) {
                out.push(path);
            }
        }
        out
    }

    /// Breadth-first from `start` along dependency edges inside `group`, back to `start`.
    fn shortest_cycle(&self, start: &str, group: &BTreeSet<String>) -> Option<Vec<String>> {
        let mut previous: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([start.to_string()]);
        while let Some(n) = queue.pop_front() {
            for d in self.dependencies(&n) {
                if d == n || !group.contains(d) {
                    continue;
                }
                if d == start {
                    // Walk back from `n` to `start`, then read it forwards.
                    let mut back = Vec::new();
                    let mut at = n.clone();
                    while at != start {
                        back.push(at.clone());
                        at = previous.get(&at)?.clone();
                    }
                    let mut path = vec![start.to_string()];
                    path.extend(back.into_iter().rev());
                    path.push(start.to_string());
                    return Some(path);
                }
                if d != start && !previous.contains_key(d) {
                    previous.insert(d.to_string(), n.clone());
                    queue.push_back(d.to_string());
                }
            }
        }
        None
    }

    /// The stages in waves: each wave holds the stages whose dependencies all ran in earlier
    /// waves, sorted by name. Stages on or behind a cycle are left out (load reports cycles).
    pub fn waves(&self) -> Vec<Vec<String>> {
        let mut remaining: BTreeMap<&str, usize> = self
            .deps
            .iter()
            .map(|(n, d)| (n.as_str(), d.iter().filter(|x| *x != n).count()))
            .collect();
        let mut waves = Vec::new();
        loop {
            let wave: Vec<String> = remaining
                .iter()
                .filter(|(_, count)| **count == 0)
                .map(|(n, _)| n.to_string())
                .collect();
            if wave.is_empty() {
                break;
            }
            for n in &wave {
                remaining.remove(n.as_str());
            }
            for (name, count) in remaining.iter_mut() {
                let satisfied = self
                    .dependencies(name)
                    .filter(|d| wave.iter().any(|w| w == d))
                    .count();
                *count -= satisfied;
            }
            waves.push(wave);
        }
        waves
    }

    /// The up order: the waves one after another.
    pub fn order(&self) -> Vec<String> {
        self.waves().into_iter().flatten().collect()
    }
}

/// Which stages a command runs: everything, one stage, or an inclusive range of the order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// `--stage S`: exactly S.
    pub stage: Option<String>,
    /// `--from S`: S and everything after it in the run's order.
    pub from: Option<String>,
    /// `--to S`: everything up to and including S in the run's order.
    pub to: Option<String>,
}

impl Selection {
    /// Everything.
    pub fn all() -> Self {
        Self::default()
    }

    /// True when no flag narrows the run.
    pub fn is_all(&self) -> bool {
        self.stage.is_none() && self.from.is_none() && self.to.is_none()
    }

    /// `from <beginning> to <end>`-style description for plans.
    pub fn describe(&self) -> String {
        if let Some(s) = &self.stage {
            return format!("stage {s}");
        }
        format!(
            "from {} to {}",
            self.from.as_deref().unwrap_or("<beginning>"),
            self.to.as_deref().unwrap_or("<end>")
        )
    }
}

/// Why a selection cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A flag names a stage that does not exist.
    #[error("{flag}: stage `{name}` not found")]
    UnknownStage {
        /// `--stage`, `--from` or `--to`.
        flag: &'static str,
        /// The name as given.
        name: String,
        /// A close existing name, if any.
        suggestion: Option<String>,
        /// Every stage name, in order.
        known: Vec<String>,
    },
    /// `--from` comes after `--to` in the run's order.
    #[error("--from {from} comes after --to {to} in the {direction} order ({order})")]
    Reversed {
        /// The `--from` stage.
        from: String,
        /// The `--to` stage.
        to: String,
        /// `up` or `down`.
        direction: &'static str,
        /// The run's order, for the message.
        order: String,
    },
}

impl SelectError {
    /// How to fix it.
    pub fn hint(&self) -> String {
        match self {
            Self::UnknownStage {
                suggestion: Some(s),
                ..
            } => format!("did you mean `{s}`?"),
            Self::UnknownStage { known, .. } => {
                format!("stages in stages.yaml: {}", known.join(", "))
            }
            Self::Reversed { direction, .. } if *direction == "down" => {
                "`stages down` runs in reverse order (dependents first): --from names the first stage to roll back, --to the last".to_string()
            }
            Self::Reversed { .. } => {
                "--from names the first stage to run, --to the last; `stages up --dry-run` prints the order".to_string()
            }
        }
    }
}

/// The stages a command runs, in the order of `direction`, both ends inclusive.
pub fn select(
    graph: &Graph,
    direction: Direction,
    selection: &Selection,
) -> Result<Vec<String>, SelectError> {
    let mut order = graph.order();
    if direction == Direction::Down {
        order.reverse();
    }
    let position = |flag: &'static str, name: &str| {
        order
            .iter()
            .position(|n| n == name)
            .ok_or_else(|| SelectError::UnknownStage {
                flag,
                name: name.to_string(),
                suggestion: did_you_mean(name, order.iter().map(String::as_str))
                    .map(str::to_string),
                known: order.clone(),
            })
    };
    if let Some(s) = &selection.stage {
        let i = position("--stage", s)?;
        return Ok(vec![order[i].clone()]);
    }
    let start = match &selection.from {
        Some(f) => position("--from", f)?,
        None => 0,
    };
    let end = match &selection.to {
        Some(t) => position("--to", t)?,
        None => order.len().saturating_sub(1),
    };
    if order.is_empty() {
        return Ok(Vec::new());
    }
    if start > end {
        return Err(SelectError::Reversed {
            from: selection.from.clone().unwrap_or_default(),
            to: selection.to.clone().unwrap_or_default(),
            direction: direction.as_str(),
            order: order.join(" → "),
        });
    }
    Ok(order[start..=end].to_vec())
}

/// The selected stages grouped into the graph's waves (up), keeping only non-empty waves.
pub fn batches(graph: &Graph, selected: &[String]) -> Vec<Vec<String>> {
    graph
        .waves()
        .into_iter()
        .map(|w| {
            w.into_iter()
                .filter(|n| selected.contains(n))
                .collect::<Vec<_>>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}
