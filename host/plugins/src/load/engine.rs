//! The one wasmtime engine of the process and the clock that gives calls their deadlines.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig};

use crate::Error;
use crate::contract::{v0_1, v0_2};
use crate::registry::PluginKind;
use crate::store::StoreState;

/// How often the epoch advances. Each tick, a running guest yields to the async executor (so a
/// busy plugin never holds a worker thread for longer) and its deadline is checked; 10 ms is what
/// Spin uses, and it bounds how late a deadline can fire.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Builds the engine: components, epoch interruption, an explicit guest stack cap, and the pooling
/// allocator sized for `concurrent_calls` calls at once.
///
/// A fresh instance per call is only cheap if instantiation is: the on-demand allocator maps a
/// new linear memory and a new fiber stack for every call (about 100 µs measured here), while the
/// pooling allocator reuses warm slots with copy-on-write memory images. The pool reserves
/// virtual address space up front (about 4 GiB per memory slot); where that is refused, the
/// engine falls back to on-demand allocation, as Spin does.
pub(crate) fn new_engine(concurrent_calls: usize) -> Result<Engine, Error> {
    let mut config = base_config();
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(concurrent_calls)));
    let engine = match Engine::new(&config) {
        Ok(engine) => engine,
        Err(e) => {
            tracing::warn!("pooling allocator unavailable ({e:#}); falling back to on-demand instance allocation");
            Engine::new(&base_config()).map_err(|e| Error::Engine(format!("{e:#}")))?
        }
    };
    start_ticker(&engine);
    Ok(engine)
}

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(OptLevel::Speed);
    // A runaway recursion traps as a stack overflow well before it could hurt the host.
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(2 << 20);
    config
}

/// Per memory slot, the bytes a finished call may leave resident (reset in place) for the next.
/// A condition call dirties a few dozen pages; 1 MiB per slot was no faster and, with 64 calls at
/// once in the 1,000-Rollout bench, raised the controller's peak by 105 MiB (docs/benchmarks.md).
const KEEP_RESIDENT_MEMORY: usize = 256 << 10;
/// The same for each table slot.
const KEEP_RESIDENT_TABLE: usize = 64 << 10;
/// Idle slots that keep their resident pages (and their plugin's image) for reuse; beyond this
/// an idle slot is decommitted. With the amounts above, every slot of a full pool (64 calls)
/// keeps at most 20 MiB resident.
const MAX_WARM_SLOTS: u32 = 16;

/// Pool sizes. Per-plugin memory caps are enforced by each Store's limiter, so the pool's own
/// maximum is wasm32's 4 GiB; the counts leave room for interpreter-based components (Python,
/// JavaScript), which have many more core instances, tables and table elements than Rust ones.
fn pooling(concurrent_calls: usize) -> PoolingAllocationConfig {
    let n = u32::try_from(concurrent_calls.max(1)).unwrap_or(u32::MAX).min(4096);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(16))
        .total_memories(n.saturating_mul(2))
        .total_tables(n.saturating_mul(8))
        .total_stacks(n)
        .max_core_instances_per_component(64)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_memories_per_module(2)
        .max_tables_per_module(4)
        .table_elements(200_000)
        .max_memory_size(1 << 32)
        // Each idle slot keeps up to the amounts below resident; bound how many stay warm.
        .max_unused_warm_slots(MAX_WARM_SLOTS);
    // Reset a used slot in place instead of unmapping it: PAGEMAP_SCAN (Linux 6.7+) finds the
    // pages the call dirtied, they are copied back from the image and stay mapped, so the next
    // call of that plugin takes no page faults on them. Measured on the trivial guest: 43 µs
    // per call with nothing kept, 12 µs with this (docs/benchmarks.md). Without the ioctl,
    // keeping pages resident means rewriting the whole region after every call, which costs
    // more than the faults it saves, so then nothing is kept.
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.pagemap_scan(Enabled::Yes)
            .linear_memory_keep_resident(KEEP_RESIDENT_MEMORY)
            .table_keep_resident(KEEP_RESIDENT_TABLE);
    }
    pool
}

/// Advances the epoch every [`TICK`] on a dedicated OS thread, so that a stuck async executor
/// cannot stop the clock. The thread holds only a weak handle and ends with the engine.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new().name("aviary-wasm-epoch".into()).spawn(move || {
        while let Some(engine) = weak.upgrade() {
            engine.increment_epoch();
            drop(engine);
            std::thread::sleep(TICK);
        }
    });
    if let Err(e) = spawned {
        // Without the ticker no deadline fires; the tokio timeout around each call still does.
        tracing::error!("cannot start the epoch ticker thread: {e}");
    }
}

/// The linker of each world: WASI p2 (backed by the deny-all context of each Store) plus our own
/// interfaces in every contract version that has the world (their import names carry the
/// version, so one linker serves a 0.1.0 and a 0.2.0 provider alike). Built once and shared.
pub(crate) struct Linkers {
    /// `metric-provider`, 0.1.0 and 0.2.0.
    pub(crate) provider: Linker<StoreState>,
    /// `condition`, 0.1.0 and 0.2.0.
    pub(crate) condition: Linker<StoreState>,
    /// `traffic-router`, 0.2.0.
    pub(crate) router: Linker<StoreState>,
    /// `step`, 0.2.0.
    pub(crate) step: Linker<StoreState>,
    /// `notifier`, 0.2.0.
    pub(crate) notifier: Linker<StoreState>,
}

impl Linkers {
    pub(crate) fn new(engine: &Engine) -> Result<Self, Error> {
        let setup = |e: wasmtime::Error| Error::Engine(format!("linking host interfaces: {e:#}"));
        let wasi = || -> Result<Linker<StoreState>, Error> {
            let mut linker = Linker::new(engine);
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(setup)?;
            Ok(linker)
        };
        let (mut provider, mut condition, mut router, mut step, mut notifier) =
            (wasi()?, wasi()?, wasi()?, wasi()?, wasi()?);
        v0_1::provider::MetricProvider::add_to_linker::<_, HasSelf<_>>(&mut provider, |s| s).map_err(setup)?;
        v0_2::provider::MetricProvider::add_to_linker::<_, HasSelf<_>>(&mut provider, |s| s).map_err(setup)?;
        v0_1::condition::Condition::add_to_linker::<_, HasSelf<_>>(&mut condition, |s| s).map_err(setup)?;
        v0_2::condition::Condition::add_to_linker::<_, HasSelf<_>>(&mut condition, |s| s).map_err(setup)?;
        v0_2::router::TrafficRouter::add_to_linker::<_, HasSelf<_>>(&mut router, |s| s).map_err(setup)?;
        v0_2::step::Step::add_to_linker::<_, HasSelf<_>>(&mut step, |s| s).map_err(setup)?;
        v0_2::notifier::Notifier::add_to_linker::<_, HasSelf<_>>(&mut notifier, |s| s).map_err(setup)?;
        Ok(Self { provider, condition, router, step, notifier })
    }

    /// The linker of `kind`.
    pub(crate) fn of(&self, kind: PluginKind) -> &Linker<StoreState> {
        match kind {
            PluginKind::MetricProvider => &self.provider,
            PluginKind::Condition => &self.condition,
            PluginKind::TrafficRouter => &self.router,
            PluginKind::Step => &self.step,
            PluginKind::Notifier => &self.notifier,
        }
    }
}
