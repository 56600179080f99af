//! The GetMetricData output (JSON 1.0) → the value Argo hands its conditions, and CloudWatch's
//! errors → messages worded as the AWS SDK for Go words them (what Argo's measurements show).

use aviary_plugin_sdk::{Value, http};
use serde::Deserialize;

/// One `MetricDataResult`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDataResult {
    /// The query's id.
    #[serde(default)]
    pub id: Option<String>,
    /// The label.
    #[serde(default)]
    pub label: Option<String>,
    /// `Complete`, `PartialData`, `InternalError` or `Forbidden`.
    #[serde(default)]
    pub status_code: Option<String>,
    /// Epoch seconds (the protocol's timestamp format).
    #[serde(default)]
    pub timestamps: Vec<f64>,
    /// The values; the protocol writes NaN and the infinities as strings.
    #[serde(default)]
    pub values: Vec<Double>,
    /// Messages about this result.
    #[serde(default)]
    pub messages: Vec<MessageData>,
}

/// A double of the JSON protocol: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Double {
    /// A finite number.
    Number(f64),
    /// NaN or an infinity.
    Text(SpecialDouble),
}

/// The non-finite doubles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SpecialDouble {
    /// NaN.
    NaN,
    /// +∞.
    Infinity,
    /// -∞.
    #[serde(rename = "-Infinity")]
    NegInfinity,
}

impl Double {
    /// As an f64.
    pub fn get(self) -> f64 {
        match self {
            Double::Number(n) => n,
            Double::Text(SpecialDouble::NaN) => f64::NAN,
            Double::Text(SpecialDouble::Infinity) => f64::INFINITY,
            Double::Text(SpecialDouble::NegInfinity) => f64::NEG_INFINITY,
        }
    }
}

/// A `MessageData`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MessageData {
    /// The code.
    #[serde(default)]
    pub code: Option<String>,
    /// The text.
    #[serde(default)]
    pub value: Option<String>,
}

impl MessageData {
    fn text(&self) -> String {
        format!("{}: {}", self.code.as_deref().unwrap_or_default(), self.value.as_deref().unwrap_or_default())
    }

    fn to_value(&self) -> Value {
        Value::Object(
            [
                ("Code".to_string(), self.code.clone().map_or(Value::Null, Value::String)),
                ("Value".to_string(), self.value.clone().map_or(Value::Null, Value::String)),
            ]
            .into_iter()
            .collect(),
        )
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    #[serde(default)]
    metric_data_results: Vec<MetricDataResult>,
    #[serde(default)]
    messages: Vec<MessageData>,
}

/// A parsed GetMetricData output.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The results, in the order of the queries that return data.
    pub results: Vec<MetricDataResult>,
    /// The output's messages (`Code: Value`).
    pub messages: Vec<String>,
}

impl Parsed {
    /// `result` for the conditions: the list of results with the SDK's field names.
    pub fn value(&self) -> Value {
        Value::Array(self.results.iter().map(result_value).collect())
    }
}

fn result_value(r: &MetricDataResult) -> Value {
    let text = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
    Value::Object(
        [
            ("Id".to_string(), text(&r.id)),
            ("Label".to_string(), text(&r.label)),
            ("StatusCode".to_string(), text(&r.status_code)),
            ("Timestamps".to_string(), Value::Array(r.timestamps.iter().map(|t| Value::String(rfc3339(*t))).collect())),
            ("Values".to_string(), Value::Array(r.values.iter().map(|v| Value::Number(v.get())).collect())),
            ("Messages".to_string(), Value::Array(r.messages.iter().map(MessageData::to_value).collect())),
        ]
        .into_iter()
        .collect(),
    )
}

/// Epoch seconds → `2025-01-01T00:00:00Z` (CloudWatch's timestamps are whole seconds).
fn rfc3339(epoch: f64) -> String {
    let secs = if epoch.is_finite() && epoch > 0.0 { epoch as u64 } else { 0 };
    let stamp = aviary_plugin_sdk::sigv4::amz_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        &stamp[0..4],
        &stamp[4..6],
        &stamp[6..8],
        &stamp[9..11],
        &stamp[11..13],
        &stamp[13..15]
    )
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default, rename = "__type")]
    kind: String,
    #[serde(default, alias = "Message")]
    message: String,
}

/// Reads the response: the output of a 2xx, else CloudWatch's error as the Go SDK words it
/// (`operation error CloudWatch: GetMetricData, https response error StatusCode: 400,
/// RequestID: ..., api error InvalidParameterValue: ...`).
pub fn parse(response: &http::Response) -> Result<Parsed, String> {
    if !response.is_success() {
        let error: Option<ApiError> = response.json().ok();
        // The query-compatible code (`InvalidParameterValue;Sender`) when CloudWatch sends one,
        // else the JSON error type without its namespace.
        let code = response
            .header("x-amzn-query-error")
            .and_then(|h| h.split(';').next())
            .map(str::to_string)
            .or_else(|| error.as_ref().map(|e| e.kind.rsplit(['#', ':']).next().unwrap_or_default().to_string()))
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "UnknownError".into());
        let message = error.map(|e| e.message).filter(|m| !m.is_empty()).unwrap_or_else(|| response.text());
        return Err(format!(
            "operation error CloudWatch: GetMetricData, https response error StatusCode: {}, RequestID: {}, \
             api error {code}: {message}",
            response.status,
            response.header("x-amzn-requestid").unwrap_or_default(),
        ));
    }
    let output: Output = response
        .json()
        .map_err(|e| format!("operation error CloudWatch: GetMetricData, deserialization failed: {e}"))?;
    Ok(Parsed {
        results: output.metric_data_results,
        messages: output.messages.iter().map(MessageData::text).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, headers: &[(&str, &str)], body: serde_json::Value) -> http::Response {
        http::Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn results_keep_the_sdks_field_names_for_the_conditions() {
        let r = response(
            200,
            &[],
            json!({"MetricDataResults": [{"Id": "rate", "Label": "rate", "StatusCode": "Complete",
                "Timestamps": [1735689600, 1735689300.0], "Values": [0.01, "NaN"], "Messages": []}],
                "Messages": [{"Code": "MaxQueryTimeRangeExceed", "Value": "cut"}]}),
        );
        let parsed = parse(&r).unwrap();
        assert_eq!(parsed.messages, vec!["MaxQueryTimeRangeExceed: cut".to_string()]);
        assert_eq!(
            parsed.value().to_string(),
            r#"[{"Id":"rate","Label":"rate","Messages":[],"StatusCode":"Complete","Timestamps":["2025-01-01T00:00:00Z","2024-12-31T23:55:00Z"],"Values":[0.01,NaN]}]"#
        );
    }

    #[test]
    fn no_results_are_an_empty_list() {
        let parsed = parse(&response(200, &[], json!({"MetricDataResults": []}))).unwrap();
        assert_eq!(parsed.value().to_string(), "[]");
    }

    #[test]
    fn errors_are_worded_as_the_go_sdk_words_them() {
        let r = response(
            400,
            &[("x-amzn-requestid", "req-1"), ("x-amzn-query-error", "InvalidParameterValue;Sender")],
            json!({"__type": "com.amazonaws.cloudwatch#InvalidParameterValueException", "message": "bad id"}),
        );
        assert_eq!(
            parse(&r).unwrap_err(),
            "operation error CloudWatch: GetMetricData, https response error StatusCode: 400, RequestID: req-1, \
             api error InvalidParameterValue: bad id"
        );
        let r = response(403, &[], json!({"__type": "AccessDeniedException", "Message": "not allowed"}));
        assert!(parse(&r).unwrap_err().ends_with("api error AccessDeniedException: not allowed"));
    }
}
