//! Builds the test guests (tests/guests/*) and the example plugins (examples/plugins/*) for
//! wasm32-wasip2 from source and exposes their paths to the tests as
//! `env!("APIRUN_GUEST_<NAME>")`.

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
    for path in [
        "wit",
        "sdk",
        "tests/guests",
        "examples/plugins",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    let target_dir = guest_build::guest_target_dir(&out_dir);
    for (package, var) in [
        ("apirun-test-guest-hostile", "APIRUN_GUEST_HOSTILE"),
        ("apirun-test-guest-wit-compat", "APIRUN_GUEST_WIT_COMPAT"),
        ("apirun-test-guest-wit-next", "APIRUN_GUEST_WIT_NEXT"),
        ("apirun-example-job", "APIRUN_GUEST_JOB"),
    ] {
        let wasm = guest_build::build_guest(&root, &target_dir, package);
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}
