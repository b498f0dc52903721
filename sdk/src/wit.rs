//! Conversions between the SDK's types and the generated WIT bindings, and the glue the
//! export macro calls.

use serde::de::DeserializeOwned;

use crate::bindings::apirun::step::types as wit;
use crate::{LogLevel, Outputs, Request, Response, StepDef, StepError, TransportError};

fn pairs_to_wit(pairs: Vec<(String, String)>) -> Vec<wit::Pair> {
    pairs
        .into_iter()
        .map(|(name, value)| wit::Pair { name, value })
        .collect()
}

fn pairs_from_wit(pairs: Vec<wit::Pair>) -> Vec<(String, String)> {
    pairs.into_iter().map(|p| (p.name, p.value)).collect()
}

impl From<Request> for wit::HttpRequest {
    fn from(r: Request) -> Self {
        Self {
            method: r.method,
            url: r.url,
            headers: pairs_to_wit(r.headers),
            body: r.body,
            auth: r.auth,
            timeout_ms: r.timeout_ms,
        }
    }
}

impl From<wit::HttpResponse> for Response {
    fn from(r: wit::HttpResponse) -> Self {
        Self {
            status: r.status,
            headers: pairs_from_wit(r.headers),
            body: r.body,
        }
    }
}

impl From<wit::TransportError> for TransportError {
    fn from(e: wit::TransportError) -> Self {
        match e {
            wit::TransportError::Denied(m) => Self::Denied(m),
            wit::TransportError::InvalidRequest(m) => Self::InvalidRequest(m),
            wit::TransportError::Connect(m) => Self::Connect(m),
            wit::TransportError::Timeout(m) => Self::Timeout(m),
            wit::TransportError::TooLarge(m) => Self::TooLarge(m),
            wit::TransportError::Other(m) => Self::Other(m),
        }
    }
}

impl From<TransportError> for wit::TransportError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Denied(m) => Self::Denied(m),
            TransportError::InvalidRequest(m) => Self::InvalidRequest(m),
            TransportError::Connect(m) => Self::Connect(m),
            TransportError::Timeout(m) => Self::Timeout(m),
            TransportError::TooLarge(m) => Self::TooLarge(m),
            TransportError::Other(m) => Self::Other(m),
        }
    }
}

impl From<LogLevel> for wit::LogLevel {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Trace => Self::Trace,
            LogLevel::Debug => Self::Debug,
            LogLevel::Info => Self::Info,
            LogLevel::Warn => Self::Warn,
            LogLevel::Error => Self::Error,
        }
    }
}

impl From<StepError> for wit::StepError {
    fn from(e: StepError) -> Self {
        match e {
            StepError::InvalidParams(m) => Self::InvalidParams(m),
            StepError::RejectedStatus {
                status,
                accepted,
                body_excerpt,
            } => Self::RejectedStatus(wit::RejectedStatus {
                status,
                accepted,
                body_excerpt,
            }),
            StepError::MissingValue { name, path } => {
                Self::MissingValue(wit::MissingValue { name, path })
            }
            StepError::Transport(t) => Self::Transport(t.into()),
            StepError::Failed(m) => Self::Failed(m),
        }
    }
}

impl From<Outputs> for wit::StepOutput {
    fn from(outputs: Outputs) -> Self {
        Self {
            outputs: pairs_to_wit(outputs.into_vec()),
        }
    }
}

/// Report panics on one line of stderr: `plugin panicked at src/lib.rs:7:5: <message>`.
///
/// The default hook puts the message on the line after `panicked at ...`, which a host that
/// shows one line of the guest's stderr would lose. The panic still aborts (a trap): nothing
/// is caught.
#[cfg(target_arch = "wasm32")]
fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(non-string panic payload)");
            match info.location() {
                Some(at) => eprintln!(
                    "plugin panicked at {}:{}:{}: {message}",
                    at.file(),
                    at.line(),
                    at.column()
                ),
                None => eprintln!("plugin panicked: {message}"),
            }
        }));
    });
}

#[cfg(not(target_arch = "wasm32"))]
fn install_panic_hook() {}

/// The `describe` export.
pub fn describe<P>(step: &StepDef<P>) -> wit::PluginInfo {
    install_panic_hook();
    wit::PluginInfo {
        name: step.name.to_owned(),
        version: step.version.to_owned(),
    }
}

/// The `validate` export.
pub fn validate<P: DeserializeOwned>(
    step: &StepDef<P>,
    params: &str,
) -> Result<(), wit::StepError> {
    install_panic_hook();
    step.validate_json(params).map_err(Into::into)
}

/// The `run` export, against the real host.
pub fn run<P: DeserializeOwned>(
    step: &StepDef<P>,
    params: &str,
) -> Result<wit::StepOutput, wit::StepError> {
    install_panic_hook();
    let ctx = crate::Context::new(&crate::WasmHost);
    step.run_json(&ctx, params)
        .map(Into::into)
        .map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Context;

    fn echo(_ctx: &Context<'_>, params: serde_json::Value) -> Result<Outputs, StepError> {
        match params.get("fail").and_then(|v| v.as_str()) {
            Some(why) => Err(StepError::failed(why)),
            None => Ok(Outputs::new().with("b", "1").with("a", "2")),
        }
    }

    fn no_fail_key(params: &serde_json::Value) -> Result<(), StepError> {
        match params.get("forbidden") {
            Some(_) => Err(StepError::invalid_params("forbidden is forbidden")),
            None => Ok(()),
        }
    }

    const STEP: StepDef<serde_json::Value> = StepDef {
        name: "echo",
        version: "1.2.3",
        run: echo,
        validate: Some(no_fail_key),
    };

    #[test]
    fn wit_version_matches_the_wit_file() {
        let wit = include_str!("../../wit/step.wit");
        let expected = format!("package apirun:step@{};", crate::WIT_VERSION);
        assert!(wit.lines().any(|l| l.trim() == expected), "{expected}");
    }

    #[test]
    fn describe_names_the_step() {
        let info = describe(&STEP);
        assert_eq!(
            (info.name.as_str(), info.version.as_str()),
            ("echo", "1.2.3")
        );
    }

    #[test]
    fn validate_parses_and_runs_the_validator() {
        assert!(validate(&STEP, "{}").is_ok());
        assert!(matches!(
            validate(&STEP, "{"),
            Err(wit::StepError::InvalidParams(m)) if m.contains("EOF while parsing")
        ));
        assert!(matches!(
            validate(&STEP, r#"{"forbidden":1}"#),
            Err(wit::StepError::InvalidParams(m)) if m == "forbidden is forbidden"
        ));
    }

    #[test]
    fn outputs_and_errors_convert_in_order() {
        let mock = crate::MockHost::new();
        let ctx = Context::new(&mock);
        let out: wit::StepOutput = STEP.run_json(&ctx, "{}").expect("runs").into();
        let names: Vec<_> = out.outputs.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);

        let err: wit::StepError = StepError::rejected_status(500, &["2xx"], b"x").into();
        assert!(matches!(
            err,
            wit::StepError::RejectedStatus(r) if r.status == 500 && r.accepted == ["2xx"] && r.body_excerpt == "x"
        ));
        let err: wit::StepError = StepError::from(TransportError::TooLarge("1 MiB".into())).into();
        assert!(
            matches!(err, wit::StepError::Transport(wit::TransportError::TooLarge(m)) if m == "1 MiB")
        );
        let err: wit::StepError = StepError::missing_value("id", "a.id").into();
        assert!(
            matches!(err, wit::StepError::MissingValue(m) if m.name == "id" && m.path == "a.id")
        );
    }

    #[test]
    fn requests_and_responses_convert() {
        let req: wit::HttpRequest = Request::new("patch", "http://h")
            .header("A", "1")
            .body("b")
            .auth("x")
            .timeout_ms(9)
            .into();
        assert_eq!(req.method, "PATCH");
        assert_eq!(req.headers[0].name, "A");
        assert_eq!(req.body.as_deref(), Some(&b"b"[..]));
        assert_eq!((req.auth.as_deref(), req.timeout_ms), (Some("x"), Some(9)));

        let resp: Response = wit::HttpResponse {
            status: 201,
            headers: vec![wit::Pair {
                name: "N".into(),
                value: "v".into(),
            }],
            body: b"{}".to_vec(),
        }
        .into();
        assert_eq!(
            resp,
            Response::new(201).with_header("N", "v").with_body("{}")
        );
        for e in [
            wit::TransportError::Denied("d".into()),
            wit::TransportError::InvalidRequest("i".into()),
            wit::TransportError::Connect("c".into()),
            wit::TransportError::Timeout("t".into()),
            wit::TransportError::TooLarge("l".into()),
            wit::TransportError::Other("o".into()),
        ] {
            let back: wit::TransportError = TransportError::from(e.clone()).into();
            assert_eq!(format!("{back:?}"), format!("{e:?}"));
        }
    }
}
