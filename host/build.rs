//! Builds the built-in `http` step plugin (plugins/http) for `wasm32-wasip2` and places the
//! component in OUT_DIR so the host embeds it with `include_bytes!`. No `.wasm` file is ever
//! committed: the component is always built from source by the normal `cargo build`.
//!
//! The nested cargo runs with its own target directory (`<target>/guests`): sharing the outer
//! one deadlocks on its build lock. Variables cargo sets for build scripts are cleared so the
//! outer build's flags (RUSTFLAGS, profile overrides, a clippy wrapper) do not leak into the
//! wasm build.

#[path = "guest_build.rs"]
mod guest_build;

use std::env;
use std::path::PathBuf;

use guest_build::{build_guest, guest_target_dir};

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace")
        .to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));

    for path in [
        "wit",
        "plugins/http/src",
        "plugins/http/Cargo.toml",
        "sdk",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(path).display());
    }
    println!("cargo:rerun-if-env-changed=APIRUN_GUEST_TARGET_DIR");

    let target_dir = env::var_os("APIRUN_GUEST_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| guest_target_dir(&out_dir));
    let wasm = build_guest(&root, &target_dir, "apirun-plugin-http");
    std::fs::copy(&wasm, out_dir.join("http.wasm")).unwrap_or_else(|e| {
        panic!("copying {} into OUT_DIR: {e}", wasm.display());
    });
}
