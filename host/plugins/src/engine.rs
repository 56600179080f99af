//! The one wasmtime engine of the process and the clock that gives calls their deadlines.

use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, OptLevel};

use crate::Error;
use crate::store::StoreState;
use crate::wit::v0_1;

/// How often the epoch advances. Each tick, a running guest yields to the async executor (so a
/// busy plugin never holds a worker thread for longer) and its deadline is checked; 10 ms is what
/// Spin uses, and it bounds how late a deadline can fire.
pub(crate) const TICK: Duration = Duration::from_millis(10);

/// Builds the engine: components, epoch interruption, and an explicit guest stack cap.
pub(crate) fn new_engine() -> Result<Engine, Error> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.cranelift_opt_level(OptLevel::Speed);
    // A runaway recursion traps as a stack overflow well before it could hurt the host.
    config.max_wasm_stack(1 << 20);
    config.async_stack_size(2 << 20);
    let engine = Engine::new(&config).map_err(|e| Error::Engine(format!("{e:#}")))?;
    start_ticker(&engine);
    Ok(engine)
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

/// The linkers of contract 0.1: WASI p2 (backed by the deny-all context of each Store) plus our
/// own interfaces. Built once and shared by every plugin of that world.
pub(crate) struct Linkers {
    pub(crate) provider: Linker<StoreState>,
    pub(crate) condition: Linker<StoreState>,
}

impl Linkers {
    pub(crate) fn new(engine: &Engine) -> Result<Self, Error> {
        let setup = |e: wasmtime::Error| Error::Engine(format!("linking host interfaces: {e:#}"));
        let mut provider = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut provider).map_err(setup)?;
        v0_1::provider::MetricProvider::add_to_linker::<_, HasSelf<_>>(&mut provider, |s| s).map_err(setup)?;
        let mut condition = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut condition).map_err(setup)?;
        v0_1::condition::Condition::add_to_linker::<_, HasSelf<_>>(&mut condition, |s| s).map_err(setup)?;
        Ok(Self { provider, condition })
    }
}
