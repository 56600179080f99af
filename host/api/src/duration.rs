//! Go's `time.ParseDuration`, bit for bit.
//!
//! Argo stores every duration (`interval`, `initialDelay`, `pause.duration`, experiment
//! `duration`, ...) as a Go duration string and parses it with `time.ParseDuration`. Which strings
//! are accepted, how fractions round and what the error says are all user-visible (an invalid
//! interval puts its parse error into the AnalysisRun's message), so this is a faithful port
//! rather than a call to a Rust duration parser with other rules (`humantime` accepts `1 day`,
//! rejects `1.5h`, and words its errors differently).

use std::fmt;

/// A Go duration string failed to parse. The message is Go's, word for word.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct GoDurationError(String);

impl fmt::Display for GoDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NANOSECOND,
        "us" | "\u{00b5}s" | "\u{03bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

/// Quotes like Go's `strconv.Quote` for the printable strings users write.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn invalid(orig: &str) -> GoDurationError {
    GoDurationError(format!("time: invalid duration {}", quote(orig)))
}

/// Parses a Go duration such as `"300ms"`, `"-1.5h"` or `"2h45m"` into nanoseconds.
pub fn parse_go_duration(orig: &str) -> Result<i64, GoDurationError> {
    const LIMIT: u64 = 1 << 63;
    let mut s = orig.as_bytes();
    let mut d: u64 = 0;
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = rest;
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid(orig));
    }
    while let Some(&first) = s.first() {
        if !(first == b'.' || first.is_ascii_digit()) {
            return Err(invalid(orig));
        }
        // The integer part.
        let (digits, rest) = split_while(s, |b| b.is_ascii_digit());
        s = rest;
        let pre = !digits.is_empty();
        let mut v: u64 = 0;
        for &b in digits {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b.wrapping_sub(b'0'))))
                .filter(|v| *v <= LIMIT)
                .ok_or_else(|| invalid(orig))?;
        }
        // The fraction: digits past what a u64 holds are ignored, as Go ignores them.
        let mut f: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if let Some((b'.', rest)) = s.split_first() {
            let (digits, rest) = split_while(rest, |b| b.is_ascii_digit());
            s = rest;
            post = !digits.is_empty();
            for &b in digits {
                match f.checked_mul(10).and_then(|f| f.checked_add(u64::from(b.wrapping_sub(b'0')))) {
                    Some(y) if y <= LIMIT => {
                        f = y;
                        scale *= 10.0;
                    }
                    _ => break,
                }
            }
        }
        if !pre && !post {
            return Err(invalid(orig));
        }
        // The unit.
        let (unit_text, rest) = split_while(s, |b| !(b == b'.' || b.is_ascii_digit()));
        s = rest;
        if unit_text.is_empty() {
            return Err(GoDurationError(format!("time: missing unit in duration {}", quote(orig))));
        }
        let u = String::from_utf8_lossy(unit_text).into_owned();
        let Some(unit) = unit(&u) else {
            return Err(GoDurationError(format!("time: unknown unit {} in duration {}", quote(&u), quote(orig))));
        };
        v = v.checked_mul(unit).filter(|v| *v <= LIMIT).ok_or_else(|| invalid(orig))?;
        if f > 0 {
            // float64 arithmetic as Go does it; the cast saturates.
            v = v
                .checked_add((f as f64 * (unit as f64 / scale)) as u64)
                .filter(|v| *v <= LIMIT)
                .ok_or_else(|| invalid(orig))?;
        }
        d = d.checked_add(v).filter(|d| *d <= LIMIT).ok_or_else(|| invalid(orig))?;
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    i64::try_from(d).map_err(|_| invalid(orig))
}

/// The longest prefix of `s` whose bytes satisfy `pred`, and the rest.
fn split_while(s: &[u8], pred: impl Fn(u8) -> bool) -> (&[u8], &[u8]) {
    let n = s.iter().position(|&b| !pred(b)).unwrap_or(s.len());
    s.split_at_checked(n).unwrap_or((s, &[]))
}

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
