//! Compiled plugins, cached on disk and in memory.
//!
//! Compiling a component takes tens of milliseconds for a small Rust plugin and seconds for a
//! Python or JavaScript one; loading its precompiled native code takes a fraction of a
//! millisecond. So the host compiles each distinct component once, writes the result to
//! `<dir>/<sha256>-<engine hash>.cwasm`, and later starts (and hot reloads) load that file.
//! The engine hash (wasmtime's `precompile_compatibility_hash`) changes with the wasmtime
//! version and configuration, so a stale artifact is never loaded into an incompatible engine.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where a component came from: compiled now, or loaded from the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Compiled from the Wasm bytes.
    Compiled,
    /// Loaded from a precompiled artifact on disk.
    Disk,
    /// Already in memory (another name for the same component).
    Memory,
}

/// Why a component could not be turned into native code. The compiler's whole chain of
/// messages is in the text, because a plugin author needs all of it to fix the component.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    /// wasmtime refused to compile the component (invalid Wasm, an unsupported feature...).
    #[error("{0:#}")]
    Compile(#[source] wasmtime::Error),
    /// The native code just compiled could not be loaded back into the engine.
    #[error("{0:#}")]
    Load(#[source] wasmtime::Error),
    /// The blocking task that compiles a registry entry panicked or was cancelled (the host
    /// compiles off the async runtime; this is the only way [`PluginHost::load`] loses it).
    ///
    /// [`PluginHost::load`]: crate::PluginHost::load
    #[error("the compile task failed: {0}")]
    Task(#[source] tokio::task::JoinError),
}

/// The compile cache.
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_hash: String,
    memory: Mutex<HashMap<String, Component>>,
}

/// The hex sha256 of some bytes: a plugin's identity everywhere (registry, cache, metrics).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl CompileCache {
    /// A cache writing to `dir` (created if needed), or memory only when `dir` is `None`.
    pub fn new(engine: &Engine, dir: Option<PathBuf>) -> Self {
        let mut hasher = DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        Self { dir, engine_hash: format!("{:016x}", hasher.finish()), memory: Mutex::new(HashMap::new()) }
    }

    /// The directory artifacts go to, if any.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The component for `bytes` whose digest is `sha256`: from memory, from disk, or compiled
    /// (and then written to disk; a failed write is logged, never fatal).
    pub fn load(&self, engine: &Engine, sha256: &str, bytes: &[u8]) -> Result<(Component, Origin), CompileError> {
        if let Some(found) = self.cached(engine, sha256) {
            return Ok(found);
        }
        let path = self.path(sha256);
        let compiled = engine.precompile_component(bytes).map_err(CompileError::Compile)?;
        if let Some(path) = &path
            && let Err(e) = write_atomically(path, &compiled)
        {
            tracing::warn!(path = %path.display(), "cannot write the compile cache: {e}");
        }
        let component = deserialize_bytes(engine, &compiled).map_err(CompileError::Load)?;
        Ok((self.remember(sha256, component), Origin::Compiled))
    }

    /// The component cached under `key` (in memory or on disk), without compiling anything.
    pub fn cached(&self, engine: &Engine, key: &str) -> Option<(Component, Origin)> {
        if let Some(c) = self.memory.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Some((c.clone(), Origin::Memory));
        }
        let path = self.path(key)?;
        if !path.exists() {
            return None;
        }
        match deserialize(engine, &path) {
            Ok(c) => Some((self.remember(key, c), Origin::Disk)),
            Err(e) => {
                tracing::warn!(path = %path.display(), "ignoring unusable compiled plugin: {e:#}");
                None
            }
        }
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}-{}.cwasm", self.engine_hash)))
    }

    fn remember(&self, sha256: &str, c: Component) -> Component {
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).insert(sha256.to_string(), c.clone());
        c
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("cwasm"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that the file was produced by `precompile_component` of a
    // compatible engine and not tampered with. We only read files this cache wrote, in a
    // directory the operator gave us, named by the component's digest and the engine's
    // compatibility hash; wasmtime additionally checks the header and refuses an artifact
    // from another version or configuration.
    unsafe { Component::deserialize_file(engine, path) }
}

#[allow(unsafe_code)]
fn deserialize_bytes(engine: &Engine, bytes: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `bytes` was produced a moment ago by `precompile_component` of this engine.
    unsafe { Component::deserialize(engine, bytes) }
}
