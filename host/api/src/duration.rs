//! Go's `time.ParseDuration`, bit for bit.
//!
//! Argo stores every duration (`interval`, `initialDelay`, `pause.duration`, experiment
//! `duration`, ...) as a Go duration string and parses it with `time.ParseDuration`. Which strings
//! are accepted, how fractions round and what the error says are all user-visible (an invalid
//! interval puts its parse error into the AnalysisRun's message), so this is a faithful port
//! rather than a call to a Rust duration parser with other rules (`humantime` accepts `1 day`,
//! rejects `1.5h`, and words its errors differently). The parser is `aviary_value::duration`'s,
//! shared with the plugin SDK; this module adds what only the host needs (chrono, Go's printing).

pub use aviary_value::duration::{GoDurationError, parse_go_duration};

const MICROSECOND: u64 = 1_000;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// Parses a Go duration into a chrono duration.
pub fn parse_go_duration_chrono(s: &str) -> Result<chrono::Duration, GoDurationError> {
    parse_go_duration(s).map(chrono::Duration::nanoseconds)
}

/// Formats a duration as Go's `time.Duration.String` does (`6h0m0s`, `1m30s`, `1.5s`, `250ms`),
/// which is how Argo's messages print durations. Durations past Go's range (about 292 years)
/// print as its maximum.
pub fn format_go_duration(d: std::time::Duration) -> String {
    let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).min(i64::MAX.unsigned_abs());
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < SECOND {
        let (unit, size) = if nanos < MICROSECOND {
            ("ns", 1)
        } else if nanos < MILLISECOND {
            ("µs", MICROSECOND)
        } else {
            ("ms", MILLISECOND)
        };
        return format!("{}{unit}", fraction(nanos, size));
    }
    let hours = nanos / HOUR;
    let minutes = nanos % HOUR / MINUTE;
    let seconds = fraction(nanos % MINUTE, SECOND);
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}s")
    } else {
        format!("{seconds}s")
    }
}

/// `n / unit` with the fraction Go prints: no trailing zeros, no point when whole.
fn fraction(n: u64, unit: u64) -> String {
    let (whole, rest) = (n.checked_div(unit).unwrap_or_default(), n.checked_rem(unit).unwrap_or_default());
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{rest:0>width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_as_go_prints_durations() {
        use std::time::Duration as D;
        let cases = [
            (D::ZERO, "0s"),
            (D::from_nanos(1), "1ns"),
            (D::from_micros(1500), "1.5ms"),
            (D::from_millis(250), "250ms"),
            (D::from_millis(1500), "1.5s"),
            (D::from_secs(90), "1m30s"),
            (D::from_secs(6 * 3600), "6h0m0s"),
            (D::from_secs(3723) + D::from_millis(4), "1h2m3.004s"),
            (D::MAX, "2562047h47m16.854775807s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(d), want, "{d:?}");
        }
    }

    #[test]
    fn accepts_what_go_accepts() {
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("5s", 5 * SECOND as i64),
            ("30s", 30 * SECOND as i64),
            ("1478s", 1478 * SECOND as i64),
            ("-5s", -5 * SECOND as i64),
            ("+5s", 5 * SECOND as i64),
            ("-0", 0),
            ("5.0s", 5 * SECOND as i64),
            ("5.6s", 5 * SECOND as i64 + 600 * MILLISECOND as i64),
            ("5.s", 5 * SECOND as i64),
            (".5s", 500 * MILLISECOND as i64),
            ("1.004s", SECOND as i64 + 4 * MILLISECOND as i64),
            ("10ns", 10),
            ("11us", 11 * MICROSECOND as i64),
            ("12\u{00b5}s", 12 * MICROSECOND as i64),
            ("13ms", 13 * MILLISECOND as i64),
            ("14s", 14 * SECOND as i64),
            ("15m", 15 * MINUTE as i64),
            ("16h", 16 * HOUR as i64),
            ("3h30m", 3 * HOUR as i64 + 30 * MINUTE as i64),
            ("-2m3.4s", -(2 * MINUTE as i64 + 3 * SECOND as i64 + 400 * MILLISECOND as i64)),
            ("1h2m3s4ms5us6ns", 3_723_004_005_006),
            ("9223372036854775807ns", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s), Ok(*want), "{s}");
        }
    }

    #[test]
    fn rejects_what_go_rejects_with_go_messages() {
        let cases: &[(&str, &str)] = &[
            ("", "time: invalid duration \"\""),
            ("3", "time: missing unit in duration \"3\""),
            ("-", "time: invalid duration \"-\""),
            ("s", "time: invalid duration \"s\""),
            (".", "time: invalid duration \".\""),
            ("-.", "time: invalid duration \"-.\""),
            (".s", "time: invalid duration \".s\""),
            ("+.s", "time: invalid duration \"+.s\""),
            ("1d", "time: unknown unit \"d\" in duration \"1d\""),
            ("10 s", "time: unknown unit \" s\" in duration \"10 s\""),
            ("abc", "time: invalid duration \"abc\""),
            ("9223372036854775808ns", "time: invalid duration \"9223372036854775808ns\""),
            ("3000000h", "time: invalid duration \"3000000h\""),
        ];
        for (s, want) in cases {
            assert_eq!(parse_go_duration(s).unwrap_err().to_string(), *want, "{s}");
        }
    }
}
