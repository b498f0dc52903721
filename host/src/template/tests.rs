//! Rendering tests: every supported form, in both styles, with exact outputs.

use super::*;

fn vars() -> Vars {
    let mut v = Vars::new();
    v.insert("vpc_id", "vpc-123");
    v.insert("name", "Alice");
    v.insert("empty", "");
    v.insert("count", "7");
    v.insert("region", "eu");
    v.insert("tricky", r#"a+b&c"d<e>'f"#);
    v.insert("list", r#"["a","b","c"]"#);
    v.insert("objs", r#"[{"id":1,"name":"x"},{"id":2,"name":"y"}]"#);
    v.insert("obj", r#"{"k": "v", "n": [1, 2]}"#);
    v.insert("upper", "shadowed-by-helper-name");
    v.insert_auth("kc", "tok+en/=");
    v
}

fn render(t: &str) -> String {
    match Renderer::new().render(t, &vars()) {
        Ok(s) => s,
        Err(e) => panic!("render of {t:?} failed: {e}"),
    }
}

fn render_err(t: &str) -> TemplateError {
    match Renderer::new().render(t, &vars()) {
        Ok(s) => panic!("render of {t:?} should fail, got {s:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_missing(t: &str, name: &str, line: usize, column: usize) {
    match render_err(t) {
        TemplateError::MissingVariable {
            name: n,
            line: l,
            column: c,
            ..
        } => assert_eq!((n.as_str(), l, c), (name, line, column), "template {t:?}"),
        other => panic!("expected a missing variable for {t:?}, got {other:?}"),
    }
}

#[track_caller]
fn assert_syntax(t: &str, line: usize, column: usize, message_part: &str) {
    match render_err(t) {
        TemplateError::Syntax {
            message,
            line: l,
            column: c,
            ..
        } => {
            assert_eq!((l, c), (line, column), "template {t:?}: {message}");
            assert!(
                message.contains(message_part),
                "template {t:?}: {message:?} lacks {message_part:?}"
            );
        }
        other => panic!("expected a syntax error for {t:?}, got {other:?}"),
    }
}

// --- plain references ------------------------------------------------------------------------

#[test]
fn plain_strings_are_returned_unchanged() {
    assert!(!is_template("no actions { here }"));
    assert!(is_template("a {{x}}"));
    assert_eq!(render("no actions { here }"), "no actions { here }");
}

#[test]
fn go_references() {
    assert_eq!(render("{{.vpc_id}}"), "vpc-123");
    assert_eq!(render("{{ .vpc_id }}"), "vpc-123");
    assert_eq!(render("{{.env.vpc_id}}"), "vpc-123");
    assert_eq!(render("Bearer {{.auth.kc}}"), "Bearer tok+en/=");
    assert_eq!(render("{{$.env.name}}/{{$.name}}"), "Alice/Alice");
}

#[test]
fn native_references() {
    assert_eq!(render("{{vpc_id}}"), "vpc-123");
    assert_eq!(render("{{env.vpc_id}}"), "vpc-123");
    assert_eq!(render("{{auth.kc}}"), "tok+en/=");
    assert_eq!(render("{{{vpc_id}}}"), "vpc-123");
}

#[test]
fn values_are_inserted_verbatim() {
    assert_eq!(render("{{.tricky}}"), r#"a+b&c"d<e>'f"#);
    assert_eq!(render("{{tricky}}"), r#"a+b&c"d<e>'f"#);
    assert_eq!(render("{{.tricky | upper}}"), r#"A+B&C"D<E>'F"#);
    assert_eq!(render("x={{.auth.kc}}&y=1"), "x=tok+en/=&y=1");
}

#[test]
fn a_variable_named_like_a_helper_is_still_a_variable() {
    assert_eq!(render("{{.upper}}"), "shadowed-by-helper-name");
    assert_eq!(render("{{.name | upper}}"), "ALICE");
}

#[test]
fn styles_mix_in_one_template() {
    assert_eq!(
        render("{{.name}} {{name}} {{upper name}} {{.name | lower}} {{env.region}}"),
        "Alice Alice ALICE alice eu"
    );
}

#[test]
fn dollar_prefixed_actions_render_like_plain_ones() {
    assert_eq!(render("${{.count}}"), "7");
    assert_eq!(render("${{ .count }}-${{count}}"), "7-7");
    assert_eq!(render("$ {{.count}}"), "$ 7");
}

#[test]
fn go_backslash_before_an_action_is_a_plain_character() {
    assert_eq!(render(r"C:\{{.name}}"), r"C:\Alice");
    assert_eq!(render(r"\\{{.name}}"), r"\\Alice");
}

#[test]
fn native_backslash_escapes_an_action() {
    assert_eq!(render(r"\{{name}} {{name}}"), "{{name}} Alice");
}

// --- trim markers ----------------------------------------------------------------------------

#[test]
fn go_trim_markers() {
    assert_eq!(render("a  {{- .name -}}  b"), "aAliceb");
    assert_eq!(render("a \n {{- .name}} \n b"), "aAlice \n b");
    assert_eq!(render("a {{.name -}} \n\n b"), "a Aliceb");
}

#[test]
fn native_trim_markers() {
    assert_eq!(render("a  {{~name~}}  b"), "aAliceb");
}

#[test]
fn go_block_tags_keep_surrounding_whitespace_like_go() {
    // Go does not remove "standalone" block lines, handlebars would.
    let t = "{\n  {{if .name}}\n  \"a\": 1\n  {{end}}\n}";
    assert_eq!(render(t), "{\n  \n  \"a\": 1\n  \n}");
    let trimmed = "{\n  {{- if .name}}\n  \"a\": 1\n  {{- end}}\n}";
    assert_eq!(render(trimmed), "{\n  \"a\": 1\n}");
}

#[test]
fn go_comments() {
    assert_eq!(render("a{{/* note */}}b"), "ab");
    assert_eq!(render("a {{- /* note */ -}} b"), "ab");
    assert_eq!(render("a{{!-- native note --}}b"), "ab");
}

// --- default ----------------------------------------------------------------------------------

#[test]
fn default_pipeline_on_missing_and_empty() {
    assert_eq!(render(r#"{{.nope | default "d"}}"#), "d");
    assert_eq!(render(r#"{{.empty | default "d"}}"#), "d");
    assert_eq!(render(r#"{{.name | default "d"}}"#), "Alice");
    assert_eq!(render(r#"{{.env.nope | default "d"}}"#), "d");
    assert_eq!(render(r#"{{ .nope | default "x" | upper }}"#), "X");
}

#[test]
fn default_function_form_takes_the_default_first() {
    assert_eq!(render(r#"{{default "d" .nope}}"#), "d");
    assert_eq!(render(r#"{{default "d" .name}}"#), "Alice");
    assert_eq!(render(r#"{{default .region .nope}}"#), "eu");
    assert_eq!(render(r#"{{default .region .name}}"#), "Alice");
}

#[test]
fn native_default_takes_the_value_first() {
    assert_eq!(render(r#"{{default nope "d"}}"#), "d");
    assert_eq!(render(r#"{{default empty "d"}}"#), "d");
    assert_eq!(render(r#"{{default name "d"}}"#), "Alice");
    assert_eq!(render(r#"{{default nope region}}"#), "eu");
    // sprig's order written natively is recognised: a literal first, a reference second
    assert_eq!(render(r#"{{default "d" nope}}"#), "d");
    assert_eq!(render(r#"{{default "d" name}}"#), "Alice");
}

#[test]
fn default_with_a_missing_fallback_is_an_error() {
    assert_missing("{{.nope | default .also_nope}}", "also_nope", 1, 19);
}

// --- functions --------------------------------------------------------------------------------

#[test]
fn upper_lower() {
    assert_eq!(render("{{upper .name}}/{{lower .name}}"), "ALICE/alice");
    assert_eq!(render("{{.name | upper}}/{{.name | lower}}"), "ALICE/alice");
    assert_eq!(render("{{upper name}}/{{lower name}}"), "ALICE/alice");
}

#[test]
fn integer_arithmetic() {
    assert_eq!(render("{{add .count 1}}"), "8");
    assert_eq!(render("{{.count | add 1}}"), "8");
    assert_eq!(render("{{div .count 2}}"), "3");
    assert_eq!(render("{{div -7 2}}"), "-3");
    assert_eq!(render("{{add count 3}}"), "10");
    assert_eq!(render("{{sub .count 10}} {{mul .count 2 3}}"), "-3 42");
    // pipelines pass the value last, as Go: `.count | div 14` is `div 14 .count`
    assert_eq!(render("{{.count | div 14}}"), "2");
}

#[test]
fn division_by_zero_is_an_error() {
    match render_err("x\n {{div .count 0}}") {
        TemplateError::Helper {
            message,
            line,
            column,
        } => {
            assert_eq!(message, "div: division by zero");
            assert_eq!((line, column), (2, 2));
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn arithmetic_on_text_is_an_error() {
    match render_err("{{add .name 1}}") {
        TemplateError::Helper { message, .. } => {
            assert_eq!(message, "add: \"Alice\" is not an integer");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn to_json() {
    assert_eq!(render("{{.name | toJson}}"), r#""Alice""#);
    assert_eq!(render("{{toJson .tricky}}"), r#""a+b&c\"d<e>'f""#);
    // a variable holding a JSON array or object is emitted as that structure
    assert_eq!(render("{{.list | toJson}}"), r#"["a","b","c"]"#);
    assert_eq!(render("{{toJson obj}}"), r#"{"k":"v","n":[1,2]}"#);
}

#[test]
fn json_helper_quotes_any_value() {
    assert_eq!(
        render(r#"{"name": {{json tricky}}}"#),
        r#"{"name": "a+b&c\"d<e>'f"}"#
    );
    assert_eq!(render("{{.list | json}}"), r#""[\"a\",\"b\",\"c\"]""#);
}

#[test]
fn print_literals() {
    assert_eq!(render(r#"{{"lit"}}-{{print 1 2 "x"}}"#), "lit-1 2x");
    assert_eq!(render("{{- 42 -}}"), "42");
}

#[test]
fn unknown_function_is_a_syntax_error_with_position() {
    assert_syntax(
        "ab\n {{printf \"%s\" .x}}",
        2,
        4,
        "function \"printf\" not defined",
    );
    assert_syntax("{{.x | nope}}", 1, 8, "function \"nope\" not defined");
    assert_syntax("x {{nope name}}", 1, 3, "function \"nope\" not defined");
}

#[test]
fn wrong_argument_count_is_a_syntax_error() {
    assert_syntax(
        "{{upper .name .name}}",
        1,
        3,
        "wrong number of args for upper: want 1 got 2",
    );
}

// --- conditions -------------------------------------------------------------------------------

#[test]
fn go_if_else() {
    assert_eq!(render("{{if .name}}yes{{else}}no{{end}}"), "yes");
    assert_eq!(render("{{if .empty}}yes{{else}}no{{end}}"), "no");
    assert_eq!(render("{{if .nope}}yes{{else}}no{{end}}"), "no");
    assert_eq!(render("{{if .env.nope}}yes{{end}}"), "");
}

#[test]
fn go_if_eq_ne() {
    assert_eq!(
        render(r#"{{if eq .region "eu"}}EU{{else}}other{{end}}"#),
        "EU"
    );
    assert_eq!(
        render(r#"{{if ne .region "eu"}}other{{else}}EU{{end}}"#),
        "EU"
    );
    assert_eq!(
        render(r#"{{if eq .nope "eu"}}EU{{else}}other{{end}}"#),
        "other"
    );
    assert_eq!(render(r#"{{if ne .nope "eu"}}not eu{{end}}"#), "not eu");
    assert_eq!(render(r#"{{if eq .count 7}}seven{{end}}"#), "seven");
    assert_eq!(
        render(r#"{{if eq .region "us" "eu"}}one of{{end}}"#),
        "one of"
    );
}

#[test]
fn go_else_if_chain() {
    let t = r#"{{if eq .region "us"}}US{{else if eq .region "eu"}}EU{{else}}?{{end}}"#;
    assert_eq!(render(t), "EU");
    let t = r#"{{if eq .region "us"}}US{{else if .nope}}N{{else}}?{{end}}"#;
    assert_eq!(render(t), "?");
}

#[test]
fn go_boolean_functions_and_comparisons() {
    assert_eq!(render("{{if and .name .region}}both{{end}}"), "both");
    assert_eq!(
        render("{{if and .name .nope}}both{{else}}not both{{end}}"),
        "not both"
    );
    assert_eq!(render("{{if or .nope .region}}one{{end}}"), "one");
    assert_eq!(render("{{if not .nope}}none{{end}}"), "none");
    assert_eq!(render("{{if lt .count 10}}small{{end}}"), "small");
    assert_eq!(render("{{if ge .count 7}}big{{end}}"), "big");
}

#[test]
fn native_if_and_unless() {
    assert_eq!(render("{{#if name}}yes{{else}}no{{/if}}"), "yes");
    assert_eq!(render("{{#if nope}}yes{{else}}no{{/if}}"), "no");
    assert_eq!(render(r#"{{#if (eq region "eu")}}EU{{/if}}"#), "EU");
    assert_eq!(render("{{#unless nope}}none{{/unless}}"), "none");
}

#[test]
fn go_with() {
    assert_eq!(render("{{with .name}}hi {{.}}{{end}}"), "hi Alice");
    assert_eq!(render("{{with .nope}}hi {{.}}{{end}}"), "");
    assert_eq!(render("{{with .empty}}hi{{else}}empty{{end}}"), "empty");
    assert_eq!(render("{{with .name}}{{$.region}}{{end}}"), "eu");
}

#[test]
fn native_with_on_missing_is_false() {
    assert_eq!(render("{{#with nope}}x{{/with}}"), "");
    assert_eq!(render("{{#with name}}{{this}}{{/with}}"), "Alice");
}

// --- range ------------------------------------------------------------------------------------

#[test]
fn go_range_over_a_json_array_variable() {
    assert_eq!(render("{{range .list}}<{{.}}>{{end}}"), "<a><b><c>");
    assert_eq!(
        render("{{range .objs}}{{.id}}={{.name}};{{end}}"),
        "1=x;2=y;"
    );
    assert_eq!(render("{{range .empty}}x{{else}}none{{end}}"), "none");
}

#[test]
fn go_range_with_variables() {
    assert_eq!(
        render("{{range $i, $e := .list}}{{$i}}:{{$e}} {{end}}"),
        "0:a 1:b 2:c "
    );
    assert_eq!(
        render("{{range $o := .objs}}{{$o.name}}{{$.region}}{{end}}"),
        "xeuyeu"
    );
}

#[test]
fn native_each_over_a_json_array_variable() {
    assert_eq!(
        render("{{#each list}}{{@index}}{{this}}{{/each}}"),
        "0a1b2c"
    );
    assert_eq!(
        render("{{#each objs as |o|}}{{o.name}}{{../region}}{{/each}}"),
        "xeuyeu"
    );
}

#[test]
fn range_over_text_is_an_error() {
    match render_err("{{range .name}}x{{end}}") {
        TemplateError::Helper { message, .. } => assert_eq!(
            message,
            "range can't iterate over \"name\": the value is not a JSON array or object"
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn nested_if_and_range() {
    let t = "{{range .objs}}{{if eq .name \"y\"}}[{{.id}}]{{else}}({{.id}}){{end}}{{end}}";
    assert_eq!(render(t), "(1)[2]");
    let t = "{{if .list}}{{range .list}}{{if ne . \"b\"}}{{.}}{{end}}{{end}}{{end}}";
    assert_eq!(render(t), "ac");
    let t = "{{#if name}}{{range .list}}{{.}}{{end}}{{/if}}";
    assert_eq!(render(t), "abc");
}

// --- strictness -------------------------------------------------------------------------------

#[test]
fn missing_variable_names_key_line_and_column() {
    let body = "{\n  \"a\": 1,\n    \"vpc_id\": \"{{.vpcid}}\"\n}";
    assert_missing(body, "vpcid", 3, 18);
    assert_missing("{{.env.vpcid}}", "vpcid", 1, 3);
    assert_missing("x {{ vpcid }}", "vpcid", 1, 6);
    assert_missing("x {{env.vpcid}}", "vpcid", 1, 5);
    assert_missing("{{if .name}}\n  {{.nope}}{{end}}", "nope", 2, 5);
    assert_missing("{{.nope | upper}}", "nope", 1, 3);
    assert_missing("{{upper nope}}", "nope", 1, 9);
    assert_missing("{{range .nope}}x{{end}}", "nope", 1, 9);
    assert_missing("{{range .objs}}{{.missing}}{{end}}", "missing", 1, 18);
    assert_missing(
        "{{range $o := .objs}}{{$o.missing}}{{end}}",
        "missing",
        1,
        24,
    );
    assert_missing("{{#each nope}}x{{/each}}", "nope", 1, 9);
    assert_missing("{{#each list}}{{../nope}}{{/each}}", "nope", 1, 17);
}

#[test]
fn missing_variable_message_uses_the_go_wording() {
    let e = render_err("a\n {{.vpc_ids}}");
    assert_eq!(
        e.to_string(),
        "map has no entry for key \"vpc_ids\" at line 2, column 4"
    );
    assert_eq!(
        e.hint(),
        Some(
            "did you mean \"vpc_id\"? otherwise define \"vpc_ids\" (config env, the migration's \
             env, or env_from of an earlier migration), or give it a default: \
             {{.vpc_ids | default \"...\"}}"
        )
    );
}

#[test]
fn missing_auth_token() {
    match render_err("Bearer {{.auth.kx}}") {
        TemplateError::MissingVariable {
            name,
            kind,
            line,
            column,
            hint,
        } => {
            assert_eq!(
                (name.as_str(), kind, line, column),
                ("kx", RefKind::Auth, 1, 10)
            );
            assert!(hint.starts_with("did you mean \"kc\"?"), "{hint}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn positions_count_characters_and_crlf() {
    assert_missing("é {{.nope}}", "nope", 1, 5);
    assert_missing("a\r\nb {{.nope}}", "nope", 2, 5);
}

// --- syntax errors ----------------------------------------------------------------------------

#[test]
fn malformed_templates_give_located_syntax_errors() {
    assert_syntax("ok\n  {{.x", 2, 3, "unclosed action");
    assert_syntax("{{if .name}}x", 1, 1, "unclosed {{if}}");
    assert_syntax("x{{end}}", 1, 2, "unexpected {{end}}");
    assert_syntax("{{.x | }}", 1, 7, "missing command");
    assert_syntax("{{$x := .name}}", 1, 6, "only supported in range");
    assert_syntax(
        "{{range $i, $e := .list}}{{$j}}{{end}}",
        1,
        28,
        "undefined variable \"$j\"",
    );
    assert_syntax("{{template \"x\"}}", 1, 3, "not supported");
    assert_syntax("{{#if name}}x{{end}}{{/if}}", 1, 21, "unexpected {{/if}}");
    assert_syntax("{{#if name}}x{{/each}}", 1, 14, "does not close");
}

#[test]
fn native_syntax_errors_are_located() {
    assert_syntax("line\n {{upper (}}", 2, 2, "invalid handlebars syntax");
}

// --- references -------------------------------------------------------------------------------

#[test]
fn auth_references_in_both_styles() {
    let r = Renderer::new();
    let refs = r
        .auth_references("{{.auth.kc}} {{auth.other}} {{.auth.kc}} {{if .auth.third}}x{{end}}")
        .ok();
    assert_eq!(
        refs,
        Some(vec![
            "kc".to_owned(),
            "other".to_owned(),
            "third".to_owned()
        ])
    );
    assert_eq!(r.auth_references("no template").ok(), Some(Vec::new()));
}

#[test]
fn variable_references_leave_out_optional_ones() {
    let r = Renderer::new();
    let t = r#"{{.a}} {{env.b}} {{.c | default "x"}} {{if .d}}{{.e}}{{end}} {{upper .f}}
{{range .list}}{{.inner}}{{$.g}}{{end}} {{default h "y"}} {{.auth.kc}} {{eq .i "x"}} {{.a}}"#;
    assert_eq!(
        r.variable_references(t).ok(),
        Some(["a", "b", "e", "f", "list", "g"].map(String::from).to_vec())
    );
}

#[test]
fn references_of_a_malformed_template_are_an_error() {
    let r = Renderer::new();
    assert!(matches!(
        r.variable_references("{{.x"),
        Err(TemplateError::Syntax { .. })
    ));
    assert!(matches!(
        r.auth_references("{{nope .x}}"),
        Err(TemplateError::Syntax { .. })
    ));
}

// --- vars -------------------------------------------------------------------------------------

#[test]
fn vars_basics() {
    let mut v: Vars = [("b", "2"), ("a", "1")].into_iter().collect();
    v.insert("a", "3");
    v.insert_auth("kc", "t");
    assert_eq!(v.get("a"), Some("3"));
    assert_eq!(v.get_auth("kc"), Some("t"));
    assert_eq!(v.get("kc"), None);
    assert_eq!(v.len(), 2);
    assert_eq!(v.iter().collect::<Vec<_>>(), vec![("a", "3"), ("b", "2")]);
}

// --- more forms -------------------------------------------------------------------------------

#[test]
fn ranged_structures_print_as_json() {
    assert_eq!(
        render("{{range .objs}}{{.}};{{end}}"),
        r#"{"id":1,"name":"x"};{"id":2,"name":"y"};"#
    );
    assert_eq!(render("{{range .obj}}{{.}}|{{end}}"), "v|[1,2]|");
}

#[test]
fn nested_ranges_see_outer_variables() {
    let t = "{{range $o := .objs}}{{range $.list}}{{$o.id}}{{.}} {{end}}{{end}}";
    assert_eq!(render(t), "1a 1b 1c 2a 2b 2c ");
}

#[test]
fn go_literals() {
    assert_eq!(render(r#"{{print "a\"b\tc"}}"#), "a\"b\tc");
    assert_eq!(render("{{print `raw \\n`}}"), "raw \\n");
    assert_eq!(render("{{.count | add 0x10}}"), "23");
    assert_eq!(render(r#"{{if eq .nope nil}}nil{{end}}"#), "nil");
}

#[test]
fn go_else_with_trim_markers() {
    let t = "{{if .nope -}}\n  yes\n{{- else -}}\n  no\n{{- end}}!";
    assert_eq!(render(t), "no!");
}

#[test]
fn native_raw_blocks_are_copied() {
    assert_eq!(render("{{{{raw}}}}{{.x}}{{{{/raw}}}}"), "{{.x}}");
}

#[test]
fn the_guide_example_renders() {
    let t = "{\n    \"vpc_id\": \"{{.vpc_id | default \"default-vpc-id\"}}\"\n}";
    assert_eq!(render(t), "{\n    \"vpc_id\": \"vpc-123\"\n}");
    let mut v = Vars::new();
    v.insert("other", "1");
    assert_eq!(
        Renderer::new().render(t, &v).ok().as_deref(),
        Some("{\n    \"vpc_id\": \"default-vpc-id\"\n}")
    );
}

#[test]
fn a_field_of_a_text_variable_is_missing() {
    assert_missing("{{.name.first}}", "name.first", 1, 3);
}

#[test]
fn a_variable_named_env_is_reachable_under_env() {
    let mut v = Vars::new();
    v.insert("env", "prod");
    assert_eq!(
        Renderer::new().render("{{.env.env}}", &v).ok().as_deref(),
        Some("prod")
    );
}

#[test]
fn a_renderer_can_be_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Renderer>();
    assert_send_sync::<Vars>();
}
