//! Pre-initialisation: a component that exports `wizer-initialize: func()` is run once when it
//! is loaded, and the state that run leaves in its memory becomes the starting state of every
//! call.
//!
//! Every call gets a fresh instance, so whatever a plugin sets up before its real work would be
//! redone on every call: `aviary/expr` builds expr-lang's table of about a hundred built-in
//! functions, 17 µs of a 30 µs budget. Wizer (the tool componentize-py and componentize-js use
//! at build time) instruments the component, runs its init function, and rewrites the component
//! with the resulting memory and globals as its data segments; the pooling allocator then maps
//! that image copy-on-write into each new instance, so the setup costs nothing per call.
//!
//! The host does it at load time rather than asking plugin authors for another build step, in
//! the same sandbox and limits as a call (deny-all WASI, the plugin's memory cap, a deadline),
//! and the compile cache keeps the result, so a restart does not run it again.

use std::time::Duration;

use wasmtime::component::{Component, Instance, Lift, Linker, WasmList};
use wasmtime::{Engine, Store};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::store::StoreState;

/// The export that asks for pre-initialisation (Wizer's default name).
pub(crate) const INIT_EXPORT: &str = "wizer-initialize";

/// The names a component exports at its top level (not those of nested modules), read from the
/// binary without compiling it; empty if the bytes cannot be parsed (compiling reports that).
pub(crate) fn top_level_exports(bytes: &[u8]) -> Vec<String> {
    use wasmparser::{Parser, Payload};
    let mut names = Vec::new();
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(Payload::ModuleSection { .. } | Payload::ComponentSection { .. }) => depth = depth.saturating_add(1),
            Ok(Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(Payload::ComponentExportSection(section)) if depth == 0 => {
                names.extend(section.into_iter().flatten().map(|e| e.name.name.to_string()));
            }
            Ok(_) => {}
            Err(_) => return Vec::new(),
        }
    }
    names
}

/// Runs the component's init function in `store` and returns the snapshot: a component with the
/// same code, whose memories and globals start where the init function left them. An init that traps, times out or exceeds the memory cap is an error.
pub(crate) async fn snapshot(
    engine: &Engine,
    linker: &Linker<StoreState>,
    store: &mut Store<StoreState>,
    bytes: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let mut wizer = Wizer::new();
    // Keep the export: wasmtime-wizer 48 removes the core export but not the component's lift
    // of it, which makes the rewritten component invalid. Nothing calls it after the snapshot.
    wizer.keep_init_func(true);
    let (cx, instrumented) = wizer.instrument_component(bytes).map_err(|e| format!("cannot instrument: {e:#}"))?;
    let component = Component::new(engine, &instrumented).map_err(|e| format!("cannot compile: {e:#}"))?;
    // The plugin's deadline covers its own work, not the compile above.
    crate::store::set_deadline(store, crate::host::deadline_after(timeout));
    let instance = linker.instantiate_async(&mut *store, &component).await.map_err(|e| format!("{e:#}"))?;
    let init = instance.get_typed_func::<(), ()>(&mut *store, INIT_EXPORT).map_err(|e| format!("{e:#}"))?;
    init.call_async(&mut *store, ()).await.map_err(|e| format!("{INIT_EXPORT} failed: {e:#}"))?;
    let mut state = State { store, instance, error: None };
    let snapshot = wizer.snapshot_component(&cx, &mut state).await.map_err(|e| format!("{e:#}"))?;
    match state.error {
        Some(e) => Err(format!("cannot read the initialised state: {e}")),
        None => Ok(snapshot),
    }
}

/// Wizer reads the instance's state through the accessor functions it added when instrumenting.
/// Its trait cannot return errors, so the first failure is kept and the snapshot discarded.
struct State<'a> {
    store: &'a mut Store<StoreState>,
    instance: Instance,
    error: Option<String>,
}

impl State<'_> {
    async fn call<R: Lift + Send + Sync + 'static>(&mut self, instance: &str, func: &str) -> Option<R> {
        if self.error.is_some() {
            return None;
        }
        let result = async {
            let (_, exported) = self
                .instance
                .get_export(&mut *self.store, None, instance)
                .ok_or_else(|| format!("no export {instance}"))?;
            let (_, index) = self
                .instance
                .get_export(&mut *self.store, Some(&exported), func)
                .ok_or_else(|| format!("no export {instance}#{func}"))?;
            let f = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *self.store, index)
                .map_err(|e| format!("{instance}#{func}: {e:#}"))?;
            f.call_async(&mut *self.store, ()).await.map(|(r,)| r).map_err(|e| format!("{instance}#{func}: {e:#}"))
        }
        .await;
        match result {
            Ok(r) => Some(r),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl ComponentInstanceState for State<'_> {
    async fn call_func_ret_list_u8(&mut self, instance: &str, func: &str, contents: impl FnOnce(&[u8]) + Send) {
        match self.call::<WasmList<u8>>(instance, func).await {
            Some(list) => contents(list.as_le_slice(&*self.store)),
            None => contents(&[]),
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func).await.unwrap_or_default()
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func).await.unwrap_or_default()
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call::<f32>(instance, func).await.map(f32::to_bits).unwrap_or_default()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call::<f64>(instance, func).await.map(f64::to_bits).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_exports_skip_nested_modules() {
        let bytes = std::fs::read(concat!(env!("AVIARY_WASM_DIR"), "/aviary_test_hostile_condition.wasm")).unwrap();
        let mut names = top_level_exports(&bytes);
        names.sort();
        // Its core module exports `memory`, `cabi_realloc` and more: not listed.
        assert_eq!(names, ["evaluate", INIT_EXPORT], "{names:?}");
        assert!(top_level_exports(b"not wasm").is_empty());
    }
}
