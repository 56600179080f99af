//! maxSurge / maxUnavailable resolution (reference §2.1; Argo `MaxSurge`, `MaxUnavailable`,
//! `resolveFenceposts`).
//!
//! The quirk that matters: Argo resolves both with Kubernetes' *deprecated*
//! `GetValueFromIntOrPercent`, which reads every string as a percentage, with or without `%`.
//! The defaults are the strings `"25"`, so they mean 25%, and a user's `"3"` means 3%.

use std::num::ParseIntError;

use aviary_api::IntOrString;
use aviary_api::rollout::RolloutSpec;

/// Why an intOrString (`maxSurge`, `maxUnavailable`) is not a number of pods. What that means
/// is the caller's: Argo treats both fenceposts as 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntOrPercentError {
    /// The string, without its `%` signs, is not an integer.
    #[error("invalid value {value:?}: not an integer percentage")]
    NotAPercentage {
        /// The string as written.
        value: String,
    },
    /// The integer does not fit in 64 bits.
    #[error("invalid value {value:?}: out of range")]
    OutOfRange {
        /// The string as written.
        value: String,
        /// The integer parser's error.
        #[source]
        source: ParseIntError,
    },
}

/// Kubernetes' deprecated `GetValueFromIntOrPercent`: an int as given; any string, with every
/// `%` removed, as a percentage of `total`, rounded up or down. A string that is not a number is
/// an error (Argo then treats both fenceposts as 0).
pub fn value_from_int_or_percent(v: &IntOrString, total: i32, round_up: bool) -> Result<i32, IntOrPercentError> {
    match v {
        IntOrString::Int(i) => Ok(*i),
        IntOrString::String(s) => {
            let stripped = s.replace('%', "");
            let digits = stripped.strip_prefix(['+', '-']).unwrap_or(&stripped);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IntOrPercentError::NotAPercentage { value: s.clone() });
            }
            let pct: i64 =
                stripped.parse().map_err(|source| IntOrPercentError::OutOfRange { value: s.clone(), source })?;
            let scaled = pct as f64 * f64::from(total) / 100.0;
            let v = if round_up { scaled.ceil() } else { scaled.floor() };
            Ok(v as i32)
        }
    }
}

/// Argo's `resolveFenceposts`: (surge rounded up, unavailable rounded down), and unavailable
/// becomes 1 when both are 0 so that a rollout can always make progress.
pub fn resolve_fenceposts(max_surge: &IntOrString, max_unavailable: &IntOrString, desired: i32) -> (i32, i32) {
    let Ok(surge) = value_from_int_or_percent(max_surge, desired, true) else {
        return (0, 0);
    };
    let Ok(mut unavailable) = value_from_int_or_percent(max_unavailable, desired, false) else {
        return (0, 0);
    };
    if surge == 0 && unavailable == 0 {
        unavailable = 1;
    }
    (surge, unavailable)
}

/// The resolved fenceposts of a rollout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fenceposts {
    /// Pods allowed above `spec.replicas`.
    pub max_surge: i32,
    /// Pods allowed below `spec.replicas`.
    pub max_unavailable: i32,
}

/// Argo's `MaxSurge`: 0 for blue-green, else the resolved surge.
pub fn max_surge(spec: &RolloutSpec) -> i32 {
    let Some(canary) = spec.canary() else {
        return 0;
    };
    resolve_fenceposts(&canary.max_surge_or_default(), &canary.max_unavailable_or_default(), spec.replicas_or_default())
        .0
}

/// Argo's `MaxUnavailable`: 0 when there are no replicas; capped at `spec.replicas`.
pub fn max_unavailable(spec: &RolloutSpec) -> i32 {
    let replicas = spec.replicas_or_default();
    if replicas == 0 {
        return 0;
    }
    let unavailable = if let Some(bg) = spec.blue_green() {
        let mu = bg
            .max_unavailable
            .clone()
            .unwrap_or_else(|| IntOrString::String(aviary_api::rollout::DEFAULT_MAX_SURGE_OR_UNAVAILABLE.to_string()));
        resolve_fenceposts(&IntOrString::Int(0), &mu, replicas).1
    } else if let Some(canary) = spec.canary() {
        resolve_fenceposts(&canary.max_surge_or_default(), &canary.max_unavailable_or_default(), replicas).1
    } else {
        0
    };
    unavailable.min(replicas)
}

/// Both fenceposts of a rollout.
pub fn fenceposts(spec: &RolloutSpec) -> Fenceposts {
    Fenceposts { max_surge: max_surge(spec), max_unavailable: max_unavailable(spec) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aviary_api::rollout::{CanaryStrategy, RolloutStrategy};

    fn canary_spec(n: i32, surge: Option<IntOrString>, unav: Option<IntOrString>) -> RolloutSpec {
        RolloutSpec {
            replicas: Some(n),
            strategy: RolloutStrategy {
                canary: Some(CanaryStrategy { max_surge: surge, max_unavailable: unav, ..Default::default() }),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_25_percent_surge_up_unavailable_down() {
        let spec = canary_spec(10, None, None);
        assert_eq!(fenceposts(&spec), Fenceposts { max_surge: 3, max_unavailable: 2 });
    }

    #[test]
    fn a_bare_number_string_is_a_percentage() {
        let spec = canary_spec(10, Some(IntOrString::String("3".into())), Some(IntOrString::String("30".into())));
        // 3% of 10 rounded up is 1; 30% of 10 rounded down is 3.
        assert_eq!(fenceposts(&spec), Fenceposts { max_surge: 1, max_unavailable: 3 });
    }

    #[test]
    fn both_zero_makes_unavailable_one() {
        let spec = canary_spec(10, Some(IntOrString::Int(0)), Some(IntOrString::String("0%".into())));
        assert_eq!(fenceposts(&spec), Fenceposts { max_surge: 0, max_unavailable: 1 });
    }

    #[test]
    fn unavailable_is_capped_at_replicas_and_zero_without_replicas() {
        assert_eq!(max_unavailable(&canary_spec(3, None, Some(IntOrString::Int(5)))), 3);
        assert_eq!(max_unavailable(&canary_spec(0, None, Some(IntOrString::Int(5)))), 0);
    }

    #[test]
    fn blue_green_never_surges() {
        let spec = RolloutSpec {
            replicas: Some(10),
            strategy: RolloutStrategy { blue_green: Some(Default::default()), ..Default::default() },
            ..Default::default()
        };
        assert_eq!(max_surge(&spec), 0);
        assert_eq!(max_unavailable(&spec), 2);
    }

    #[test]
    fn garbage_strings_resolve_to_zero_like_argo() {
        assert_eq!(resolve_fenceposts(&IntOrString::String("lots".into()), &IntOrString::Int(1), 10), (0, 0));
        assert_eq!(
            value_from_int_or_percent(&IntOrString::String("x%".into()), 10, true).unwrap_err().to_string(),
            "invalid value \"x%\": not an integer percentage"
        );
        let huge = IntOrString::String("99999999999999999999%".into());
        assert!(matches!(
            value_from_int_or_percent(&huge, 10, true),
            Err(IntOrPercentError::OutOfRange { ref value, .. }) if value == "99999999999999999999%"
        ));
    }
}
