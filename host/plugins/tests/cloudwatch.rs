//! The first-party CloudWatch provider against a loopback server that speaks GetMetricData's AWS
//! JSON 1.0 protocol: it recomputes the SigV4 signature of every request from the secret key it
//! knows (refusing a wrong one as AWS does, with `SignatureDoesNotMatch`), checks the target,
//! the content type and the window, and answers realistic outputs; then a recorded exchange is
//! replayed.

mod common;

use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aviary_api::AnalysisPhase;
use aviary_plugins::Phase;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use common::sigv4::{ACCESS_KEY_ID, SECRET};

const SESSION_TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLEtoken";
const REGION: &str = "us-east-1";

/// What the fake CloudWatch saw: each request's body, and whether its signature verified.
#[derive(Default)]
struct Seen {
    bodies: Vec<Value>,
    verified: Vec<bool>,
    signed_headers: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

/// Checks a received request's signature (see `common::sigv4::verify`), that the headers
/// CloudWatch needs signed are, and that it is fresh.
fn verify(headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let verified = common::sigv4::verify(headers, "/", body, REGION, "monitoring")?;
    let signed = verified.signed_headers;
    for required in ["host", "x-amz-date", "x-amz-security-token", "content-type", "x-amz-target"] {
        if !signed.split(';').any(|h| h == required) {
            return Err(format!("{required} is not signed ({signed})"));
        }
    }
    if SystemTime::now().duration_since(verified.at).unwrap_or_default().as_secs() > 300 {
        return Err("the request is signed more than 5 minutes ago".into());
    }
    Ok(signed)
}

fn aws_error(status: StatusCode, code: &str, kind: &str, message: &str) -> Response {
    let mut r = (status, json!({"__type": kind, "message": message}).to_string()).into_response();
    let h = r.headers_mut();
    h.insert("content-type", "application/x-amz-json-1.0".parse().unwrap());
    h.insert("x-amzn-requestid", "0c4a7f3e-8f1b-4e3f-9b6d-1d2c3b4a5e6f".parse().unwrap());
    h.insert("x-amzn-query-error", format!("{code};Sender").parse().unwrap());
    r
}

/// Five-minute points ending at the request's end time, newest first (as CloudWatch orders them
/// by default, `TimestampDescending`).
fn points(end: i64, values: &[f64]) -> (Vec<i64>, Vec<f64>) {
    let end = end - end % 300;
    ((0..values.len() as i64).map(|i| end - 300 * (i + 1)).collect(), values.to_vec())
}

async fn get_metric_data(State(seen): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let verified = verify(&headers, &body);
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    {
        let mut s = seen.lock().unwrap();
        s.bodies.push(request.clone());
        s.verified.push(verified.is_ok());
        s.signed_headers.push(verified.clone().unwrap_or_default());
    }
    if let Err(why) = verified {
        return aws_error(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "com.amazon.coral.service#SignatureDoesNotMatchException",
            &format!("The request signature we calculated does not match the signature you provided. ({why})"),
        );
    }
    if common::header(&headers, "x-amz-target") != "GraniteServiceVersion20100801.GetMetricData"
        || common::header(&headers, "content-type") != "application/x-amz-json-1.0"
    {
        return aws_error(StatusCode::BAD_REQUEST, "UnknownOperation", "UnknownOperationException", "");
    }
    let end = request["EndTime"].as_i64().unwrap_or_default();
    let queries = request["MetricDataQueries"].as_array().cloned().unwrap_or_default();
    let mut results = Vec::new();
    for q in &queries {
        let id = q["Id"].as_str().unwrap_or_default();
        if !id.starts_with(|c: char| c.is_ascii_lowercase()) {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidParameterValue",
                "com.amazonaws.cloudwatch#InvalidParameterValueException",
                &format!("The value {id} for parameter MetricDataQueries.member.1.Id is invalid."),
            );
        }
        if q["ReturnData"] == json!(false) {
            continue;
        }
        let values: &[f64] = match q["Expression"].as_str() {
            Some("errors / requests") => &[0.0029, 0.0061, 0.0072, 0.0079, 0.0058, 0.0063],
            Some("errors_high / requests") => &[0.012, 0.034, 0.051],
            _ => &[],
        };
        let (timestamps, values) = points(end, values);
        results.push(json!({"Id": id, "Label": q.get("Label").cloned().unwrap_or(json!(id)),
                            "Timestamps": timestamps, "Values": values, "StatusCode": "Complete", "Messages": []}));
    }
    let mut r = json!({"MetricDataResults": results, "Messages": []}).to_string().into_response();
    r.headers_mut().insert("content-type", "application/x-amz-json-1.0".parse().unwrap());
    r.headers_mut().insert("x-amzn-requestid", "5b1f4a6c-2d3e-4f5a-8b9c-0d1e2f3a4b5c".parse().unwrap());
    r
}

async fn cloudwatch() -> (String, Shared) {
    let routes = axum::Router::new().route("/", post(get_metric_data));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

/// Argo's documented template (docs/analysis/cloudwatch.md), with `expression` as `rate`'s.
fn template(expression: &str) -> Value {
    json!({
        "interval": "30m",
        "metricDataQueries": [
            {"id": "rate", "expression": expression},
            {"id": "errors", "metricStat": {"metric": {"namespace": "app", "metricName": "errors"},
                "period": 300, "stat": "Sum", "unit": "Count"}, "returnData": false},
            {"id": "requests", "metricStat": {"metric": {"namespace": "app", "metricName": "requests",
                "dimensions": [{"name": "Service", "value": "checkout"}]},
                "period": 300, "stat": "Sum", "unit": "Count"}, "returnData": false},
        ],
    })
}

/// The config as the controller hands it over: the template plus the environment's credentials.
fn config(endpoint: &str, secret: &str, fields: Value) -> String {
    common::config_with(
        json!({"region": REGION, "endpoint": endpoint, "accessKeyId": ACCESS_KEY_ID,
                       "secretAccessKey": secret, "sessionToken": SESSION_TOKEN}),
        fields,
    )
}

/// Argo's documented success condition for the template.
const SUCCESS: &str = "len(result[0].Values) >= 5 and all(result[0].Values, {# <= 0.01})";

#[tokio::test]
async fn argos_documented_template_is_signed_sent_and_judged() {
    let (endpoint, seen) = cloudwatch().await;
    let host = common::host();
    let m = common::measure(&host, "cloudWatch", &config(&endpoint, SECRET, template("errors / requests"))).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    let value: Value = serde_json::from_str(m.value.as_deref().unwrap()).unwrap();
    assert_eq!(value[0]["Id"], "rate");
    assert_eq!(value[0]["StatusCode"], "Complete");
    assert_eq!(value[0]["Values"], json!([0.0029, 0.0061, 0.0072, 0.0079, 0.0058, 0.0063]));
    assert_eq!(value.as_array().unwrap().len(), 1, "returnData: false queries are not returned");
    assert!(value[0]["Timestamps"][0].as_str().unwrap().ends_with(":00Z"), "{value}");
    assert_eq!(common::verdict(&host, &m, SUCCESS, "").await, AnalysisPhase::Successful);
    assert_eq!(common::verdict(&host, &m, "result[0].Values[0] == 0.0029", "").await, AnalysisPhase::Successful);

    let s = seen.lock().unwrap();
    assert_eq!(s.verified, vec![true], "the signature verifies");
    assert_eq!(s.signed_headers[0], "content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amzn-query-mode");
    let body = &s.bodies[0];
    assert_eq!(body["EndTime"].as_i64().unwrap() - body["StartTime"].as_i64().unwrap(), 1800);
    assert_eq!(
        body["MetricDataQueries"][2],
        json!({"Id": "requests", "ReturnData": false, "MetricStat": {"Period": 300, "Stat": "Sum", "Unit": "Count",
               "Metric": {"Namespace": "app", "MetricName": "requests", "Dimensions": [{"Name": "Service", "Value": "checkout"}]}}})
    );
}

#[tokio::test]
async fn a_failing_rate_fails_the_condition() {
    let (endpoint, _) = cloudwatch().await;
    let host = common::host();
    let m = common::measure(&host, "cloudWatch", &config(&endpoint, SECRET, template("errors_high / requests"))).await;
    assert_eq!(m.phase, Phase::Measured, "{}", m.message);
    assert_eq!(common::verdict(&host, &m, SUCCESS, "").await, AnalysisPhase::Failed);
}

#[tokio::test]
async fn a_wrong_secret_is_refused_as_aws_refuses_it() {
    let (endpoint, seen) = cloudwatch().await;
    let host = common::host();
    let m =
        common::measure(&host, "cloudWatch", &config(&endpoint, "not-the-secret", template("errors / requests"))).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(
        m.message.starts_with(
            "operation error CloudWatch: GetMetricData, https response error StatusCode: 403, \
             RequestID: 0c4a7f3e-8f1b-4e3f-9b6d-1d2c3b4a5e6f, api error SignatureDoesNotMatch: The request signature"
        ),
        "{}",
        m.message
    );
    assert_eq!(seen.lock().unwrap().verified, vec![false]);
}

#[tokio::test]
async fn cloudwatch_validation_errors_are_reported_with_their_code() {
    let (endpoint, _) = cloudwatch().await;
    let host = common::host();
    let fields = json!({"metricDataQueries": [{"id": "Rate", "expression": "errors / requests"}]});
    let m = common::measure(&host, "cloudWatch", &config(&endpoint, SECRET, fields)).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(
        m.message.ends_with(
            "api error InvalidParameterValue: The value Rate for parameter MetricDataQueries.member.1.Id is invalid."
        ),
        "{}",
        m.message
    );
}

#[tokio::test]
async fn without_credentials_or_with_a_bad_query_nothing_is_sent() {
    let (endpoint, seen) = cloudwatch().await;
    let host = common::host();
    let bare = json!({"endpoint": endpoint, "region": REGION}).as_object().unwrap().clone();
    let mut cfg = template("errors / requests");
    cfg.as_object_mut().unwrap().extend(bare);
    let m = common::measure(&host, "cloudWatch", &cfg.to_string()).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("no AWS credentials"), "{}", m.message);
    let m =
        common::measure(&host, "cloudWatch", &config(&endpoint, SECRET, json!({"metricDataQueries": [{"id": "a"}]})))
            .await;
    assert_eq!(m.message, "metricDataQueries[0] (a) needs exactly one of expression and metricStat");
    assert!(seen.lock().unwrap().bodies.is_empty());
}

#[tokio::test]
async fn a_recorded_exchange_replays_at_its_time() {
    let host = common::host();
    // 2025-01-01T00:00:00Z is 1735689600: a 30-minute window ends there.
    let replay = common::replay_of(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [{
            "request": {"method": "POST", "url": "https://monitoring.us-east-1.amazonaws.com/",
                        "json": {"StartTime": 1_735_687_800, "EndTime": 1_735_689_600,
                                 "MetricDataQueries": [{"Id": "rate", "Expression": "errors / requests"}]}},
            "response": {"status": 200, "headers": {"content-type": "application/x-amz-json-1.0"},
                         "json": {"MetricDataResults": [{"Id": "rate", "Label": "rate", "StatusCode": "Complete",
                                  "Timestamps": [1_735_689_300, 1_735_689_000], "Values": [0.004, 0.002]}],
                                  "Messages": []}},
        }],
    }));
    let cfg = config(
        "https://monitoring.us-east-1.amazonaws.com",
        SECRET,
        json!({"interval": "30m", "metricDataQueries": [{"id": "rate", "expression": "errors / requests"}]}),
    );
    let m = common::measure_replayed(&host, &replay, "cloudWatch", &cfg).await;
    assert_eq!(
        m.value.as_deref(),
        Some(
            r#"[{"Id":"rate","Label":"rate","Messages":[],"StatusCode":"Complete","Timestamps":["2024-12-31T23:55:00Z","2024-12-31T23:50:00Z"],"Values":[0.004,0.002]}]"#
        ),
        "{}",
        m.message
    );
}
