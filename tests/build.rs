//! Builds the test guests (tests/guests/*) for wasm32-wasip2 and exposes their paths to the
//! tests as `env!("APIRUN_GUEST_<NAME>")`.

#[path = "../host/guest_build.rs"]
mod guest_build;

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    for path in ["wit", "sdk", "tests/guests", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let target_dir = guest_build::guest_target_dir(&out_dir);
    // One entry per test guest; more join as example plugins are added.
    #[allow(clippy::single_element_loop)]
    for (package, var) in [("apirun-test-guest-hostile", "APIRUN_GUEST_HOSTILE")] {
        let wasm = guest_build::build_guest(&root, &target_dir, package);
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}
