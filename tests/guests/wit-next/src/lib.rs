//! `next`: a step plugin built against a hypothetical `apirun:step@0.2.0`
//! (tests/guests/wit-next/wit), which an apirun implementing 0.1.x must refuse at load with a
//! message naming both versions. It would work if it were run; it must never be.

// wit-bindgen's generated glue (exports, canonical ABI) is unsafe code by nature.
#![allow(unsafe_code)]

wit_bindgen::generate!({
    path: "wit",
    world: "step-plugin",
});

use apirun::step::types::{Pair, PluginInfo, StepError, StepOutput};

struct Next;

impl exports::apirun::step::step::Guest for Next {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "next".to_string(),
            version: "2.0.0".to_string(),
        }
    }

    fn validate(_params: String) -> Result<(), StepError> {
        Ok(())
    }

    fn run(_params: String) -> Result<StepOutput, StepError> {
        Ok(StepOutput {
            outputs: vec![Pair {
                name: "ran".to_string(),
                value: "yes".to_string(),
            }],
        })
    }
}

export!(Next);
