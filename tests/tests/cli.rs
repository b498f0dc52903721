//! The command line itself: every command's help has an example, completions are generated,
//! the published JSON Schemas are what `apirun schema` prints, and those schemas accept every
//! YAML example of the docs (which the loaders accept too, see docs.rs).

use std::path::PathBuf;

use apirun_tests::golden::assert_golden;
use apirun_tests::{Project, apirun_command};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every command path (`["stages", "up"]`), from the clap definition.
fn commands() -> Vec<Vec<String>> {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            if sub.get_name() == "help" {
                continue;
            }
            let mut p = path.clone();
            p.push(sub.get_name().to_string());
            out.push(p.clone());
            walk(sub, p, out);
        }
    }
    let mut out = vec![Vec::new()];
    walk(&apirun::cli::Cli::command(), Vec::new(), &mut out);
    out
}

#[test]
fn every_command_help_has_an_example() {
    let list = commands();
    assert!(list.len() > 20, "{list:?}");
    let p = Project::new();
    let mut missing = Vec::new();
    for path in &list {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let run = p.apirun(&args);
        run.ok();
        if !run.stdout.contains("Example") {
            missing.push(path.join(" "));
        }
    }
    assert!(missing.is_empty(), "no example in --help of: {missing:?}");
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    let p = Project::new();
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef apirun"),
        ("fish", "complete -c apirun"),
    ] {
        let run = p.apirun(&["completions", shell]);
        run.ok();
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        for word in ["stages", "output", "report-junit", "graph"] {
            assert!(run.stdout.contains(word), "{shell} completes no `{word}`");
        }
    }
    let run = p.apirun(&["completions", "tcsh"]);
    run.expect_code(2);
}

#[test]
fn published_schemas_are_what_apirun_schema_prints() {
    let p = Project::new();
    for kind in ["config", "migration", "stages"] {
        let run = p.apirun(&["schema", kind]);
        run.ok();
        let value: Value = serde_json::from_str(&run.stdout).expect("a JSON document");
        assert_eq!(
            value["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        // docs/schemas/ holds the files editors point at; UPDATE_GOLDEN=1 refreshes them.
        assert_golden(
            &format!("../../docs/schemas/{kind}.schema.json"),
            &run.stdout,
        );
    }
}

#[test]
fn output_json_also_for_a_failure_before_anything_ran() {
    let p = Project::new();
    let run = p.apirun(&["status", "--output", "json"]);
    run.expect_code(2);
    let value: Value = serde_json::from_str(&run.stdout).expect("a JSON document");
    assert_eq!(value["command"], "status");
    assert_eq!(value["ok"], false);
    assert_eq!(value["exit_code"], 2);
    assert!(
        value["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("config file not found")),
        "{value}"
    );
    assert!(
        run.stderr.contains("config file not found"),
        "{}",
        run.stderr
    );
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    // The tests' stdout and stderr are pipes: no escape sequence whatever NO_COLOR says.
    let p = Project::new();
    let mut cmd = apirun_command();
    cmd.current_dir(p.path())
        .env_remove("NO_COLOR")
        .args(["status"]);
    let out = cmd.output().expect("run apirun");
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!text.contains('\u{1b}'), "{text}");
}

// ---------------------------------------------------------------------------------------------
// The schemas accept the docs' examples

/// A JSON Schema check of the subset `apirun schema` emits: `type`, `enum`, `const`, `anyOf`,
/// `properties`, `additionalProperties`, `required`, `items`, `minimum`, `$ref` into `$defs`
/// (`pattern` is not checked). Returns the first problem.
fn check(root: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/$defs/");
        return check(root, &root["$defs"][name], value, at);
    }
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array)
        && !alternatives
            .iter()
            .any(|a| check(root, a, value, at).is_ok())
    {
        return Err(format!("{at}: matches none of anyOf: {value}"));
    }
    if let Some(list) = schema.get("enum").and_then(Value::as_array)
        && !list.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {list:?}"));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        return Err(format!("{at}: {value} is not {c}"));
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{at}: {actual} where {types:?} is expected"));
        }
    }
    if let (Some(min), Some(n)) = (
        schema.get("minimum").and_then(Value::as_f64),
        value.as_f64(),
    ) && n < min
    {
        return Err(format!("{at}: {n} < {min}"));
    }
    if let Value::Object(map) = value {
        let properties = schema.get("properties").and_then(Value::as_object);
        for (k, v) in map {
            match properties.and_then(|p| p.get(k)) {
                Some(s) => check(root, s, v, &format!("{at}.{k}"))?,
                None => match schema.get("additionalProperties") {
                    Some(Value::Bool(false)) => {
                        return Err(format!("{at}: `{k}` is not allowed"));
                    }
                    Some(s @ Value::Object(_)) => check(root, s, v, &format!("{at}.{k}"))?,
                    _ => {}
                },
            }
        }
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(r) {
                return Err(format!("{at}: `{r}` is required"));
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(root, s, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

#[test]
fn the_schema_checker_refuses_what_it_should() {
    let schema = apirun::config::json_schema();
    let good: Value =
        serde_saphyr::from_str("migrate_dir: m\nstore: {type: sqlite}\n").expect("yaml");
    assert_eq!(check(&schema, &schema, &good, ""), Ok(()));
    let typo: Value = serde_saphyr::from_str("migrat_dir: m\n").expect("yaml");
    assert!(check(&schema, &schema, &typo, "").is_err());
    let bad_enum: Value = serde_saphyr::from_str("store: {type: mysql}\n").expect("yaml");
    assert!(check(&schema, &schema, &bad_enum, "").is_err());
    let bad_type: Value = serde_saphyr::from_str("render_body: [1]\n").expect("yaml");
    assert!(check(&schema, &schema, &bad_type, "").is_err());
}

#[test]
fn the_schemas_accept_every_yaml_example_in_the_docs() {
    let mut files = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read");
        let mut block: Option<(usize, String)> = None;
        for (i, line) in text.lines().enumerate() {
            match &mut block {
                None if line.trim_start().starts_with("```yaml") => {
                    block = Some((i + 2, String::new()))
                }
                Some((start, body)) if line.trim_start().starts_with("```") => {
                    let first = body.lines().next().unwrap_or("").trim().to_string();
                    let schema = if first.contains("stages.yaml") {
                        Some(apirun::stages::json_schema())
                    } else if first.contains("config.yaml") {
                        Some(apirun::config::json_schema())
                    } else if first.contains("migration") {
                        Some(apirun::migration::json_schema())
                    } else {
                        None
                    };
                    if let Some(schema) = schema {
                        let value: Value = serde_saphyr::from_str(body).expect("yaml");
                        if let Err(e) = check(&schema, &schema, &value, "") {
                            failures.push(format!("{}:{start}: {e}", file.display()));
                        }
                        checked += 1;
                    }
                    block = None;
                }
                Some((_, body)) => {
                    body.push_str(line);
                    body.push('\n');
                }
                None => {}
            }
        }
    }
    assert!(checked >= 5, "only {checked} examples");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
