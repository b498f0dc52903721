//! Step plugins that ship inside the apirun binary.

/// The built-in `http` step component, built from `plugins/http` by `host/build.rs`.
pub static HTTP_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/http.wasm"));
