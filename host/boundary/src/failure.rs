//! Why one plugin call failed, with a stable reason.
//!
//! These reasons reach users (in measurement messages), alerts (they are greppable) and metrics
//! (as a label), so their first word never changes: `timeout`, `memory limit`, `trap`,
//! `invalid value`, `unavailable`.

use std::fmt;
use std::time::Duration;

/// A failed plugin call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The call did not finish within the plugin's deadline.
    Timeout {
        /// The plugin's name.
        plugin: String,
        /// The deadline it had.
        deadline: Duration,
    },
    /// The plugin tried to grow its memory past its cap.
    MemoryLimit {
        /// The plugin's name.
        plugin: String,
        /// The cap in bytes.
        limit: u64,
    },
    /// The plugin trapped: a panic, an out-of-bounds access, a stack overflow...
    Trap {
        /// The plugin's name.
        plugin: String,
        /// What wasmtime reported, plus the guest's last stderr line when it said something.
        detail: String,
    },
    /// The plugin answered something that is not a valid value.
    InvalidValue {
        /// The plugin's name.
        plugin: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The plugin is not loaded (missing, broken entry, wrong kind).
    Unavailable {
        /// Why.
        detail: String,
    },
}

impl Failure {
    /// The stable reason, usable as a metric label: `timeout`, `memory_limit`, `trap`,
    /// `invalid_value`, `unavailable`.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Timeout { .. } => "timeout",
            Failure::MemoryLimit { .. } => "memory_limit",
            Failure::Trap { .. } => "trap",
            Failure::InvalidValue { .. } => "invalid_value",
            Failure::Unavailable { .. } => "unavailable",
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Timeout { plugin, deadline } => {
                write!(
                    f,
                    "timeout: plugin {plugin:?} did not finish within its {} deadline",
                    humantime::format_duration(*deadline)
                )
            }
            Failure::MemoryLimit { plugin, limit } => {
                write!(f, "memory limit: plugin {plugin:?} exceeded its {} memory limit", format_bytes(*limit))
            }
            Failure::Trap { plugin, detail } => write!(f, "trap: plugin {plugin:?}: {detail}"),
            Failure::InvalidValue { plugin, detail } => write!(f, "invalid value: plugin {plugin:?}: {detail}"),
            Failure::Unavailable { detail } => write!(f, "unavailable: {detail}"),
        }
    }
}

/// Formats a byte count the way Kubernetes quantities read (`64Mi`).
pub(crate) fn format_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size && n.is_multiple_of(size) {
            return format!("{}{unit}", n.checked_div(size).unwrap_or_default());
        }
    }
    format!("{n} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_start_with_their_stable_reason() {
        let cases = [
            (Failure::Timeout { plugin: "a/b".into(), deadline: Duration::from_secs(1) }, "timeout: "),
            (Failure::MemoryLimit { plugin: "a/b".into(), limit: 64 << 20 }, "memory limit: "),
            (Failure::Trap { plugin: "a/b".into(), detail: "x".into() }, "trap: "),
            (Failure::InvalidValue { plugin: "a/b".into(), detail: "x".into() }, "invalid value: "),
            (Failure::Unavailable { detail: "x".into() }, "unavailable: "),
        ];
        for (failure, prefix) in cases {
            assert!(failure.to_string().starts_with(prefix), "{failure}");
        }
    }

    #[test]
    fn byte_counts_read_as_quantities() {
        assert_eq!(format_bytes(64 << 20), "64Mi");
        assert_eq!(format_bytes(1 << 30), "1Gi");
        assert_eq!(format_bytes(1500), "1500 bytes");
    }
}
