//! Per-plugin limits, as the registry sets them (the host's memory limiter enforces the cap).

use std::time::Duration;

use crate::registry::PluginKind;

/// The limits one plugin runs under; each can be set per plugin in its registry entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Deadline of one call (a measurement, or one condition evaluation).
    pub timeout: Duration,
    /// Cap on the plugin's linear memory, in bytes.
    pub memory: u64,
    /// Cap on one HTTP response body, in bytes.
    pub max_response_bytes: u64,
}

impl Limits {
    /// Default deadline of a provider call: the one of an Argo web/prometheus query.
    pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(30);
    /// Default deadline of a condition: evaluating an expression takes microseconds, so a
    /// second is generous and bounds a misbehaving evaluator tightly.
    pub const CONDITION_TIMEOUT: Duration = Duration::from_secs(1);
    /// Default memory cap: 64 MiB, enough for an interpreter-based (Python, JS) plugin.
    pub const MEMORY: u64 = 64 << 20;
    /// Default response-size cap: 10 MiB, larger than any sane metrics answer.
    pub const MAX_RESPONSE_BYTES: u64 = 10 << 20;

    /// The defaults for a plugin of this kind.
    pub fn defaults(kind: PluginKind) -> Self {
        Self {
            timeout: match kind {
                PluginKind::MetricProvider => Self::PROVIDER_TIMEOUT,
                PluginKind::Condition => Self::CONDITION_TIMEOUT,
            },
            memory: Self::MEMORY,
            max_response_bytes: Self::MAX_RESPONSE_BYTES,
        }
    }
}

/// Parses a Kubernetes-style quantity of bytes: `67108864`, `64Mi`, `64M`, `1Gi`, `512Ki`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|_| format!("{text:?} is not a byte quantity such as 64Mi"))?;
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use Ki, Mi, Gi, k, M or G)")),
    };
    n.checked_mul(mult).ok_or_else(|| format!("{text:?} is too large"))
}

/// Parses a duration the way Argo writes them (`30s`, `1m30s`, `500ms`); a bare number is
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t).map_err(|e| format!("{text:?} is not a duration such as 30s: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_quantities_parse_like_kubernetes() {
        for (text, want) in
            [("67108864", 64 << 20), ("64Mi", 64 << 20), ("1Gi", 1 << 30), ("512Ki", 512 << 10), ("2M", 2_000_000)]
        {
            assert_eq!(parse_bytes(text), Ok(want), "{text}");
        }
        for bad in ["", "Mi", "64MB", "-1", "1.5Gi", "99999999999999999999Gi"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse_like_argo() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn defaults_depend_on_the_kind() {
        assert_eq!(Limits::defaults(PluginKind::MetricProvider).timeout, Duration::from_secs(30));
        assert_eq!(Limits::defaults(PluginKind::Condition).timeout, Duration::from_secs(1));
        assert_eq!(Limits::defaults(PluginKind::Condition).memory, 64 << 20);
    }
}
