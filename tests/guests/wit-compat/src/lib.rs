//! `compat`: a step plugin built against `apirun:step@0.1.0` (tests/guests/wit-compat/wit),
//! the contract before `sleep` was added. It proves a newer 0.1.x host still runs it, and
//! that a guest waiting on the WASI clock cannot hold a step past its time limit.
//!
//! Params `{"mode": "..."}`: `ok` returns output `ok` = `yes`; `wasi_sleep` sleeps params
//! `ms` milliseconds with `std::thread::sleep` (WASI `monotonic-clock`, not apirun's `sleep`)
//! and returns output `slept` = `ms`.

// wit-bindgen's generated glue (exports, canonical ABI) is unsafe code by nature.
#![allow(unsafe_code)]

use std::time::Duration;

wit_bindgen::generate!({
    path: "wit",
    world: "step-plugin",
});

use apirun::step::types::{Pair, PluginInfo, StepError, StepOutput};

struct Compat;

fn field<'a>(params: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    params.get(name)
}

impl exports::apirun::step::step::Guest for Compat {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "compat".to_string(),
            version: "0.1.0".to_string(),
        }
    }

    fn validate(params: String) -> Result<(), StepError> {
        serde_json::from_str::<serde_json::Value>(&params)
            .map(drop)
            .map_err(|e| StepError::InvalidParams(e.to_string()))
    }

    fn run(params: String) -> Result<StepOutput, StepError> {
        let params: serde_json::Value =
            serde_json::from_str(&params).map_err(|e| StepError::InvalidParams(e.to_string()))?;
        let output = |name: &str, value: String| StepOutput {
            outputs: vec![Pair {
                name: name.to_string(),
                value,
            }],
        };
        match field(&params, "mode").and_then(|m| m.as_str()) {
            Some("ok") => Ok(output("ok", "yes".to_string())),
            Some("wasi_sleep") => {
                let ms = field(&params, "ms").and_then(|m| m.as_u64()).unwrap_or(0);
                std::thread::sleep(Duration::from_millis(ms));
                Ok(output("slept", ms.to_string()))
            }
            other => Err(StepError::InvalidParams(format!(
                "mode: unknown mode {other:?}"
            ))),
        }
    }
}

export!(Compat);
