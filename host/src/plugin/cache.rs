//! On-disk cache of compiled components.
//!
//! Compiling a component with cranelift costs about 100 ms in a release host (seconds in a
//! debug one); loading a precompiled artifact costs about 0.1 ms. The cache key covers the
//! component's bytes and everything about the engine that affects the machine code, so a
//! stale artifact is never loaded: a different wasmtime version or engine configuration simply
//! misses.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept: `$APIRUN_CACHE_DIR`, else `$XDG_CACHE_HOME/apirun`,
/// else `~/.cache/apirun`, else a folder in the system temp dir.
pub fn default_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("APIRUN_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("apirun");
    }
    if let Some(home) = std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(home).join(".cache").join("apirun");
    }
    std::env::temp_dir().join("apirun-cache")
}

/// A cache of precompiled components in one directory.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

/// Hashes with sha256 so the key is stable across processes and Rust versions.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        let digest = self.0.clone().finalize();
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        u64::from_le_bytes(bytes)
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

impl ComponentCache {
    /// A cache in `dir`; `None` disables caching (every run compiles).
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    fn key(engine: &Engine, wasm: &[u8]) -> String {
        let mut h = Sha256Hasher(Sha256::new());
        h.write(b"apirun-component-cache-v1\0");
        h.write(wasm);
        engine.precompile_compatibility_hash().hash(&mut h);
        h.write(env!("CARGO_PKG_VERSION").as_bytes());
        hex::encode(h.0.finalize())
    }

    fn path_for(dir: &Path, key: &str) -> PathBuf {
        dir.join(format!("{key}.cwasm"))
    }

    /// The compiled component: from the cache when present and loadable, else compiled now
    /// and stored for the next run. Cache failures never fail the run; they only cost time.
    pub fn load_or_compile(&self, engine: &Engine, wasm: &[u8]) -> wasmtime::Result<Component> {
        let Some(dir) = &self.dir else {
            return Component::new(engine, wasm);
        };
        let key = Self::key(engine, wasm);
        let path = Self::path_for(dir, &key);
        if path.is_file() {
            match deserialize(engine, &path) {
                Ok(component) => return Ok(component),
                Err(err) => {
                    tracing::debug!(path = %path.display(), error = %err, "discarding unusable cached component");
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let bytes = engine.precompile_component(wasm)?;
        if let Err(err) = store_atomically(dir, &path, &bytes) {
            tracing::debug!(dir = %dir.display(), error = %err, "could not cache compiled component");
        }
        // Load from the precompiled bytes rather than compiling a second time.
        deserialize_bytes(engine, &bytes)
    }
}

fn store_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("component"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file was written by `precompile_component` of an engine with the same
    // compatibility hash (it is part of the file name), into apirun's own cache directory,
    // atomically (write to a temporary name, then rename). wasmtime still checks the header
    // and refuses artifacts from another version or configuration.
    unsafe { Component::deserialize_file(engine, path) }
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` were produced by `precompile_component` of this very engine a moment ago.
    unsafe { Component::deserialize(engine, bytes) }
}
