//! Prometheus options Argo has beyond an instant query, against a loopback server that speaks
//! Prometheus' HTTP API and checks what it receives: `rangeQuery` (the `query_range` form
//! fields), `headers`, and `authentication.sigv4` for an Amazon Managed Prometheus address, whose
//! SigV4 signature (service `aps`) the server recomputes from the secret key it knows.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use aviary_plugins::Phase;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use common::sigv4::{ACCESS_KEY_ID, SECRET};

#[derive(Default)]
struct Seen {
    forms: Vec<HashMap<String, String>>,
    paths: Vec<String>,
    headers: Vec<HeaderMap>,
    signature_ok: Vec<bool>,
}

type Shared = Arc<Mutex<Seen>>;

/// Whether a request to `path` is signed for `aps` in us-west-2 (see `common::sigv4::verify`).
fn signature_verifies(headers: &HeaderMap, path: &str, body: &[u8]) -> bool {
    common::sigv4::verify(headers, path, body, "us-west-2", "aps").is_ok()
}

async fn api(State(seen): State<Shared>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = form_pairs(&body);
    let path = uri.path().to_string();
    let signed = signature_verifies(&headers, &path, &body);
    {
        let mut s = seen.lock().unwrap();
        s.forms.push(form.clone());
        s.paths.push(path.clone());
        s.headers.push(headers.clone());
        s.signature_ok.push(signed);
    }
    if path.contains("aps-workspaces") && !signed {
        return (StatusCode::FORBIDDEN, r#"{"message":"The request signature we calculated does not match"}"#)
            .into_response();
    }
    let start: f64 = form.get("start").and_then(|s| s.parse().ok()).unwrap_or_default();
    let body = if path.ends_with("/query_range") {
        json!({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"code": "200"}, "values": [[start, "0.97"], [start + 60.0, "0.96"]]},
            {"metric": {"code": "500"}, "values": [[start, "0.03"], [start + 60.0, "NaN"]]},
        ]}})
    } else {
        json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1_735_689_600, "1"]}]}})
    };
    axum::Json(body).into_response()
}

fn form_pairs(body: &[u8]) -> HashMap<String, String> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let s = s.replace('+', " ");
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn prometheus() -> (String, Shared) {
    let routes = axum::Router::new()
        .route("/api/v1/query", post(api))
        .route("/api/v1/query_range", post(api))
        .route("/aps-workspaces/workspaces/ws-0123/api/v1/query", post(api));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn a_range_query_sends_start_end_and_step_and_gives_every_value() {
    let (address, seen) = prometheus().await;
    let host = common::host();
    let config = json!({"address": address, "query": "rate(http_requests_total[1m])",
        "rangeQuery": {"start": "now() - duration(\"10m\")", "end": "now()", "step": "1m"},
        "headers": [{"key": "X-Scope-OrgID", "value": "team-a"}], "timeout": 5});
    let m = common::measure(&host, "prometheus", &config.to_string()).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[0.97,0.96,0.03,NaN]")), "{}", m.message);
    let s = seen.lock().unwrap();
    assert_eq!(s.paths, vec!["/api/v1/query_range".to_string()]);
    let form = &s.forms[0];
    assert_eq!(form["query"], "rate(http_requests_total[1m])");
    assert_eq!(form["step"], "60");
    let (start, end): (f64, f64) = (form["start"].parse().unwrap(), form["end"].parse().unwrap());
    assert_eq!(end - start, 600.0);
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs_f64();
    assert!((now - end).abs() < 60.0, "end={end} now={now}");
    assert_eq!(common::header(&s.headers[0], "x-scope-orgid"), "team-a");
    assert!(common::header(&s.headers[0], "authorization").is_empty(), "no signing without sigv4");
}

#[tokio::test]
async fn a_bad_range_or_timeout_is_an_error_naming_the_field() {
    let (address, seen) = prometheus().await;
    let host = common::host();
    let config = json!({"address": address, "query": "up",
        "rangeQuery": {"start": "yesterday", "end": "now()", "step": "1m"}});
    let m = common::measure(&host, "prometheus", &config.to_string()).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("failed to parse rangeQuery.start as time: unsupported expression"), "{}", m.message);
    let config = json!({"address": address, "query": "up", "timeout": -1});
    let m = common::measure(&host, "prometheus", &config.to_string()).await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "prometheus timeout should not be negative"));
    assert!(seen.lock().unwrap().paths.is_empty());
}

#[tokio::test]
async fn managed_prometheus_requests_are_signed_for_aps() {
    let (address, seen) = prometheus().await;
    let host = common::host();
    let workspace = format!("{address}/aps-workspaces/workspaces/ws-0123");
    let sigv4 = |secret: &str| {
        json!({"address": workspace, "query": "up", "headers": [{"key": "X-Team", "value": "a"}],
               "authentication": {"sigv4": {"region": "us-west-2", "accessKeyId": ACCESS_KEY_ID,
                                            "secretAccessKey": secret, "sessionToken": ""}}})
        .to_string()
    };
    let m = common::measure(&host, "prometheus", &sigv4(SECRET)).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[1]")), "{}", m.message);
    let m = common::measure(&host, "prometheus", &sigv4("wrong")).await;
    assert_eq!(m.phase, Phase::Error, "a wrong key fails the server's check");
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.signature_ok, vec![true, false]);
        assert_eq!(s.paths[0], "/aps-workspaces/workspaces/ws-0123/api/v1/query");
        assert!(common::header(&s.headers[0], "authorization").contains("SignedHeaders=content-type;host;x-amz-date,"));
        assert_eq!(common::header(&s.headers[0], "x-team"), "a", "custom headers are sent, unsigned, as Argo's");
    }

    // With roleArn, the controller has resolved the role's keys into the config: the component
    // signs with them like any other.
    let role = json!({"address": workspace, "query": "up",
        "authentication": {"sigv4": {"region": "us-west-2", "roleArn": "arn:aws:iam::1:role/r",
                                     "accessKeyId": ACCESS_KEY_ID, "secretAccessKey": SECRET}}});
    let m = common::measure(&host, "prometheus", &role.to_string()).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[1]")), "{}", m.message);
    assert_eq!(seen.lock().unwrap().signature_ok, vec![true, false, true]);
}
