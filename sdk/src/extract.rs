//! Values from JSON bodies by gjson path, converted to strings.

/// The value at gjson `path` in the JSON `body`, as a string; `None` if the body is empty,
/// not JSON (or not UTF-8), or holds nothing at `path`.
///
/// The path language is gjson's (the `gjson` crate, as in the built-in `http` step): dotted
/// keys (`vpc.id`), array indexes (`vpc.subnets.0.id`), `#` (length), `#.field` (projection),
/// `#(cond)` / `#(cond)#` queries, `*` / `?` wildcards, `\.` escapes, `@modifiers` and
/// multipaths. Surrounding whitespace of `path` is ignored; an empty path finds nothing.
///
/// Conversion to a string:
///
/// | JSON value | string |
/// |---|---|
/// | string | its content, unescaped |
/// | number | exactly as written (`12345678901234567` stays that, `1.50` stays `1.50`) |
/// | `true` / `false` | `true` / `false` |
/// | `null` | `""` (present, not missing) |
/// | object / array | compact JSON, keys in body order, strings as escaped in the body |
///
/// ```
/// use apirun_sdk::extract;
///
/// let body = br#"{"vpc": {"id": "vpc-1", "subnets": [{"id": "s-1"}, {"id": "s-2"}],
///                 "big": 12345678901234567, "tags": null}}"#;
/// assert_eq!(extract(body, "vpc.subnets.1.id").as_deref(), Some("s-2"));
/// assert_eq!(extract(body, "vpc.subnets.#").as_deref(), Some("2"));
/// assert_eq!(extract(body, "vpc.subnets.#.id").as_deref(), Some(r#"["s-1","s-2"]"#));
/// assert_eq!(extract(body, "vpc.big").as_deref(), Some("12345678901234567"));
/// assert_eq!(extract(body, "vpc.tags").as_deref(), Some(""));
/// assert_eq!(extract(body, "vpc.nope"), None);
/// assert_eq!(extract(b"not json", "vpc"), None);
/// ```
pub fn extract(body: &[u8], path: &str) -> Option<String> {
    let path = path.trim();
    if path.is_empty() {
        return None;
    }
    let json = std::str::from_utf8(body).ok()?;
    if json.trim().is_empty() || nesting_depth(json.as_bytes()) > MAX_DEPTH || !gjson::valid(json) {
        return None;
    }
    let value = gjson::get(json, path);
    if !value.exists() {
        return None;
    }
    Some(to_string(&value))
}

/// Deepest nesting of arrays and objects [`extract`] accepts. gjson validates and walks JSON
/// recursively, so an absurdly deep body (from a broken or hostile server) would overflow the
/// component's stack; such a body is treated as not JSON.
pub const MAX_DEPTH: usize = 512;

/// The deepest nesting of `[` / `{` outside strings (an upper bound for invalid JSON).
fn nesting_depth(json: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in json {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

fn to_string(value: &gjson::Value<'_>) -> String {
    let raw = value.json().trim();
    match value.kind() {
        gjson::Kind::Null => String::new(),
        gjson::Kind::True => "true".to_owned(),
        gjson::Kind::False => "false".to_owned(),
        gjson::Kind::Number => raw.to_owned(),
        // serde_json unescapes exactly as JSON says; gjson's own unescaping is the fallback
        // for what serde_json refuses (a lone surrogate), which it replaces by U+FFFD.
        gjson::Kind::String => {
            serde_json::from_str::<String>(raw).unwrap_or_else(|_| value.str().to_owned())
        }
        gjson::Kind::Object | gjson::Kind::Array => gjson::tools::ugly(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(body: &str, path: &str) -> Option<String> {
        extract(body.as_bytes(), path)
    }

    const BODY: &str = r#"{
        "name": "web",
        "esc": "a\"b\\c\u00e9\ud83d\ude00\n<>&",
        "n": {"int": 42, "neg": -7, "big": 12345678901234567, "huge": 123456789012345678901234567890,
              "float": 1.50, "exp": 1e21, "expf": 2.5E-3, "zero": 0, "negzero": -0.0},
        "t": true, "f": false, "nil": null,
        "obj": { "z": 1, "a": [ 1, 2 , {"k" : "v <>&"} ], "m": "x\u003cy" },
        "empty_obj": {}, "empty_arr": [],
        "vpc": {"subnets": [{"id": "s-1", "az": "a"}, {"id": "s-2", "az": "b"}, {"id": "s-3", "az": "a"}]},
        "dotted.key": "yes",
        "friends": [{"first": "Dale", "age": 44}, {"first": "Roger", "age": 68}]
    }"#;

    #[test]
    fn strings_are_unescaped() {
        assert_eq!(get(BODY, "name").as_deref(), Some("web"));
        assert_eq!(get(BODY, "esc").as_deref(), Some("a\"b\\cé😀\n<>&"));
        assert_eq!(get(r#"{"s":"\ud800x"}"#, "s").as_deref(), Some("\u{fffd}x"));
    }

    #[test]
    fn numbers_are_kept_as_written() {
        assert_eq!(get(BODY, "n.int").as_deref(), Some("42"));
        assert_eq!(get(BODY, "n.neg").as_deref(), Some("-7"));
        assert_eq!(get(BODY, "n.big").as_deref(), Some("12345678901234567"));
        assert_eq!(
            get(BODY, "n.huge").as_deref(),
            Some("123456789012345678901234567890")
        );
        assert_eq!(get(BODY, "n.float").as_deref(), Some("1.50"));
        assert_eq!(get(BODY, "n.exp").as_deref(), Some("1e21"));
        assert_eq!(get(BODY, "n.expf").as_deref(), Some("2.5E-3"));
        assert_eq!(get(BODY, "n.zero").as_deref(), Some("0"));
        assert_eq!(get(BODY, "n.negzero").as_deref(), Some("-0.0"));
        assert_eq!(
            get("12345678901234567", "@this").as_deref(),
            Some("12345678901234567")
        );
    }

    #[test]
    fn booleans_and_null() {
        assert_eq!(get(BODY, "t").as_deref(), Some("true"));
        assert_eq!(get(BODY, "f").as_deref(), Some("false"));
        assert_eq!(get(BODY, "nil").as_deref(), Some(""));
    }

    #[test]
    fn objects_and_arrays_are_compact_json_in_body_order() {
        assert_eq!(
            get(BODY, "obj").as_deref(),
            Some(r#"{"z":1,"a":[1,2,{"k":"v <>&"}],"m":"x\u003cy"}"#)
        );
        assert_eq!(
            get(BODY, "obj.a").as_deref(),
            Some(r#"[1,2,{"k":"v <>&"}]"#)
        );
        assert_eq!(get(BODY, "empty_obj").as_deref(), Some("{}"));
        assert_eq!(get(BODY, "empty_arr").as_deref(), Some("[]"));
        assert_eq!(get(BODY, "@this").map(|s| s.contains('\n')), Some(false));
    }

    #[test]
    fn gjson_path_language() {
        assert_eq!(get(BODY, "vpc.subnets.0.id").as_deref(), Some("s-1"));
        assert_eq!(get(BODY, "vpc.subnets.#").as_deref(), Some("3"));
        assert_eq!(
            get(BODY, "vpc.subnets.#.id").as_deref(),
            Some(r#"["s-1","s-2","s-3"]"#)
        );
        assert_eq!(
            get(BODY, r#"vpc.subnets.#(az=="b").id"#).as_deref(),
            Some("s-2")
        );
        assert_eq!(
            get(BODY, r#"vpc.subnets.#(az=="a")#.id"#).as_deref(),
            Some(r#"["s-1","s-3"]"#)
        );
        assert_eq!(
            get(BODY, "friends.#(age>50).first").as_deref(),
            Some("Roger")
        );
        assert_eq!(get(BODY, r"dotted\.key").as_deref(), Some("yes"));
        assert_eq!(get(BODY, "na*").as_deref(), Some("web"));
        assert_eq!(get(BODY, "n?me").as_deref(), Some("web"));
        assert_eq!(
            get(BODY, "obj.a|@reverse").as_deref(),
            Some(r#"[{"k":"v <>&"},2,1]"#)
        );
        assert_eq!(
            get(BODY, "{name,t}").as_deref(),
            Some(r#"{"name":"web","t":true}"#)
        );
        assert_eq!(get(r#"[{"id":1},{"id":2}]"#, "1.id").as_deref(), Some("2"));
        assert_eq!(get(r#"[{"id":1},{"id":2}]"#, "#").as_deref(), Some("2"));
        assert_eq!(get(BODY, "  name  ").as_deref(), Some("web"));
    }

    #[test]
    fn missing_values() {
        assert_eq!(get(BODY, "nope"), None);
        assert_eq!(get(BODY, "vpc.subnets.9.id"), None);
        assert_eq!(get(BODY, r#"vpc.subnets.#(az=="z").id"#), None);
        assert_eq!(get(BODY, ""), None);
        assert_eq!(get(BODY, "   "), None);
    }

    #[test]
    fn non_json_bodies_find_nothing() {
        assert_eq!(get("", "a"), None);
        assert_eq!(get("   ", "a"), None);
        assert_eq!(get("<html>a</html>", "a"), None);
        assert_eq!(get(r#"{"a":1"#, "a"), None);
        assert_eq!(get(r#"{"a":1} {"a":2}"#, "a"), None);
        assert_eq!(extract(b"{\"a\":\"\xff\"}", "a"), None);
    }

    #[test]
    fn absurdly_deep_bodies_are_not_json() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let path = "0.0.0";
        assert_eq!(
            get(&nested(MAX_DEPTH), path).as_deref(),
            Some(&nested(MAX_DEPTH - 3)[..])
        );
        // deep enough to overflow a small stack if it were walked recursively
        let deep = nested(200_000);
        let found = std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn(move || get(&deep, path))
            .expect("spawn")
            .join()
            .expect("no stack overflow");
        assert_eq!(found, None);
        assert_eq!(nesting_depth(br#"{"a":"[[[[\"[[[","b":[{}]}"#), 3);
    }

    #[test]
    fn odd_paths_do_not_panic() {
        let paths = [
            "#",
            "#.",
            "##",
            "#(",
            "#(a",
            "#(a==",
            "#(a==\"b",
            ")",
            "@",
            "@nope",
            "@this|@",
            "{",
            "[",
            "{a",
            "[a,",
            "..",
            "...",
            "a..b",
            "\\",
            "a\\",
            "*",
            "?",
            "*.*.*",
            "|",
            "a|",
            "!",
            "!true",
            "#(%)",
            "#(!%\"x\")",
            "{\"a\":b}",
            "@reverse:",
            "@join:{",
            "..#",
        ];
        for path in paths {
            let _ = get(BODY, path);
            let _ = get("[]", path);
            let _ = get("1", path);
            let _ = get("\"s\"", path);
        }
    }
}
