//! Hostile guests against the real wasm runtime: each misbehaviour ends in a clean error on
//! that step, and the next step of the same runtime still works.

use std::collections::BTreeMap;
use std::time::Duration;

use apirun::http::{ClientSettings, HostPolicy, HostRule, HttpClient, StepOutbound};
use apirun::plugin::{
    ComponentCache, Limits, Plugin, Runtime, StepError, StepFailure, TransportError, TrapKind,
};
use apirun_tests::{MockApi, Reply};

fn runtime() -> Runtime {
    let cache = std::path::PathBuf::from(env!("APIRUN_GUEST_HOSTILE"))
        .parent()
        .map(|p| p.join("host-cache"));
    Runtime::new(ComponentCache::new(cache)).expect("runtime")
}

fn hostile(rt: &Runtime, limits: Limits) -> Plugin {
    let wasm =
        std::fs::read(env!("APIRUN_GUEST_HOSTILE")).expect("hostile guest built by build.rs");
    rt.load("hostile", &wasm, limits)
        .expect("load hostile guest")
}

fn outbound(policy: HostPolicy) -> Box<StepOutbound> {
    let client = HttpClient::new(ClientSettings::default()).expect("client");
    Box::new(StepOutbound::new(
        client,
        policy,
        BTreeMap::new(),
        "test step",
    ))
}

fn allow_all() -> Box<StepOutbound> {
    outbound(HostPolicy::allow_all("plugin `hostile`"))
}

fn assert_still_works(plugin: &Plugin) {
    let out = plugin
        .run(r#"{"mode":"ok"}"#, allow_all())
        .expect("a normal step after a hostile one");
    assert_eq!(out, vec![("ok".to_string(), "yes".to_string())]);
}

fn trap_kind(result: Result<Vec<(String, String)>, StepFailure>) -> (TrapKind, String) {
    match result {
        Err(StepFailure::Trap { kind, message, .. }) => (kind, message),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn describe_reports_name_and_version() {
    let rt = runtime();
    let p = hostile(&rt, Limits::default());
    assert_eq!(p.info().name, "hostile");
    assert!(!p.info().version.is_empty());
}

#[test]
fn endless_loop_is_stopped_by_the_cpu_budget() {
    let rt = runtime();
    let p = hostile(
        &rt,
        Limits {
            fuel: 50_000_000,
            ..Limits::default()
        },
    );
    let (kind, message) = trap_kind(p.run(r#"{"mode":"spin"}"#, allow_all()));
    assert_eq!(kind, TrapKind::OutOfFuel, "{message}");
    assert!(message.contains("CPU budget"), "{message}");
    assert_still_works(&p);
}

#[test]
fn endless_loop_is_stopped_by_the_deadline() {
    let rt = runtime();
    let p = hostile(
        &rt,
        Limits {
            fuel: u64::MAX,
            timeout: Duration::from_millis(300),
            ..Limits::default()
        },
    );
    let started = std::time::Instant::now();
    let (kind, message) = trap_kind(p.run(r#"{"mode":"spin"}"#, allow_all()));
    assert_eq!(kind, TrapKind::Timeout, "{message}");
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_still_works(&p);
}

#[test]
fn memory_bomb_hits_the_memory_limit() {
    let rt = runtime();
    let p = hostile(
        &rt,
        Limits {
            memory_bytes: 16 << 20,
            ..Limits::default()
        },
    );
    let (kind, message) = trap_kind(p.run(r#"{"mode":"membomb"}"#, allow_all()));
    assert_eq!(kind, TrapKind::Memory, "{message}");
    assert!(message.contains("memory limit"), "{message}");
    assert_still_works(&p);
}

#[test]
fn panic_becomes_an_error_with_the_message() {
    let rt = runtime();
    let p = hostile(&rt, Limits::default());
    let (kind, message) = trap_kind(p.run(r#"{"mode":"panic"}"#, allow_all()));
    assert_eq!(kind, TrapKind::Panic, "{message}");
    assert!(
        message.contains("hostile guest panicked on purpose"),
        "{message}"
    );
    assert_still_works(&p);
}

#[test]
fn oversized_output_is_refused() {
    let rt = runtime();
    let p = hostile(
        &rt,
        Limits {
            max_output_bytes: 1024,
            ..Limits::default()
        },
    );
    match p.run(r#"{"mode":"big_output","size":100000}"#, allow_all()) {
        Err(StepFailure::OutputTooLarge { size, limit }) => {
            assert!(size >= 100_000);
            assert_eq!(limit, 1024);
        }
        other => panic!("expected OutputTooLarge, got {other:?}"),
    }
    assert_still_works(&p);
}

#[test]
fn request_to_a_denied_host_never_leaves_the_machine() {
    let api = MockApi::start(|_| Reply::text(200, "should not be reached"));
    let rt = runtime();
    let p = hostile(&rt, Limits::default());
    let policy = HostPolicy::allow_all("plugin `hostile`")
        .restrict(vec![HostRule::parse("api.example.com").expect("rule")]);
    let params = serde_json::json!({"mode": "send", "url": format!("{}/x", api.url())}).to_string();
    match p.run(&params, outbound(policy)) {
        Err(StepFailure::Step(StepError::Transport(TransportError::Denied(m)))) => {
            assert!(m.contains("127.0.0.1"), "{m}");
            assert!(m.contains("plugin `hostile`"), "{m}");
        }
        other => panic!("expected a denied request, got {other:?}"),
    }
    assert!(
        api.received().is_empty(),
        "the denied request reached the server"
    );
}

#[test]
fn redirect_to_a_denied_host_is_not_followed() {
    let target = MockApi::start(|_| Reply::text(200, "secret place"));
    let location = format!("{}/inside", target.url());
    let front = MockApi::start(move |_| Reply::text(302, "").header("Location", &location));
    let rt = runtime();
    let p = hostile(&rt, Limits::default());
    let front_host = front.url().trim_start_matches("http://").to_string();
    let policy = HostPolicy::allow_all("plugin `hostile`")
        .restrict(vec![HostRule::parse(&front_host).expect("rule")]);
    let params =
        serde_json::json!({"mode": "send", "url": format!("{}/start", front.url())}).to_string();
    match p.run(&params, outbound(policy)) {
        Err(StepFailure::Step(StepError::Transport(TransportError::Denied(_)))) => {}
        other => panic!("expected the redirect to be denied, got {other:?}"),
    }
    assert_eq!(front.received().len(), 1);
    assert!(
        target.received().is_empty(),
        "the redirect was followed to a denied host"
    );
}

#[test]
fn allowed_request_goes_through() {
    let api = MockApi::start(|_| Reply::text(204, ""));
    let rt = runtime();
    let p = hostile(&rt, Limits::default());
    let host = api.url().trim_start_matches("http://").to_string();
    let policy = HostPolicy::allow_all("plugin `hostile`")
        .restrict(vec![HostRule::parse(&host).expect("rule")]);
    let params =
        serde_json::json!({"mode": "send", "url": format!("{}/ok", api.url())}).to_string();
    let out = p.run(&params, outbound(policy)).expect("allowed");
    assert_eq!(out, vec![("status".to_string(), "204".to_string())]);
    assert_eq!(api.count("GET", "/ok"), 1);
}
