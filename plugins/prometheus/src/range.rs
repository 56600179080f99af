//! Argo's `rangeQuery`: `start` and `end` are expr-language expressions that Argo evaluates to a
//! `time.Time` (`now() - duration("1h")`, `now()`), `step` a Go duration.
//!
//! The expressions are evaluated here by a small evaluator of the time subset of expr that these
//! fields use: `now()`, `duration("<Go duration>")`, `date("<RFC 3339>")`, `+`, `-`, unary `-`
//! and parentheses, with expr's typing (time ± duration is a time, time − time a duration, and
//! the result must be a time). Anything else is refused with a message naming the field and what
//! is supported, rather than evaluated differently from Argo.

use std::time::{SystemTime, UNIX_EPOCH};

use aviary_plugin_sdk::duration::parse_go_duration;

/// A point in time or a duration, in nanoseconds (since the Unix epoch for a time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Term {
    Time(i128),
    Duration(i128),
}

impl Term {
    fn type_name(self) -> &'static str {
        match self {
            Term::Time(_) => "time.Time",
            Term::Duration(_) => "time.Duration",
        }
    }
}

/// A resolved range: Prometheus' `start`, `end` and `step` parameters as client_golang writes
/// them (seconds, decimal, no exponent).
#[derive(Debug, Clone, PartialEq)]
pub struct Range {
    /// Start, Unix seconds.
    pub start: f64,
    /// End, Unix seconds.
    pub end: f64,
    /// Step, seconds.
    pub step: f64,
}

impl Range {
    /// Evaluates Argo's `rangeQuery` at `now`; errors are Argo's (`failed to parse
    /// rangeQuery.start as time: ...`).
    pub fn resolve(start: &str, end: &str, step: &str, now: SystemTime) -> Result<Self, String> {
        let start = eval_time(start, now).map_err(|e| format!("failed to parse rangeQuery.start as time: {e}"))?;
        let end = eval_time(end, now).map_err(|e| format!("failed to parse rangeQuery.end as time: {e}"))?;
        let step = parse_go_duration(step).map_err(|e| format!("failed to parse rangeQuery.step as duration: {e}"))?;
        Ok(Self { start, end, step: step as f64 / 1e9 })
    }
}

/// Evaluates a time expression to Unix seconds.
pub fn eval_time(expression: &str, now: SystemTime) -> Result<f64, String> {
    let now = match now.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    };
    let mut p = Parser { text: expression, pos: 0, now };
    let term = p.expr()?;
    p.skip_space();
    if p.pos < p.text.len() {
        return Err(p.unsupported());
    }
    match term {
        Term::Time(ns) => Ok(ns as f64 / 1e9),
        other => Err(format!("expected time.Time, but got {}", other.type_name())),
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    now: i128,
}

impl Parser<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn unsupported(&self) -> String {
        format!(
            "unsupported expression {:?} at {:?}: Aviary evaluates now(), duration(\"...\"), date(\"RFC 3339\"), + and - here",
            self.text,
            self.rest()
        )
    }

    fn expr(&mut self) -> Result<Term, String> {
        let mut left = self.unary()?;
        loop {
            let minus = if self.eat("+") {
                false
            } else if self.eat("-") {
                true
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = combine(left, right, minus)?;
        }
    }

    fn unary(&mut self) -> Result<Term, String> {
        if self.eat("-") {
            return match self.unary()? {
                Term::Duration(d) => Ok(Term::Duration(-d)),
                t => Err(format!("invalid operation: - (mismatched type {})", t.type_name())),
            };
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Term, String> {
        if self.eat("(") {
            let t = self.expr()?;
            return if self.eat(")") { Ok(t) } else { Err(self.unsupported()) };
        }
        if self.eat("now") {
            return if self.eat("(") && self.eat(")") { Ok(Term::Time(self.now)) } else { Err(self.unsupported()) };
        }
        if self.eat("duration") {
            let text = self.string_argument()?;
            return parse_go_duration(&text).map(|ns| Term::Duration(i128::from(ns))).map_err(|e| e.to_string());
        }
        if self.eat("date") {
            let text = self.string_argument()?;
            return rfc3339(&text).map(Term::Time);
        }
        Err(self.unsupported())
    }

    /// `("text")`, with `"`, `'` or a backtick as the quote.
    fn string_argument(&mut self) -> Result<String, String> {
        if !self.eat("(") {
            return Err(self.unsupported());
        }
        self.skip_space();
        let quote =
            self.rest().chars().next().filter(|c| matches!(c, '"' | '\'' | '`')).ok_or_else(|| self.unsupported())?;
        let body = &self.rest()[1..];
        let close = body.find(quote).ok_or_else(|| self.unsupported())?;
        let text = body[..close].to_string();
        self.pos += close + 2;
        if !self.eat(")") {
            return Err(self.unsupported());
        }
        Ok(text)
    }
}

fn combine(left: Term, right: Term, minus: bool) -> Result<Term, String> {
    let op = if minus { "-" } else { "+" };
    match (left, right, minus) {
        (Term::Time(t), Term::Duration(d), false) | (Term::Duration(d), Term::Time(t), false) => Ok(Term::Time(t + d)),
        (Term::Time(t), Term::Duration(d), true) => Ok(Term::Time(t - d)),
        (Term::Duration(a), Term::Duration(b), _) => Ok(Term::Duration(if minus { a - b } else { a + b })),
        (Term::Time(a), Term::Time(b), true) => Ok(Term::Duration(a - b)),
        (l, r, _) => Err(format!("invalid operation: {op} (mismatched types {} and {})", l.type_name(), r.type_name())),
    }
}

/// `2025-01-01T00:00:00Z`, `2025-01-01T01:30:00.5+01:00` → nanoseconds since the epoch.
fn rfc3339(text: &str) -> Result<i128, String> {
    let bad = || format!("cannot parse {text:?} as a date: Aviary reads RFC 3339 dates (2006-01-02T15:04:05Z07:00)");
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let s = text.get(from..from + len).ok_or_else(bad)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<i64>().map_err(|_| bad())
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 2)?, num(8, 2)?, num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return Err(bad());
    }
    let mut pos = 19;
    let mut nanos: i128 = 0;
    if b.get(pos) == Some(&b'.') {
        let digits = text[pos + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let frac = &text[pos + 1..pos + 1 + digits.min(9)];
        nanos = frac.parse::<i128>().map_err(|_| bad())? * 10i128.pow(9 - frac.len() as u32);
        pos += 1 + digits;
    }
    let offset = match &text[pos..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6 && (zone.starts_with('+') || zone.starts_with('-')) && &zone[3..4] == ":" => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * (num(pos + 1, 2)? * 3600 + num(pos + 4, 2)? * 60)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset;
    Ok(i128::from(secs) * 1_000_000_000 + nanos)
}

/// (year, month, day) → days since 1970-01-01, Howard Hinnant's `days_from_civil`.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// 2025-01-01T00:00:00Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_735_689_600)
    }

    #[test]
    fn argos_documented_expressions_evaluate() {
        assert_eq!(eval_time("now()", now()), Ok(1_735_689_600.0));
        assert_eq!(eval_time(r#"now() - duration("5m")"#, now()), Ok(1_735_689_300.0));
        assert_eq!(eval_time(r#"now() - duration('1h30m') + duration("10s")"#, now()), Ok(1_735_684_210.0));
        assert_eq!(eval_time(r#"(now() - duration("1h"))"#, now()), Ok(1_735_686_000.0));
        assert_eq!(eval_time(r#"now() + -duration("1s")"#, now()), Ok(1_735_689_599.0));
        assert_eq!(eval_time(r#"date("2024-12-31T23:00:00Z")"#, now()), Ok(1_735_686_000.0));
        assert_eq!(eval_time(r#"date("2025-01-01T01:00:00.5+01:00")"#, now()), Ok(1_735_689_600.5));
        assert_eq!(
            eval_time(r#"now() - (now() - date("2024-12-31T00:00:00Z")) "#, now()),
            Ok(1_735_603_200.0),
            "time - time is a duration"
        );
    }

    #[test]
    fn wrong_types_and_other_expressions_are_refused_with_argos_wording() {
        assert_eq!(eval_time(r#"duration("5m")"#, now()), Err("expected time.Time, but got time.Duration".into()));
        assert_eq!(
            eval_time("now() + now()", now()),
            Err("invalid operation: + (mismatched types time.Time and time.Time)".into())
        );
        assert!(eval_time(r#"duration("5 min")"#, now()).unwrap_err().starts_with("time: "));
        let e = eval_time("now().Add(1)", now()).unwrap_err();
        assert!(e.starts_with("unsupported expression \"now().Add(1)\" at \".Add(1)\""), "{e}");
        assert!(eval_time(r#"date("yesterday")"#, now()).unwrap_err().contains("RFC 3339"));
        assert!(eval_time("", now()).is_err());
    }

    #[test]
    fn a_range_resolves_each_field_and_names_the_bad_one() {
        let r = Range::resolve(r#"now() - duration("10m")"#, "now()", "1m", now()).unwrap();
        assert_eq!(r, Range { start: 1_735_689_000.0, end: 1_735_689_600.0, step: 60.0 });
        assert!(
            Range::resolve("now()", "nope", "1m", now())
                .unwrap_err()
                .starts_with("failed to parse rangeQuery.end as time: ")
        );
        assert_eq!(
            Range::resolve("now()", "now()", "", now()).unwrap_err(),
            "failed to parse rangeQuery.step as duration: time: invalid duration \"\""
        );
    }
}
