//! Go's `time.ParseDuration`, bit for bit, for the host and the guests alike.
//!
//! Argo stores every duration (`interval`, `initialDelay`, `pause.duration`, a provider's
//! `timeout`, ...) as a Go duration string and parses it with `time.ParseDuration`. Which strings
//! are accepted, how fractions round and what the error says are all user-visible (an invalid
//! interval puts its parse error into the AnalysisRun's message), so this is a faithful port
//! rather than a call to a Rust duration parser with other rules (`humantime` accepts `1 day`,
//! rejects `1.5h`, and words its errors differently). It lives here, in the crate both sides
//! share, so that the controller and a provider component read a duration the same way.

use std::fmt;

/// A string Go's `time.ParseDuration` refuses; the message is Go's, word for word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoDurationError(String);

impl fmt::Display for GoDurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for GoDurationError {}

const MICROSECOND: u64 = 1_000;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

fn unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => 1,
        "us" | "\u{00b5}s" | "\u{03bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

/// Quotes as Go's `strconv.Quote` does for the printable strings people write.
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

/// Parses a Go duration (`"300ms"`, `"-1.5h"`, `"2h45m"`) into nanoseconds, negative ones
/// included, exactly as Go's `time.ParseDuration`.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations_parse_as_go_parses_them() {
        assert_eq!(parse_go_duration("5m"), Ok(300 * SECOND as i64));
        assert_eq!(parse_go_duration("1h30m"), Ok(5_400 * SECOND as i64));
        assert_eq!(parse_go_duration("1.5h"), Ok(5_400 * SECOND as i64));
        assert_eq!(parse_go_duration("-250ms"), Ok(-250 * MILLISECOND as i64));
        assert_eq!(parse_go_duration("0"), Ok(0));
    }

    #[test]
    fn refusals_carry_gos_messages() {
        let err = |s: &str| parse_go_duration(s).unwrap_err().to_string();
        assert_eq!(err(""), r#"time: invalid duration """#);
        assert_eq!(err("5"), r#"time: missing unit in duration "5""#);
        assert_eq!(err("5 minutes"), r#"time: unknown unit " minutes" in duration "5 minutes""#);
        assert_eq!(err("1d"), r#"time: unknown unit "d" in duration "1d""#);
        assert_eq!(err("99999999999h"), r#"time: invalid duration "99999999999h""#);
    }
}
