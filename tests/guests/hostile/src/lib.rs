//! `hostile`: a step plugin that misbehaves on request, for the host's sandbox tests.
//!
//! Params `{"mode": "..."}`:
//!
//! | mode | behaviour |
//! |---|---|
//! | `spin` | loops forever (never optimized away): needs fuel or an epoch deadline |
//! | `membomb` | allocates and touches 1 MiB chunks until allocation fails (trap) |
//! | `panic` | panics with `hostile guest panicked on purpose` |
//! | `send` | GETs params `url`, returns its status as output `status` |
//! | `big_output` | returns output `big` whose value is params `size` bytes of `x` |
//! | `ok` | returns output `ok` = `yes` |
//!
//! Anything else is `invalid-params`.

#![warn(missing_docs)]

use std::hint::black_box;

use apirun_sdk::{Context, Outputs, Request, StepError};
use serde::Deserialize;

/// The message of the `panic` mode, for the host's tests to look for.
pub const PANIC_MESSAGE: &str = "hostile guest panicked on purpose";

/// Which misbehaviour, and its arguments.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// `spin`, `membomb`, `panic`, `send`, `big_output` or `ok`.
    pub mode: String,
    /// For `send`: the URL to GET.
    #[serde(default)]
    pub url: Option<String>,
    /// For `big_output`: the size of the output value in bytes.
    #[serde(default)]
    pub size: Option<usize>,
}

/// Misbehave as `params.mode` says.
#[apirun_sdk::step(name = "hostile")]
pub fn run(ctx: &Context, params: Params) -> Result<Outputs, StepError> {
    match params.mode.as_str() {
        "spin" => spin(),
        "membomb" => membomb(),
        "panic" => panic!("{PANIC_MESSAGE}"),
        "send" => {
            let url = params
                .url
                .ok_or_else(|| StepError::invalid_params("url: required by mode `send`"))?;
            let response = ctx.send(Request::get(url))?;
            Ok(Outputs::new().with("status", response.status.to_string()))
        }
        "big_output" => {
            let size = params
                .size
                .ok_or_else(|| StepError::invalid_params("size: required by mode `big_output`"))?;
            Ok(Outputs::new().with("big", "x".repeat(size)))
        }
        "ok" => Ok(Outputs::new().with("ok", "yes")),
        other => Err(StepError::invalid_params(format!(
            "mode: unknown mode `{other}`"
        ))),
    }
}

/// Loop forever; `black_box` keeps the loop observable so it cannot be optimized away.
fn spin() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocate 1 MiB chunks filled with non-zero bytes (so every page is touched) and keep
/// them all, until the allocator fails (an abort, i.e. a trap) or the host stops growth.
fn membomb() -> ! {
    const CHUNK: usize = 1 << 20;
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0xA5u8; CHUNK];
        chunk[CHUNK - 1] = black_box(hoard.len() as u8);
        hoard.push(black_box(chunk));
        black_box(&hoard);
    }
}
