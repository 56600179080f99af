//! Per-plugin limits, as the registry sets them (the host's memory limiter enforces the cap).

use std::time::Duration;

use crate::Invalid;
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
    /// Default deadline of a traffic-router call: a few reads and patches of routing objects
    /// through the host; a router call holds up its Rollout's reconcile, so it is short.
    pub const ROUTER_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default deadline of a step-plugin call: a step polls (it answers `running` and is called
    /// again later) rather than blocking, and a call holds up its Rollout's reconcile.
    pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);
    /// Default deadline of a notifier call: 15 s, room for a webhook's retries (Argo's
    /// notifications engine retries a webhook three times).
    pub const NOTIFIER_TIMEOUT: Duration = Duration::from_secs(15);
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
                PluginKind::TrafficRouter => Self::ROUTER_TIMEOUT,
                PluginKind::Step => Self::STEP_TIMEOUT,
                PluginKind::Notifier => Self::NOTIFIER_TIMEOUT,
            },
            memory: Self::MEMORY,
            max_response_bytes: Self::MAX_RESPONSE_BYTES,
        }
    }
}

/// Parses a Kubernetes-style quantity of bytes: `67108864`, `64Mi`, `64M`, `1Gi`, `512Ki`.
pub fn parse_bytes(text: &str) -> Result<u64, Invalid> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().map_err(|source| Invalid::NotAQuantity { text: text.to_string(), source })?;
    let mult: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "k" | "K" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        _ => return Err(Invalid::UnknownUnit { text: text.to_string(), unit: unit.to_string() }),
    };
    n.checked_mul(mult).ok_or_else(|| Invalid::TooLarge { text: text.to_string() })
}

/// Parses a duration the way Argo writes them (`30s`, `1m30s`, `500ms`); a bare number is
/// seconds.
pub fn parse_duration(text: &str) -> Result<Duration, Invalid> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t).map_err(|source| Invalid::NotADuration { text: text.to_string(), source })
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
        assert_eq!(
            parse_bytes("64MB").unwrap_err().to_string(),
            r#""64MB": unknown unit "MB" (use Ki, Mi, Gi, k, M or G)"#
        );
        assert_eq!(parse_bytes("Mi").unwrap_err().to_string(), r#""Mi" is not a byte quantity such as 64Mi"#);
        assert_eq!(parse_bytes("99999999999Gi").unwrap_err().to_string(), r#""99999999999Gi" is too large"#);
    }

    #[test]
    fn durations_parse_like_argo() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        let err = parse_duration("soon").unwrap_err();
        assert!(err.to_string().starts_with(r#""soon" is not a duration such as 30s: "#), "{err}");
        assert!(std::error::Error::source(&err).is_some(), "the parser's error is kept");
    }

    #[test]
    fn defaults_depend_on_the_kind() {
        assert_eq!(Limits::defaults(PluginKind::MetricProvider).timeout, Duration::from_secs(30));
        assert_eq!(Limits::defaults(PluginKind::Condition).timeout, Duration::from_secs(1));
        assert_eq!(Limits::defaults(PluginKind::Condition).memory, 64 << 20);
    }
}
