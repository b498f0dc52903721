//! Building wasm guest crates from a build script; shared by host/build.rs (the built-in
//! plugins) and tests/build.rs (the test guests).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `<target>/guests`, found from OUT_DIR = `<target>/<profile>/build/<pkg>-<hash>/out`.
pub fn guest_target_dir(out_dir: &Path) -> PathBuf {
    out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("guests"))
        .unwrap_or_else(|| out_dir.join("guests"))
}

/// Build one guest package and return the path of its component.
pub fn build_guest(root: &Path, target_dir: &Path, package: &str) -> PathBuf {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--profile",
            "wasm-guest",
            "-p",
            package,
        ])
        .arg("--target-dir")
        .arg(target_dir);
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let leaks = matches!(
            key,
            "RUSTFLAGS"
                | "CARGO_ENCODED_RUSTFLAGS"
                | "CARGO_TARGET_DIR"
                | "CARGO_BUILD_TARGET"
                | "CARGO_BUILD_RUSTFLAGS"
                | "RUSTC_WRAPPER"
                | "RUSTC_WORKSPACE_WRAPPER"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
        ) || key.starts_with("CARGO_PROFILE_")
            || key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("DEP_");
        if leaks {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running cargo to build {package}: {e}"));
    if !status.success() {
        panic!(
            "building the {package} component failed ({status}); is the wasm32-wasip2 target installed? \
             run `rustup target add wasm32-wasip2`"
        );
    }
    let file = format!("{}.wasm", package.replace('-', "_"));
    target_dir
        .join("wasm32-wasip2")
        .join("wasm-guest")
        .join(file)
}
