//! Per-plugin limits ([`aviary_boundary::limits`]) and the memory limiter that enforces the cap.

pub use aviary_boundary::limits::*;

/// Enforces the memory cap of one Store and remembers that it did, so that the failure is
/// reported as `memory limit` rather than as whatever the guest did next.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    pub(crate) limit: u64,
    pub(crate) hit: bool,
}

/// A guest's memory.grow went past its cap.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (wanted {desired})")]
pub(crate) struct MemoryLimitExceeded {
    limit: u64,
    desired: u64,
}

/// Upper bound on table elements (function references); no legitimate plugin needs more.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.limit {
            self.hit = true;
            // An error (not `Ok(false)`) traps at once, so the guest cannot swallow the refusal
            // and limp on.
            return Err(wasmtime::Error::new(MemoryLimitExceeded { limit: self.limit, desired }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}
