//! Load time: what happens before a plugin is called. The registry the operator configures
//! ([`registry`]), fetching and compiling components with the on-disk cache of native code
//! ([`cache`]), pre-initialisation ([`preinit`]), the first-party plugins embedded in the binary
//! ([`builtin`]), what a component is ([`inspect`]), OCI registries ([`oci`]) and the process-wide wasmtime engine with its
//! linkers ([`engine`]).

pub mod builtin;
pub mod cache;
pub(crate) mod engine;
pub mod inspect;
pub mod oci;
pub(crate) mod preinit;
pub mod registry;
