//! What a component is: its world, contract version, imports and exports.
//!
//! Used before a component is accepted (a component of another world or of an unsupported
//! contract version is refused with a message saying what it is) and by `aviary plugin inspect`.

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::contract::{v0_1, v0_2};
use crate::registry::PluginKind;

/// The contract versions this host serves.
pub const SUPPORTED_VERSIONS: &[&str] = &[v0_1::VERSION, v0_2::VERSION];

/// Why a component is refused before it is linked: what it is, and what this host serves
/// instead. The text tells a plugin author what to rebuild.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Incompatibility {
    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly binary")]
    NotWasm,
    /// A core module: it must be built for (or wrapped into) the component model.
    #[error(
        "a core WebAssembly module, not a component: build it for the wasm32-wasip2 target (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule,
    /// Built against a contract version this host does not serve.
    #[error("built against aviary:plugin@{version}, which this host does not serve (supported: {})", SUPPORTED_VERSIONS.join(", "))]
    UnsupportedVersion {
        /// The `aviary:plugin` version it imports.
        version: String,
    },
    /// A component that exports neither world.
    #[error(
        "not an Aviary plugin: it exports [{}], but a metric-provider exports measure, resume and terminate, a condition exports evaluate, and a traffic-router exports set-weight, update-hash and the rest of its world, and a step exports run, terminate and abort (aviary:plugin@{})",
        .exports.join(", "),
        v0_2::VERSION
    )]
    NotAPlugin {
        /// Its top-level exports.
        exports: Vec<String>,
    },
    /// A component of the other world than its registry entry declares.
    #[error("declared as a {} plugin, but the component implements the {} world", .declared.as_str(), .actual.as_str())]
    WrongWorld {
        /// The kind the entry declares.
        declared: PluginKind,
        /// The world the component implements.
        actual: PluginKind,
    },
}

/// A description of a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentInfo {
    /// The world it implements, when it implements one of ours.
    pub world: Option<PluginKind>,
    /// The `aviary:plugin` version it was built against.
    pub version: Option<String>,
    /// Everything it imports (interface names with versions).
    pub imports: Vec<String>,
    /// Everything it exports.
    pub exports: Vec<String>,
    /// Size in bytes.
    pub size: usize,
    /// Hex sha256.
    pub sha256: String,
}

/// What the first eight bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binary {
    /// A component (layer 1).
    Component,
    /// A core WebAssembly module, not a component.
    CoreModule,
    /// Not WebAssembly at all.
    NotWasm,
}

/// Classifies bytes by their header.
pub fn binary_kind(bytes: &[u8]) -> Binary {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Binary::Component,
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Binary::CoreModule,
        _ => Binary::NotWasm,
    }
}

/// Describes a compiled component. Refusal reasons are for [`check`].
pub fn describe(engine: &Engine, component: &Component, bytes: &[u8]) -> ComponentInfo {
    let ty = component.component_type();
    let imports: Vec<String> = ty.imports(engine).map(|(name, _)| name.to_string()).collect();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let world = world_of(&exports);
    let version = imports
        .iter()
        .filter_map(|i| i.strip_prefix("aviary:plugin/"))
        .filter_map(|i| i.split_once('@').map(|(_, v)| v.to_string()))
        .next();
    ComponentInfo { world, version, imports, exports, size: bytes.len(), sha256: crate::cache::sha256_hex(bytes) }
}

/// The world a component implements, from its top-level export names.
pub(crate) fn world_of(exports: &[String]) -> Option<PluginKind> {
    let has = |n: &str| exports.iter().any(|e| e == n);
    if has("measure") && has("resume") && has("terminate") {
        Some(PluginKind::MetricProvider)
    } else if has("evaluate") {
        Some(PluginKind::Condition)
    } else if has("set-weight") && has("update-hash") && has("remove-managed-routes") {
        Some(PluginKind::TrafficRouter)
    } else if has("run") && has("terminate") && has("abort") {
        Some(PluginKind::Step)
    } else if has("notify") {
        Some(PluginKind::Notifier)
    } else {
        None
    }
}

/// Refuses a component that is not of a supported world and version; `expected` is the kind a
/// registry entry declares, if any.
pub fn check(info: &ComponentInfo, expected: Option<PluginKind>) -> Result<PluginKind, Incompatibility> {
    if let Some(v) = &info.version
        && !SUPPORTED_VERSIONS.contains(&v.as_str())
    {
        return Err(Incompatibility::UnsupportedVersion { version: v.clone() });
    }
    let Some(world) = info.world else {
        return Err(Incompatibility::NotAPlugin { exports: info.exports.clone() });
    };
    if let Some(e) = expected
        && e != world
    {
        return Err(Incompatibility::WrongWorld { declared: e, actual: world });
    }
    Ok(world)
}

/// Why bytes that are not a component are refused.
pub fn not_a_component(kind: Binary) -> Incompatibility {
    match kind {
        Binary::CoreModule => Incompatibility::CoreModule,
        _ => Incompatibility::NotWasm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(exports: &[&str], imports: &[&str]) -> ComponentInfo {
        ComponentInfo {
            world: None,
            version: None,
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
            size: 0,
            sha256: String::new(),
        }
    }

    #[test]
    fn headers_tell_components_from_modules() {
        assert_eq!(binary_kind(b"\0asm\x0d\0\x01\0rest"), Binary::Component);
        assert_eq!(binary_kind(b"\0asm\x01\0\0\0rest"), Binary::CoreModule);
        assert_eq!(binary_kind(b"#!/bin/sh"), Binary::NotWasm);
        assert_eq!(binary_kind(b""), Binary::NotWasm);
        assert_eq!(not_a_component(Binary::NotWasm).to_string(), "not a WebAssembly binary");
        assert!(
            not_a_component(Binary::CoreModule).to_string().starts_with("a core WebAssembly module, not a component")
        );
    }

    #[test]
    fn unsupported_versions_and_foreign_worlds_are_refused() {
        let mut i = info(&["evaluate"], &["aviary:plugin/log@0.9.0"]);
        i.world = Some(PluginKind::Condition);
        i.version = Some("0.9.0".into());
        assert_eq!(
            check(&i, None).unwrap_err().to_string(),
            "built against aviary:plugin@0.9.0, which this host does not serve (supported: 0.1.0, 0.2.0)"
        );
        let i = info(&["wasi:http/incoming-handler@0.2.0"], &[]);
        assert_eq!(
            check(&i, None).unwrap_err(),
            Incompatibility::NotAPlugin { exports: vec!["wasi:http/incoming-handler@0.2.0".into()] }
        );
        assert!(check(&i, None).unwrap_err().to_string().starts_with("not an Aviary plugin: it exports [wasi:http"));
        let mut i = info(&["evaluate"], &[]);
        i.world = Some(PluginKind::Condition);
        assert_eq!(
            check(&i, Some(PluginKind::MetricProvider)).unwrap_err().to_string(),
            "declared as a metric-provider plugin, but the component implements the condition world"
        );
        assert_eq!(check(&i, Some(PluginKind::Condition)), Ok(PluginKind::Condition));
    }
}
