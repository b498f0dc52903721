use apirun_sdk::{LogLevel, MockHost, Request, Response, StepError, TransportError};
use serde_json::{Value, json};

use super::STEP;

/// Run the step as the host would, with `params` as JSON and `mock` as the host.
fn run(mock: &MockHost, params: Value) -> Result<apirun_sdk::Outputs, StepError> {
    STEP.run_json(&mock.context(), &params.to_string())
}

fn ok(status: u16, body: &str) -> MockHost {
    MockHost::new().respond(Response::new(status).with_body(body))
}

fn sent(mock: &MockHost) -> Request {
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "exactly one request");
    requests.into_iter().next().expect("one request")
}

fn invalid(params: Value) -> String {
    let mock = MockHost::new();
    let err = run(&mock, params.clone()).expect_err("invalid params");
    assert_eq!(
        STEP.validate_json(&params.to_string()),
        Err(err.clone()),
        "validate agrees"
    );
    assert!(
        mock.requests().is_empty(),
        "nothing sent for invalid params"
    );
    match err {
        StepError::InvalidParams(m) => m,
        other => panic!("expected invalid params, got {other:?}"),
    }
}

#[test]
fn describes_itself() {
    assert_eq!(STEP.name, "http");
    assert_eq!(STEP.version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn builds_the_request_from_params() {
    let mock = ok(200, "");
    let out = run(
        &mock,
        json!({
            "method": "post",
            "url": "http://127.0.0.1:8080/x?keep=1#top",
            "headers": [{"name": "A", "value": "b"}, {"name": "A", "value": "c"}, {"name": "X-Id", "value": "7"}],
            "queries": [{"name": "q", "value": "1"}, {"name": "sp ace", "value": "a&b=c/é"}],
            "body": "plain text",
            "auth": "admin",
            "timeout_ms": 2500,
        }),
    )
    .expect("step succeeds");
    assert!(out.is_empty());
    let req = sent(&mock);
    assert_eq!(req.method, "POST");
    assert_eq!(
        req.url,
        "http://127.0.0.1:8080/x?keep=1&q=1&sp%20ace=a%26b%3Dc%2F%C3%A9#top"
    );
    assert_eq!(
        req.headers,
        [("A", "b"), ("A", "c"), ("X-Id", "7")].map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    assert_eq!(req.body_text().as_deref(), Some("plain text"));
    assert_eq!(req.auth.as_deref(), Some("admin"));
    assert_eq!(req.timeout_ms, Some(2500));
}

#[test]
fn minimal_params_and_nulls() {
    let mock = ok(204, "");
    run(
        &mock,
        json!({"method": "GET", "url": "http://h/", "headers": null, "queries": null,
               "body": null, "auth": null, "timeout_ms": null, "response": null}),
    )
    .expect("step succeeds");
    let req = sent(&mock);
    assert_eq!(
        (req.method.as_str(), req.url.as_str()),
        ("GET", "http://h/")
    );
    assert!(req.headers.is_empty());
    assert_eq!((req.body, req.auth, req.timeout_ms), (None, None, None));

    let mock = ok(200, "");
    run(
        &mock,
        json!({"method": "GET", "url": "http://h/",
               "response": {"result_code": null, "env_from": null, "env_missing": null}}),
    )
    .expect("nulls inside response are defaults too");
}

#[test]
fn any_method_is_sent_upper_cased() {
    for (given, expected) in [
        ("head", "HEAD"),
        ("Options", "OPTIONS"),
        (" purge ", "PURGE"),
        ("DELETE", "DELETE"),
    ] {
        let mock = ok(200, "");
        run(&mock, json!({"method": given, "url": "http://h"})).expect("any method");
        assert_eq!(sent(&mock).method, expected);
    }
}

#[test]
fn json_body_gets_a_content_type() {
    let mock = ok(201, "");
    run(
        &mock,
        json!({"method": "POST", "url": "http://h", "body": " {\"a\": [1, 2]} "}),
    )
    .expect("ok");
    let req = sent(&mock);
    assert_eq!(req.header_value("content-type"), Some("application/json"));
    assert_eq!(
        req.body_text().as_deref(),
        Some(" {\"a\": [1, 2]} "),
        "body sent as given"
    );
}

#[test]
fn user_content_type_is_never_overridden() {
    let mock = ok(201, "");
    run(
        &mock,
        json!({"method": "PUT", "url": "http://h", "body": "{\"a\":1}",
               "headers": [{"name": "content-TYPE", "value": "application/merge-patch+json"}]}),
    )
    .expect("ok");
    let req = sent(&mock);
    assert_eq!(req.headers.len(), 1);
    assert_eq!(
        req.header_value("Content-Type"),
        Some("application/merge-patch+json")
    );
}

#[test]
fn non_json_or_empty_bodies_get_no_content_type() {
    for body in [json!("a=1&b=2"), json!("{not json"), json!(""), json!(null)] {
        let mock = ok(200, "");
        run(
            &mock,
            json!({"method": "POST", "url": "http://h", "body": body}),
        )
        .expect("ok");
        let req = sent(&mock);
        assert!(!req.has_header("content-type"), "body {body}");
        if body == json!("") || body.is_null() {
            assert_eq!(req.body, None, "an empty body is no body");
        }
    }
}

#[test]
fn body_is_sent_for_every_method() {
    for method in ["GET", "DELETE", "HEAD", "OPTIONS"] {
        let mock = ok(200, "");
        run(
            &mock,
            json!({"method": method, "url": "http://h", "body": "[1]"}),
        )
        .expect("ok");
        let req = sent(&mock);
        assert_eq!(req.body_text().as_deref(), Some("[1]"), "{method}");
        assert_eq!(
            req.header_value("content-type"),
            Some("application/json"),
            "{method}"
        );
    }
}

#[test]
fn statuses_are_accepted_by_code_or_class() {
    let cases: &[(Value, u16)] = &[
        (json!(["200", "201"]), 201),
        (json!([" 201 "]), 201),
        (json!([200, 201]), 200),
        (json!(["2xx"]), 299),
        (json!(["4XX", "500"]), 404),
        (json!(["4XX", "500"]), 500),
        (json!([]), 503),
        (json!(null), 302),
    ];
    for (codes, status) in cases {
        let mock = ok(*status, "");
        let params =
            json!({"method": "GET", "url": "http://h", "response": {"result_code": codes}});
        assert!(run(&mock, params).is_ok(), "{status} in {codes}");
    }
}

#[test]
fn rejected_statuses_carry_the_list_and_a_body_excerpt() {
    let mock = ok(500, &format!("{{\"error\":\"{}\"}}", "x".repeat(2000)));
    let err = run(
        &mock,
        json!({"method": "GET", "url": "http://h",
               "response": {"result_code": ["200", "2xx", 404], "env_from": [{"name": "e", "path": "error"}]}}),
    )
    .expect_err("500 rejected");
    match err {
        StepError::RejectedStatus {
            status,
            accepted,
            body_excerpt,
        } => {
            assert_eq!(status, 500);
            assert_eq!(accepted, ["200", "2xx", "404"]);
            assert_eq!(body_excerpt.len(), apirun_sdk::BODY_EXCERPT_BYTES);
            assert!(body_excerpt.starts_with("{\"error\":\"xxx"));
        }
        other => panic!("expected rejected status, got {other:?}"),
    }

    let mock = ok(301, "");
    let err = run(
        &mock,
        json!({"method": "GET", "url": "http://h", "response": {"result_code": ["2xx"]}}),
    );
    assert!(matches!(
        err,
        Err(StepError::RejectedStatus { status: 301, .. })
    ));
}

#[test]
fn invalid_status_entries_are_invalid_params() {
    for bad in [json!("ok"), json!(""), json!("2x"), json!(2000), json!(-1)] {
        let m = invalid(
            json!({"method": "GET", "url": "http://h", "response": {"result_code": ["200", bad]}}),
        );
        assert!(m.starts_with("response.result_code"), "{m}");
    }
    let m =
        invalid(json!({"method": "GET", "url": "http://h", "response": {"result_code": [true]}}));
    assert_eq!(
        m,
        "response.result_code[0]: invalid type: boolean `true`, expected a status code or class such as \"200\" or \"2xx\""
    );
    let m =
        invalid(json!({"method": "GET", "url": "http://h", "response": {"result_code": "200"}}));
    assert!(
        m.starts_with("response.result_code: invalid type: string \"200\""),
        "{m}"
    );
}

const BODY: &str = r#"{
  "vpc": {"id": "vpc-123", "subnets": [{"id": "s-1"}, {"id": "s-2"}], "cidr": null},
  "big": 12345678901234567, "ratio": 0.25, "exp": 1E+3, "ok": true, "off": false,
  "obj": {"z": "<b>&", "a": [1, {"k": null}]}, "arr": [ "x" , 2 ]
}"#;

#[test]
fn extracts_values_as_strings_in_order() {
    let mock = ok(200, BODY);
    let out = run(
        &mock,
        json!({"method": "GET", "url": "http://h", "response": {"result_code": ["200"], "env_from": [
            {"name": "vpc_id", "path": "vpc.id"},
            {"name": "subnet", "path": "vpc.subnets.1.id"},
            {"name": "count", "path": "vpc.subnets.#"},
            {"name": "ids", "path": "vpc.subnets.#.id"},
            {"name": "big", "path": "big"},
            {"name": "ratio", "path": "ratio"},
            {"name": "exp", "path": "exp"},
            {"name": "ok", "path": "ok"},
            {"name": "off", "path": "off"},
            {"name": "cidr", "path": "vpc.cidr"},
            {"name": "obj", "path": "obj"},
            {"name": "arr", "path": "arr"},
            {"name": "first", "path": "vpc.subnets.#(id==\"s-2\").id"}
        ]}}),
    )
    .expect("step succeeds");
    let got: Vec<(&str, &str)> = out.iter().collect();
    assert_eq!(
        got,
        [
            ("vpc_id", "vpc-123"),
            ("subnet", "s-2"),
            ("count", "2"),
            ("ids", r#"["s-1","s-2"]"#),
            ("big", "12345678901234567"),
            ("ratio", "0.25"),
            ("exp", "1E+3"),
            ("ok", "true"),
            ("off", "false"),
            ("cidr", ""),
            ("obj", r#"{"z":"<b>&","a":[1,{"k":null}]}"#),
            ("arr", r#"["x",2]"#),
            ("first", "s-2"),
        ]
    );
}

#[test]
fn missing_values_are_skipped_by_default() {
    for env_missing in [json!(null), json!("skip"), json!(" SKIP "), json!("")] {
        let mock = ok(200, BODY);
        let out = run(
            &mock,
            json!({"method": "GET", "url": "http://h", "response": {"env_missing": env_missing, "env_from": [
                {"name": "a", "path": "nope"},
                {"name": "b", "path": "vpc.id"},
                {"name": "c", "path": "vpc.subnets.5.id"}
            ]}}),
        )
        .expect("skip never fails");
        assert_eq!(out.iter().collect::<Vec<_>>(), [("b", "vpc-123")]);
        assert!(
            mock.logs()
                .iter()
                .any(|(l, m)| *l == LogLevel::Debug && m.contains("`a`"))
        );
    }
}

#[test]
fn missing_values_fail_with_fail() {
    let mock = ok(200, BODY);
    let err = run(
        &mock,
        json!({"method": "GET", "url": "http://h", "response": {"env_missing": "fail", "env_from": [
            {"name": "b", "path": "vpc.id"},
            {"name": "a", "path": "nope"},
            {"name": "c", "path": "also.nope"}
        ]}}),
    );
    assert_eq!(
        err,
        Err(StepError::missing_value("a", "nope")),
        "the first missing, in order"
    );
}

#[test]
fn fail_applies_to_empty_and_non_json_bodies() {
    for body in ["", "<html>oops</html>"] {
        let mock = ok(200, body);
        let err = run(
            &mock,
            json!({"method": "GET", "url": "http://h", "response": {"env_missing": "Fail",
                   "env_from": [{"name": "id", "path": "id"}]}}),
        );
        assert_eq!(
            err,
            Err(StepError::missing_value("id", "id")),
            "body {body:?}"
        );
    }
}

#[test]
fn unknown_env_missing_is_invalid() {
    let m =
        invalid(json!({"method": "GET", "url": "http://h", "response": {"env_missing": "ignore"}}));
    assert_eq!(
        m,
        "response.env_missing: unknown env_missing `ignore`, expected `skip` or `fail`"
    );
}

#[test]
fn transport_errors_are_step_errors() {
    let mock = MockHost::new().fail(TransportError::Denied("10.0.0.1 not allowed".into()));
    let err = run(&mock, json!({"method": "GET", "url": "http://10.0.0.1/"}));
    assert_eq!(
        err,
        Err(StepError::Transport(TransportError::Denied(
            "10.0.0.1 not allowed".into()
        )))
    );
}

#[test]
fn params_are_validated_without_sending() {
    assert_eq!(
        STEP.validate_json(r#"{"method":"GET","url":"http://h"}"#),
        Ok(())
    );

    assert_eq!(
        invalid(json!({"url": "http://h"})),
        "missing field `method`"
    );
    assert_eq!(invalid(json!({"method": "GET"})), "missing field `url`");
    assert_eq!(
        invalid(json!({"method": " ", "url": "http://h"})),
        "method: must not be empty"
    );
    assert_eq!(
        invalid(json!({"method": "GET", "url": ""})),
        "url: must not be empty"
    );
    assert_eq!(
        invalid(json!({"method": "GE T", "url": "http://h"})),
        "method: `GE T` is not an HTTP method"
    );
    let m = invalid(json!({"method": "GET", "url": "http://h", "bdy": "x"}));
    assert!(
        m.starts_with("bdy: unknown field `bdy`, expected one of"),
        "{m}"
    );
    let m = invalid(
        json!({"method": "GET", "url": "http://h", "response": {"env_from": [{"name": "a", "path": "b", "x": 1}]}}),
    );
    assert!(
        m.starts_with("response.env_from[0].x: unknown field `x`"),
        "{m}"
    );
    assert_eq!(
        invalid(
            json!({"method": "GET", "url": "http://h", "headers": [{"name": "", "value": "v"}]})
        ),
        "headers[0].name: must not be empty"
    );
    assert_eq!(
        invalid(
            json!({"method": "GET", "url": "http://h", "queries": [{"name": "a", "value": "1"}, {"name": " ", "value": "v"}]})
        ),
        "queries[1].name: must not be empty"
    );
    assert_eq!(
        invalid(
            json!({"method": "GET", "url": "http://h", "response": {"env_from": [{"name": "v", "path": " "}]}})
        ),
        "response.env_from[0].path: must not be empty (variable `v`)"
    );
    assert_eq!(
        invalid(json!({"method": "GET", "url": "http://h", "timeout_ms": -5})),
        "timeout_ms: invalid value: integer `-5`, expected u32"
    );
    assert_eq!(
        invalid(json!("GET http://h")),
        "invalid type: string \"GET http://h\", expected struct HttpParams"
    );
}
