//! `apirun stages graph`: the stage graph as Mermaid or Graphviz DOT, each stage annotated with
//! its state when its store can be read.
//!
//! Edges point the way a run goes (a dependency to the stage that depends on it). A
//! `depends_on` edge is solid; values taken with `env_from_stages` label the edge, and when
//! they come from a stage further upstream they get a dashed edge of their own. Nodes come in
//! run order and edges in name order, so the text is the same on every machine.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use super::graph::Graph;
use super::model::StagesFile;
use super::plan::StageStatus;

/// Which language to draw in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagramFormat {
    /// Mermaid `flowchart` (renders in GitHub and GitLab Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// Fill, stroke and text colours of a stage state.
fn colours(state: &str) -> (&'static str, &'static str, &'static str) {
    match state {
        "succeeded" => ("#d1e7dd", "#198754", "#0f5132"),
        "failed" => ("#f8d7da", "#dc3545", "#842029"),
        "skipped" => ("#fff3cd", "#ffc107", "#664d03"),
        "rolled_back" => ("#e2e3e5", "#6c757d", "#41464b"),
        "unreadable" => ("#f8d7da", "#dc3545", "#842029"),
        _ => ("#ffffff", "#adb5bd", "#495057"),
    }
}

/// The states a legend may show, in order.
const STATES: &[&str] = &[
    "succeeded",
    "failed",
    "skipped",
    "rolled_back",
    "never_run",
    "unreadable",
];

struct Node {
    name: String,
    id: String,
    state: Option<String>,
    detail: Option<String>,
}

struct Edge {
    from: String,
    to: String,
    vars: Vec<String>,
    /// Values only (`env_from_stages` from a stage that is not a direct dependency).
    values_only: bool,
}

fn nodes(file: &StagesFile, graph: &Graph, statuses: Option<&[StageStatus]>) -> Vec<Node> {
    let mut used = BTreeSet::new();
    graph
        .order()
        .into_iter()
        .filter(|n| file.stage(n).is_some())
        .map(|name| {
            let base: String = name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let mut id = format!("s_{base}");
            let mut n = 2;
            while !used.insert(id.clone()) {
                id = format!("s_{base}_{n}");
                n += 1;
            }
            let status = statuses.and_then(|all| all.iter().find(|s| s.name == name));
            let (state, detail) = match status {
                None => (None, None),
                Some(s) if s.problem.is_some() => (Some("unreadable".to_string()), None),
                Some(s) => (
                    Some(
                        s.last_run
                            .as_ref()
                            .map_or("never_run".to_string(), |r| r.outcome.clone()),
                    ),
                    Some(format!(
                        "{} applied · {} pending",
                        s.applied.len(),
                        s.pending.len()
                    )),
                ),
            };
            Node {
                name,
                id,
                state,
                detail,
            }
        })
        .collect()
}

fn edges(file: &StagesFile, graph: &Graph) -> Vec<Edge> {
    let mut out: BTreeMap<(String, String), Edge> = BTreeMap::new();
    for stage in graph.order() {
        for dep in graph.dependencies(&stage) {
            out.insert(
                (dep.to_string(), stage.clone()),
                Edge {
                    from: dep.to_string(),
                    to: stage.clone(),
                    vars: Vec::new(),
                    values_only: false,
                },
            );
        }
        let Some(s) = file.stage(&stage) else {
            continue;
        };
        for e in &s.env_from_stages {
            if !graph.contains(&e.stage.value) || e.stage.value == stage {
                continue;
            }
            let edge = out
                .entry((e.stage.value.clone(), stage.clone()))
                .or_insert_with(|| Edge {
                    from: e.stage.value.clone(),
                    to: stage.clone(),
                    vars: Vec::new(),
                    values_only: true,
                });
            edge.vars.extend(e.vars.iter().map(|v| v.value.clone()));
        }
    }
    let order = graph.order();
    let position = |n: &str| order.iter().position(|o| o == n).unwrap_or(usize::MAX);
    let mut list: Vec<Edge> = out.into_values().collect();
    list.sort_by(|a, b| {
        (position(&a.to), position(&a.from), &a.from).cmp(&(
            position(&b.to),
            position(&b.from),
            &b.from,
        ))
    });
    list
}

/// The diagram of `file`; with `statuses` (from [`super::status`]), each stage shows its state.
pub fn render(
    file: &StagesFile,
    graph: &Graph,
    statuses: Option<&[StageStatus]>,
    format: DiagramFormat,
) -> String {
    let nodes = nodes(file, graph, statuses);
    let edges = edges(file, graph);
    match format {
        DiagramFormat::Mermaid => mermaid(&nodes, &edges),
        DiagramFormat::Dot => dot(&nodes, &edges),
    }
}

fn mermaid_text(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}

fn mermaid(nodes: &[Node], edges: &[Edge]) -> String {
    let id = |name: &str| {
        nodes
            .iter()
            .find(|n| n.name == name)
            .map_or_else(|| name.to_string(), |n| n.id.clone())
    };
    let mut out = String::from("flowchart LR\n");
    for n in nodes {
        let mut label = format!("<b>{}</b>", mermaid_text(&n.name));
        if let Some(state) = &n.state {
            label.push_str(&format!("<br/>{}", state.replace('_', " ")));
        }
        if let Some(detail) = &n.detail {
            label.push_str(&format!("<br/>{}", mermaid_text(detail)));
        }
        let _ = writeln!(out, "    {}[\"{label}\"]", n.id);
    }
    for e in edges {
        let arrow = if e.values_only { "-.->" } else { "-->" };
        if e.vars.is_empty() {
            let _ = writeln!(out, "    {} {arrow} {}", id(&e.from), id(&e.to));
        } else {
            let _ = writeln!(
                out,
                "    {} {arrow}|\"{}\"| {}",
                id(&e.from),
                mermaid_text(&e.vars.join(", ")),
                id(&e.to)
            );
        }
    }
    let used: BTreeSet<&str> = nodes.iter().filter_map(|n| n.state.as_deref()).collect();
    for state in STATES.iter().filter(|s| used.contains(**s)) {
        let (fill, stroke, color) = colours(state);
        let dash = if *state == "never_run" {
            ",stroke-dasharray:4 3"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "    classDef {state} fill:{fill},stroke:{stroke},color:{color}{dash}"
        );
        let members: Vec<&str> = nodes
            .iter()
            .filter(|n| n.state.as_deref() == Some(*state))
            .map(|n| n.id.as_str())
            .collect();
        let _ = writeln!(out, "    class {} {state}", members.join(","));
    }
    out
}

fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(nodes: &[Node], edges: &[Edge]) -> String {
    let mut out = String::from("digraph stages {\n");
    out.push_str("    rankdir=LR;\n");
    out.push_str(
        "    node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fillcolor=\"#ffffff\", color=\"#adb5bd\"];\n",
    );
    out.push_str("    edge [color=\"#495057\", fontname=\"Helvetica\", fontsize=10];\n");
    for n in nodes {
        let mut label = dot_text(&n.name);
        if let Some(state) = &n.state {
            label.push_str(&format!("\\n{}", state.replace('_', " ")));
        }
        if let Some(detail) = &n.detail {
            label.push_str(&format!("\\n{}", dot_text(detail)));
        }
        let mut attrs = format!("label=\"{label}\"");
        if let Some(state) = &n.state {
            let (fill, stroke, color) = colours(state);
            attrs.push_str(&format!(
                ", fillcolor=\"{fill}\", color=\"{stroke}\", fontcolor=\"{color}\""
            ));
            if state == "never_run" {
                attrs.push_str(", style=\"rounded,filled,dashed\"");
            }
        }
        let _ = writeln!(out, "    \"{}\" [{attrs}];", dot_text(&n.name));
    }
    for e in edges {
        let mut attrs = Vec::new();
        if e.values_only {
            attrs.push("style=dashed".to_string());
        }
        if !e.vars.is_empty() {
            attrs.push(format!("label=\"{}\"", dot_text(&e.vars.join(", "))));
        }
        let attrs = if attrs.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attrs.join(", "))
        };
        let _ = writeln!(
            out,
            "    \"{}\" -> \"{}\"{attrs};",
            dot_text(&e.from),
            dot_text(&e.to)
        );
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(yaml: &str) -> (tempfile::TempDir, StagesFile) {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["a b", "c\"d", "end"] {
            let folder = dir.path().join(name.replace(['"', ' '], "_"));
            std::fs::create_dir_all(&folder).expect("mkdir");
            std::fs::write(folder.join("config.yaml"), "migrate_dir: .\n").expect("write");
        }
        let path = dir.path().join("stages.yaml");
        std::fs::write(&path, yaml).expect("write");
        let file = crate::stages::load(&path).expect("loads");
        (dir, file)
    }

    const YAML: &str = r#"stages:
  - name: "a b"
    config_path: a_b/config.yaml
  - name: 'c"d'
    config_path: c_d/config.yaml
    depends_on: ["a b"]
  - name: end
    config_path: end/config.yaml
    depends_on: ['c"d']
    env_from_stages:
      - stage: "a b"
        vars: [x, y]
"#;

    #[test]
    fn names_that_are_not_identifiers_are_escaped() {
        let (_dir, f) = file(YAML);
        let g = Graph::new(&f);
        let mermaid = render(&f, &g, None, DiagramFormat::Mermaid);
        assert_eq!(
            mermaid,
            "flowchart LR\n    s_a_b[\"<b>a b</b>\"]\n    s_c_d[\"<b>c#quot;d</b>\"]\n    s_end[\"<b>end</b>\"]\n    s_a_b --> s_c_d\n    s_a_b -.->|\"x, y\"| s_end\n    s_c_d --> s_end\n"
        );
        let dot = render(&f, &g, None, DiagramFormat::Dot);
        assert!(dot.contains("\"c\\\"d\" [label=\"c\\\"d\"];"), "{dot}");
        assert!(
            dot.contains("\"a b\" -> \"end\" [style=dashed, label=\"x, y\"];"),
            "{dot}"
        );
    }

    #[test]
    fn states_colour_the_nodes() {
        let (_dir, f) = file(YAML);
        let g = Graph::new(&f);
        let statuses = crate::stages::status(&f, &g);
        let mermaid = render(&f, &g, Some(&statuses), DiagramFormat::Mermaid);
        assert!(
            mermaid.contains("s_end[\"<b>end</b><br/>never run<br/>0 applied · 0 pending\"]"),
            "{mermaid}"
        );
        assert!(
            mermaid.contains("    class s_a_b,s_c_d,s_end never_run\n"),
            "{mermaid}"
        );
    }
}
