//! Go's `time.Parse(time.RFC3339, value)` with its error texts (`parsing time "x" as
//! "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"`, `parsing time "...": month out of
//! range`), and the parsed time written back as `time.Time`'s `MarshalJSON` writes it (RFC 3339
//! with nanoseconds, trailing zeros dropped, `Z` for a zero offset: the controller runs in UTC).

/// The layout, as Go's errors quote it.
pub const RFC3339: &str = "2006-01-02T15:04:05Z07:00";

/// A parsed time: its fields as written, and the zone offset in minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Time {
    /// The year.
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month.
    pub day: u32,
    /// The hour.
    pub hour: u32,
    /// The minute.
    pub minute: u32,
    /// The second.
    pub second: u32,
    /// The nanoseconds.
    pub nanos: u32,
    /// The zone's offset east of UTC, in seconds.
    pub offset: i64,
}

fn quote(s: &str) -> String {
    aviary_plugin_sdk::notifier::gourl::go_quote(s)
}

fn cannot(value: &str, elem_value: &str, elem_layout: &str) -> String {
    format!(
        "parsing time {} as {}: cannot parse {} as {}",
        quote(value),
        quote(RFC3339),
        quote(elem_value),
        quote(elem_layout)
    )
}

fn out_of_range(value: &str, what: &str) -> String {
    format!("parsing time {}: {what} out of range", quote(value))
}

fn digit(s: &str, i: usize) -> bool {
    s.as_bytes().get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `getnum`: one or two digits (two when `fixed`).
fn getnum(s: &str, fixed: bool) -> Option<(u32, &str)> {
    if !digit(s, 0) {
        return None;
    }
    let b = s.as_bytes();
    if !digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((u32::from(b[0] - b'0'), &s[1..]));
    }
    Some((u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0'), &s[2..]))
}

fn days_in(month: u32, year: i64) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.Parse(time.RFC3339, value)`.
pub fn parse(value: &str) -> Result<Time, String> {
    let mut rest = value;
    // "2006"
    if rest.len() < 4 || !rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) {
        return Err(cannot(value, rest, "2006"));
    }
    let year: i64 = rest[..4].parse().unwrap_or(0);
    rest = &rest[4..];
    let literal = |rest: &str, lit: &str| -> Result<usize, String> {
        if rest.starts_with(lit) { Ok(lit.len()) } else { Err(cannot(value, rest, lit)) }
    };
    rest = &rest[literal(rest, "-")?..];
    let (month, r) = getnum(rest, true).ok_or_else(|| cannot(value, rest, "01"))?;
    if !(1..=12).contains(&month) {
        return Err(out_of_range(value, "month"));
    }
    rest = r;
    rest = &rest[literal(rest, "-")?..];
    let (day, r) = getnum(rest, true).ok_or_else(|| cannot(value, rest, "02"))?;
    rest = r;
    rest = &rest[literal(rest, "T")?..];
    let (hour, r) = getnum(rest, false).ok_or_else(|| cannot(value, rest, "15"))?;
    if hour >= 24 {
        return Err(out_of_range(value, "hour"));
    }
    rest = r;
    rest = &rest[literal(rest, ":")?..];
    let (minute, r) = getnum(rest, true).ok_or_else(|| cannot(value, rest, "04"))?;
    if minute >= 60 {
        return Err(out_of_range(value, "minute"));
    }
    rest = r;
    rest = &rest[literal(rest, ":")?..];
    let (second, r) = getnum(rest, true).ok_or_else(|| cannot(value, rest, "05"))?;
    if second >= 60 {
        return Err(out_of_range(value, "second"));
    }
    rest = r;
    let mut nanos = 0u32;
    if rest.len() >= 2 && matches!(rest.as_bytes()[0], b'.' | b',') && digit(rest, 1) {
        let mut n = 2;
        while digit(rest, n) {
            n += 1;
        }
        let digits = &rest[1..n.min(10)];
        nanos = format!("{digits:0<9}").parse().unwrap_or(0);
        rest = &rest[n..];
    }
    // "Z07:00"
    let offset;
    if let Some(r) = rest.strip_prefix('Z') {
        offset = 0;
        rest = r;
    } else {
        let b = rest.as_bytes();
        if rest.len() < 6 || b[3] != b':' {
            return Err(cannot(value, rest, "Z07:00"));
        }
        // `get`: the bytes around the colon may be inside a character that is not a digit.
        let two = |at: std::ops::Range<usize>| rest.get(at).and_then(|s| getnum(s, true)).map(|(n, _)| n);
        let hh = two(1..3).ok_or_else(|| cannot(value, rest, "Z07:00"))?;
        let mm = two(4..6).ok_or_else(|| cannot(value, rest, "Z07:00"))?;
        if hh > 24 {
            return Err(out_of_range(value, "time zone offset hour"));
        }
        if mm > 60 {
            return Err(out_of_range(value, "time zone offset minute"));
        }
        let seconds = i64::from(hh * 60 + mm) * 60;
        offset = match b[0] {
            b'+' => seconds,
            b'-' => -seconds,
            _ => return Err(cannot(value, rest, "Z07:00")),
        };
        rest = &rest[6..];
    }
    if !rest.is_empty() {
        return Err(format!("parsing time {}: extra text: {}", quote(value), quote(rest)));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(format!("parsing time {}: day out of range", quote(value)));
    }
    Ok(Time { year, month, day, hour, minute, second, nanos, offset })
}

impl Time {
    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        let (y, m) = if self.month <= 2 { (self.year - 1, self.month + 9) } else { (self.year, self.month - 3) };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * i64::from(m) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400 + i64::from(self.hour) * 3600 + i64::from(self.minute) * 60 + i64::from(self.second) - self.offset
    }

    /// As `time.Time`'s `MarshalJSON` writes it (without the quotes).
    pub fn rfc3339_nano(&self) -> String {
        let mut out = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        );
        if self.nanos != 0 {
            out.push('.');
            out.push_str(format!("{:09}", self.nanos).trim_end_matches('0'));
        }
        if self.offset == 0 {
            out.push('Z');
        } else {
            let minutes = self.offset.abs() / 60;
            out.push_str(&format!(
                "{}{:02}:{:02}",
                if self.offset < 0 { '-' } else { '+' },
                minutes / 60,
                minutes % 60
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_gos() {
        let t = parse("2024-01-02T03:04:05.120+02:00").unwrap();
        assert_eq!(t.rfc3339_nano(), "2024-01-02T03:04:05.12+02:00");
        assert_eq!(parse("2024-01-02T3:04:05-00:00").unwrap().rfc3339_nano(), "2024-01-02T03:04:05Z");
        assert_eq!(parse("1970-01-02T00:00:00+01:00").unwrap().unix(), 86_400 - 3600);
        assert_eq!(parse("2099-01-01T00:00:00Z").unwrap().unix(), 4_070_908_800);
        assert_eq!(
            parse("yesterday").unwrap_err(),
            r#"parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006""#
        );
        assert_eq!(
            parse("2024-1-01T00:00:00Z").unwrap_err(),
            r#"parsing time "2024-1-01T00:00:00Z" as "2006-01-02T15:04:05Z07:00": cannot parse "1-01T00:00:00Z" as "01""#
        );
        assert_eq!(
            parse("2024-01-01T00:60:00Z").unwrap_err(),
            r#"parsing time "2024-01-01T00:60:00Z": minute out of range"#
        );
        assert_eq!(
            parse("2024-01-01T00:00:00z").unwrap_err(),
            r#"parsing time "2024-01-01T00:00:00z" as "2006-01-02T15:04:05Z07:00": cannot parse "z" as "Z07:00""#
        );
        // Not digits around the colon, some of them not ASCII: Go's error, no panic.
        for zone in ["éa:00x", "+00:0é", "+é:00"] {
            let value = format!("2024-01-01T00:00:00{zone}");
            assert_eq!(
                parse(&value).unwrap_err(),
                format!(r#"parsing time "{value}" as "2006-01-02T15:04:05Z07:00": cannot parse "{zone}" as "Z07:00""#)
            );
        }
    }
}
