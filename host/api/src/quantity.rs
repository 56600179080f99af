//! Kubernetes' `resource.Quantity` as Go writes it back: the canonical form (`2000m` → `2`,
//! `0.15` → `150m`, `1024Mi` → `1Gi`).
//!
//! Argo hashes a pod template after reading it into Go types and writing it out again, so a
//! `cpu: 2000m` in a manifest is hashed as `"2"`. To compute the same `rollouts-pod-template-hash`,
//! Aviary writes quantities exactly as k8s.io/apimachinery v0.34 does: `ParseQuantity` (with its
//! fast path that keeps an already-canonical string as written), then `MarshalJSON` /
//! `CanonicalizeBytes`. The port keeps Go's quirks (a decimal exponent without an SI suffix, such
//! as 10²¹, is written without one) and works in 128-bit integers; a quantity beyond them (no
//! real manifest has one) is kept as written. Golden values computed by the Go code are in the
//! tests (tests/argo's `golden quantities`).

/// How a quantity is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    DecimalExponent,
    BinarySI,
    DecimalSI,
}

/// A number `unscaled × 10^scale` (Go's int64Amount scale convention: positive scale multiplies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Amount {
    unscaled: i128,
    scale: i32,
}

/// The canonical JSON string of a quantity as Go writes it after reading it, or `None` when Go
/// would refuse it (then the caller keeps what was written).
pub fn canonical(text: &str) -> Option<String> {
    let s = text.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some("0".into());
    }
    let parsed = parse_string(s)?;
    let (base, exponent, mut format) = interpret(parsed.suffix)?;

    // Go's fast path: small enough for an int64 at a scale of at least nano.
    let (precision, mut scale, mantissa): (i64, i64, i64) = match format {
        Format::DecimalExponent | Format::DecimalSI => {
            (18_i64.saturating_sub(len(parsed.num).saturating_add(len(parsed.denom))), i64::from(exponent), 1)
        }
        Format::BinarySI if exponent >= 0 && parsed.denom.is_empty() => {
            // float32(exponent)*3/10, truncated, as Go computes it.
            let digits = (f64::from(exponent as f32) * 3.0 / 10.0) as i64;
            let mantissa = 1_i64.checked_shl(exponent.unsigned_abs()).unwrap_or(0);
            (14_i64.saturating_sub(len(parsed.num)).saturating_sub(digits), 0, mantissa)
        }
        Format::BinarySI => (-1, 0, 1),
    };
    if precision >= 0 {
        scale = scale.saturating_sub(len(parsed.denom));
        if scale >= -9 {
            let shifted = format!("{}{}", parsed.num, parsed.denom);
            let value: i64 = shifted.parse().ok()?;
            if let Some(result) = value.checked_mul(mantissa) {
                let result = if parsed.positive { result } else { result.checked_neg()? };
                let keeps_string = match format {
                    Format::BinarySI => exponent % 10 == 0 && (value & 0x07) != 0,
                    _ => scale % 3 == 0 && !shifted.ends_with("000") && !shifted.starts_with('0'),
                };
                if keeps_string {
                    return Some(s.to_string());
                }
                let amount = Amount { unscaled: i128::from(result), scale: i32::try_from(scale).ok()? };
                return canonicalize(amount, format);
            }
        }
    }

    // Go's inf.Dec path.
    let mut amount = decimal(parsed.value)?;
    if base == 10 {
        amount.scale = amount.scale.checked_add(exponent)?;
    } else {
        amount.unscaled = amount.unscaled.checked_mul(1_i128.checked_shl(exponent.unsigned_abs())?)?;
    }
    let negative = amount.unscaled < 0;
    amount.unscaled = amount.unscaled.checked_abs()?;
    if amount.unscaled != 0 {
        amount = round_up(amount, -9)?;
    }
    let max = Amount { unscaled: i128::from(i64::MAX), scale: 0 };
    if format == Format::BinarySI && cmp(amount, max)? == std::cmp::Ordering::Greater {
        amount = max;
    }
    if format == Format::BinarySI
        && cmp(amount, Amount { unscaled: 1, scale: 0 })? == std::cmp::Ordering::Less
        && amount.unscaled > 0
    {
        format = Format::DecimalSI;
    }
    if negative {
        amount.unscaled = amount.unscaled.checked_neg()?;
    }
    canonicalize(amount, format)
}

fn len(s: &str) -> i64 {
    i64::try_from(s.len()).unwrap_or(i64::MAX)
}

struct Parsed<'a> {
    positive: bool,
    /// Sign, numerator and denominator as written (what `inf.Dec` parses).
    value: &'a str,
    num: &'a str,
    denom: &'a str,
    suffix: &'a str,
}

/// Go's `parseQuantityString`.
fn parse_string(s: &str) -> Option<Parsed<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos = 1;
        }
        Some(b'+') => pos = 1,
        _ => {}
    }
    // Leading zeros.
    while b.get(pos) == Some(&b'0') {
        pos = pos.saturating_add(1);
    }
    if pos >= end {
        return Some(Parsed { positive, value: "0", num: "0", denom: "", suffix: "" });
    }
    let digits_from = |from: usize| from.saturating_add(b.iter().skip(from).take_while(|c| c.is_ascii_digit()).count());
    let num_end = digits_from(pos);
    let mut num = s.get(pos..num_end)?;
    if num_end >= end {
        return Some(Parsed { positive, value: s, num, denom: "", suffix: "" });
    }
    if num.is_empty() {
        num = "0";
    }
    pos = num_end;
    let mut denom = "";
    if b.get(pos) == Some(&b'.') {
        pos = pos.saturating_add(1);
        let denom_end = digits_from(pos);
        denom = s.get(pos..denom_end)?;
        if denom_end >= end {
            return Some(Parsed { positive, value: s, num, denom, suffix: "" });
        }
        pos = denom_end;
    }
    let value = s.get(..pos)?;
    let suffix_start = pos;
    while pos < end && b.get(pos).is_some_and(|c| b"eEinumkKMGTP".contains(c)) {
        pos = pos.saturating_add(1);
    }
    if pos >= end {
        return Some(Parsed { positive, value, num, denom, suffix: s.get(suffix_start..)? });
    }
    if matches!(b.get(pos), Some(b'-' | b'+')) {
        pos = pos.saturating_add(1);
    }
    if digits_from(pos) < end {
        return None;
    }
    Some(Parsed { positive, value, num, denom, suffix: s.get(suffix_start..)? })
}

/// Go's suffixer: (base, exponent, format) of a suffix.
fn interpret(suffix: &str) -> Option<(i32, i32, Format)> {
    let decimal = |e| Some((10, e, Format::DecimalSI));
    let binary = |e| Some((2, e, Format::BinarySI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let rest = suffix.strip_prefix(['e', 'E']).filter(|r| !r.is_empty())?;
            let parsed: i64 = rest.parse().ok()?;
            // Go truncates the int64 to int32.
            Some((10, parsed as i32, Format::DecimalExponent))
        }
    }
}

/// `inf.Dec.SetString`: a signed decimal with an optional fraction.
fn decimal(text: &str) -> Option<Amount> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = format!("{int}{frac}");
    let unscaled: i128 =
        if digits.is_empty() || digits == "-" || digits == "+" { return None } else { digits.parse().ok()? };
    Some(Amount { unscaled, scale: i32::try_from(frac.len()).ok()?.checked_neg()? })
}

fn pow10(n: u32) -> Option<i128> {
    10_i128.checked_pow(n)
}

/// Rounds a non-negative amount up (away from zero) to `scale`.
fn round_up(a: Amount, scale: i32) -> Option<Amount> {
    if a.scale >= scale {
        return Some(a);
    }
    let divisor = pow10(scale.checked_sub(a.scale)?.unsigned_abs())?;
    let q = a.unscaled.checked_div(divisor)?;
    let r = a.unscaled.checked_rem(divisor)?;
    let q = if r > 0 {
        q.checked_add(1)?
    } else if r < 0 {
        q.checked_sub(1)?
    } else {
        q
    };
    Some(Amount { unscaled: q, scale })
}

fn cmp(a: Amount, b: Amount) -> Option<std::cmp::Ordering> {
    let scale = a.scale.min(b.scale);
    let up = |x: Amount| x.unscaled.checked_mul(pow10(x.scale.checked_sub(scale)?.unsigned_abs())?);
    Some(up(a)?.cmp(&up(b)?))
}

/// Removes the factors of `base` from `value`: `value == result × base^times`.
fn remove_factors(value: i128, base: i128) -> (i128, i32) {
    let mut result = value.checked_abs().unwrap_or(value);
    let mut times = 0i32;
    while result >= base && result.checked_rem(base) == Some(0) {
        result = result.checked_div(base).unwrap_or(result);
        times = times.saturating_add(1);
    }
    (if value < 0 { result.checked_neg().unwrap_or(result) } else { result }, times)
}

/// Go's `CanonicalizeBytes` with the suffix appended.
fn canonicalize(a: Amount, format: Format) -> Option<String> {
    if a.unscaled == 0 {
        return Some("0".into());
    }
    let mut format = format;
    let mut rounded = a;
    if format == Format::BinarySI {
        let small = |bound: i128| cmp(a, Amount { unscaled: bound, scale: 0 });
        if small(-1024)? == std::cmp::Ordering::Greater && small(1024)? == std::cmp::Ordering::Less {
            format = Format::DecimalSI;
        } else {
            rounded = round_up_signed(a, 0)?;
            if cmp(rounded, a)? != std::cmp::Ordering::Equal {
                format = Format::DecimalSI;
            }
        }
    }
    match format {
        Format::DecimalSI | Format::DecimalExponent => {
            let (mut amount, times) = remove_factors(a.unscaled, 10);
            let mut exponent = a.scale.checked_add(times)?;
            while exponent % 3 != 0 {
                amount = amount.checked_mul(10)?;
                exponent = exponent.checked_sub(1)?;
            }
            let suffix = match format {
                Format::DecimalSI => match exponent {
                    -9 => "n",
                    -6 => "u",
                    -3 => "m",
                    3 => "k",
                    6 => "M",
                    9 => "G",
                    12 => "T",
                    15 => "P",
                    18 => "E",
                    // Go's table has no other entry and writes none (its quirk, kept).
                    _ => "",
                }
                .to_string(),
                _ if exponent == 0 => String::new(),
                _ => format!("e{exponent}"),
            };
            Some(format!("{amount}{suffix}"))
        }
        Format::BinarySI => {
            let integer = rounded.unscaled.checked_mul(pow10(u32::try_from(rounded.scale).ok()?)?)?;
            let (amount, times) = remove_factors(integer, 1024);
            let suffix = match times {
                1 => "Ki",
                2 => "Mi",
                3 => "Gi",
                4 => "Ti",
                5 => "Pi",
                6 => "Ei",
                _ => "",
            };
            Some(format!("{amount}{suffix}"))
        }
    }
}

/// Rounds to `scale` away from zero (Go's `RoundUp`), for either sign.
fn round_up_signed(a: Amount, scale: i32) -> Option<Amount> {
    if a.unscaled >= 0 {
        return round_up(a, scale);
    }
    let flipped = round_up(Amount { unscaled: a.unscaled.checked_neg()?, scale: a.scale }, scale)?;
    Some(Amount { unscaled: flipped.unscaled.checked_neg()?, scale: flipped.scale })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs and what k8s.io/apimachinery v0.34.5 writes after reading them (`golden
    /// quantities` in tests/argo prints these from the Go code).
    #[test]
    fn quantities_are_written_as_go_writes_them() {
        let golden: Vec<(String, Option<String>)> =
            serde_json::from_str(include_str!("../tests/fixtures/golden/quantities.json")).unwrap();
        assert!(golden.len() > 40);
        for (input, want) in golden {
            assert_eq!(canonical(&input), want, "{input:?}");
        }
    }
}
