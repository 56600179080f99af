//! {{name}}: an Aviary condition evaluator. It understands `result <op> <number>`, with `<`,
//! `<=`, `>`, `>=`, `==` or `!=`; register it and set it as the condition plugin to use it for
//! successCondition and failureCondition.

use aviary_plugin_sdk::{Condition, Value, export_condition};

struct Threshold;

impl Condition for Threshold {
    fn evaluate(expression: &str, result: Value) -> Result<bool, String> {
        let (op, limit) = parse(expression)?;
        let Value::Number(x) = result else {
            return Err(format!("result is not a number: {result}"));
        };
        Ok(match op {
            "<" => x < limit,
            "<=" => x <= limit,
            ">" => x > limit,
            ">=" => x >= limit,
            "==" => x == limit,
            _ => x != limit,
        })
    }
}

/// `result <op> <number>` → (op, number).
pub fn parse(expression: &str) -> Result<(&str, f64), String> {
    let rest = expression.trim().strip_prefix("result").ok_or("the expression must start with `result`")?.trim_start();
    for op in ["<=", ">=", "==", "!=", "<", ">"] {
        if let Some(number) = rest.strip_prefix(op) {
            let limit = number.trim().parse().map_err(|_| format!("{:?} is not a number", number.trim()))?;
            return Ok((op, limit));
        }
    }
    Err(format!("unsupported expression {expression:?}: use result <op> <number>"))
}

export_condition!(Threshold);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_with_a_number_are_understood() {
        assert_eq!(parse("result < 1"), Ok(("<", 1.0)));
        assert_eq!(parse(" result>=0.95 "), Ok((">=", 0.95)));
        assert!(parse("len(result) > 0").is_err());
        assert_eq!(Threshold::evaluate("result < 1", Value::Number(0.5)), Ok(true));
        assert_eq!(Threshold::evaluate("result != 2", Value::Number(2.0)), Ok(false));
    }
}
