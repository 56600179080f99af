//! AWS credentials as Argo's providers get them, end to end: a controller whose only credentials
//! are a web identity token (IRSA) and a shared credentials file, against a loopback server that
//! speaks STS (AssumeRoleWithWebIdentity, AssumeRole), CloudWatch's GetMetricData and Amazon
//! Managed Prometheus' query API. Every request's SigV4 signature is recomputed by the server:
//! the STS calls signed by the AWS SDK for Rust, the CloudWatch and Prometheus ones by the
//! components, each with the keys STS issued.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_api::{AnalysisPhase, AnalysisRun, AnalysisRunStatus};
use aviary_test_support::e2e::Options;
use aviary_test_support::{TestNamespace, namespace, sigv4};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::*;
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(150);
const ROLE: &str = "arn:aws:iam::123456789012:role/aviary-controller";
const WEB_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.e2e-service-account-token.sig";
/// The keys of the shared credentials file's `amp` profile.
const PROFILE_KEY: (&str, &str) = ("AKIAAMPPROFILEEXAMPLE", "amp/profile/secret/EXAMPLEKEY");
/// What STS issues for the web identity and for the AMP role.
const WEB_KEYS: (&str, &str, &str) = ("ASIAWEBIDENTITYEXAMPLE", "web/identity/secret/EXAMPLE", "web-session-token");
const AMP_ROLE: &str = "arn:aws:iam::123456789012:role/amp-reader";
const AMP_KEYS: (&str, &str, &str) = ("ASIAAMPROLEEXAMPLE", "amp/role/secret/EXAMPLEKEY", "amp-session-token");
const DENIED_ROLE: &str = "arn:aws:iam::123456789012:role/not-trusted";

/// The STS calls and the verified signatures the fake AWS saw.
#[derive(Default)]
struct Seen {
    sts: Vec<HashMap<String, String>>,
    /// (service, access key) of every request whose signature verified.
    verified: Vec<(String, String)>,
    refused: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn secret_of(id: &str) -> Option<String> {
    [(PROFILE_KEY.0, PROFILE_KEY.1), (WEB_KEYS.0, WEB_KEYS.1), (AMP_KEYS.0, AMP_KEYS.1)]
        .iter()
        .find(|(k, _)| *k == id)
        .map(|(_, s)| s.to_string())
}

fn credentials_xml(action: &str, keys: (&str, &str, &str), role: &str) -> String {
    let expiration = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        r#"<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result><Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken><Expiration>{expiration}</Expiration></Credentials><AssumedRoleUser><Arn>{role}/aviary</Arn><AssumedRoleId>AROAEXAMPLE:aviary</AssumedRoleId></AssumedRoleUser></{action}Result><ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata></{action}Response>"#,
        keys.0, keys.1, keys.2
    )
}

fn sts_error(code: &str, message: &str) -> Response {
    let body = format!(
        r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>1a2b</RequestId></ErrorResponse>"#
    );
    (StatusCode::FORBIDDEN, [("content-type", "text/xml")], body).into_response()
}

/// STS: AssumeRoleWithWebIdentity (unsigned, the token is the proof) and AssumeRole (signed with
/// the profile's keys).
fn sts(seen: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    seen.lock().unwrap().sts.push(form.clone());
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    match field("Action") {
        "AssumeRoleWithWebIdentity" => {
            if field("WebIdentityToken") != WEB_TOKEN || field("RoleArn") != ROLE {
                return sts_error("InvalidIdentityToken", "the token or role is not the one configured");
            }
            let xml = credentials_xml("AssumeRoleWithWebIdentity", WEB_KEYS, ROLE);
            ([("content-type", "text/xml")], xml).into_response()
        }
        "AssumeRole" => {
            let verified = match sigv4::verify(headers, "/", body, "us-east-1", "sts", secret_of) {
                Ok(v) => v,
                Err(why) => {
                    seen.lock().unwrap().refused.push(format!("sts: {why}"));
                    return sts_error("SignatureDoesNotMatch", &why);
                }
            };
            seen.lock().unwrap().verified.push(("sts".into(), verified.access_key_id.clone()));
            if verified.access_key_id != PROFILE_KEY.0 || field("RoleArn") != AMP_ROLE {
                return sts_error(
                    "AccessDenied",
                    &format!("{} may not assume {}", verified.access_key_id, field("RoleArn")),
                );
            }
            ([("content-type", "text/xml")], credentials_xml("AssumeRole", AMP_KEYS, AMP_ROLE)).into_response()
        }
        other => sts_error("InvalidAction", &format!("{other} is not an STS action here")),
    }
}

/// CloudWatch's GetMetricData (AWS JSON 1.0), for the web identity's keys only.
fn cloudwatch(seen: &Shared, headers: &HeaderMap, body: &[u8]) -> Response {
    let verified = sigv4::verify(headers, "/", body, "us-east-1", "monitoring", secret_of).and_then(|v| {
        if v.access_key_id == WEB_KEYS.0 && v.session_token.as_deref() == Some(WEB_KEYS.2) {
            Ok(v)
        } else {
            Err(format!("signed with {} and token {:?}, not the web identity's", v.access_key_id, v.session_token))
        }
    });
    let aws_json = [("content-type", "application/x-amz-json-1.0")];
    match verified {
        Ok(v) => seen.lock().unwrap().verified.push(("monitoring".into(), v.access_key_id)),
        Err(why) => {
            seen.lock().unwrap().refused.push(format!("monitoring: {why}"));
            let body = json!({"__type": "com.amazon.coral.service#SignatureDoesNotMatchException", "message": why});
            return (StatusCode::FORBIDDEN, aws_json, body.to_string()).into_response();
        }
    }
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let end = request["EndTime"].as_i64().unwrap_or_default();
    let end = end - end % 60;
    let body = json!({"MetricDataResults": [{"Id": "rate", "Label": "rate", "StatusCode": "Complete",
        "Timestamps": [end - 60, end - 120], "Values": [0.004, 0.002], "Messages": []}], "Messages": []});
    (aws_json, body.to_string()).into_response()
}

/// Amazon Managed Prometheus' query API, for the AMP role's keys only.
fn prometheus(seen: &Shared, path: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    match sigv4::verify(headers, path, body, "us-west-2", "aps", secret_of) {
        Ok(v) if v.access_key_id == AMP_KEYS.0 && v.session_token.as_deref() == Some(AMP_KEYS.2) => {
            seen.lock().unwrap().verified.push(("aps".into(), v.access_key_id));
            axum::Json(json!({"status": "success", "data": {"resultType": "vector",
                "result": [{"metric": {}, "value": [1_735_689_600, "0.99"]}]}}))
            .into_response()
        }
        other => {
            let why = other.map_or_else(|e| e, |v| format!("signed with {}, not the AMP role", v.access_key_id));
            seen.lock().unwrap().refused.push(format!("aps: {why}"));
            (StatusCode::FORBIDDEN, axum::Json(json!({"message": why}))).into_response()
        }
    }
}

async fn aws(State(seen): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if uri.path().starts_with("/aps-workspaces/") {
        prometheus(&seen, uri.path(), &headers, &body)
    } else if headers.contains_key("x-amz-target") {
        cloudwatch(&seen, &headers, &body)
    } else {
        sts(&seen, &headers, &body)
    }
}

/// The fake AWS, and the controller's environment pointing at it: a web identity token file and
/// role (IRSA) and a shared credentials file, no keys in the environment.
async fn start() -> (Shared, String, &'static Env) {
    let seen = Shared::default();
    let router = axum::Router::new().fallback(axum::routing::post(aws)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let dir = tempfile::tempdir().unwrap().keep();
    let file = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let token = file("token", WEB_TOKEN);
    let config = file("config", "[profile amp]\nregion = us-west-2\n");
    let credentials = file(
        "credentials",
        &format!("[amp]\naws_access_key_id = {}\naws_secret_access_key = {}\n", PROFILE_KEY.0, PROFILE_KEY.1),
    );
    let env: Vec<(String, String)> = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_WEB_IDENTITY_TOKEN_FILE", &token),
        ("AWS_ROLE_ARN", ROLE),
        ("AWS_ROLE_SESSION_NAME", "aviary-e2e"),
        ("AWS_CONFIG_FILE", &config),
        ("AWS_SHARED_CREDENTIALS_FILE", &credentials),
        ("AWS_ENDPOINT_URL_STS", &endpoint),
        ("AWS_ENDPOINT_URL_CLOUDWATCH", &endpoint),
        // Nothing of the machine's own: no instance metadata, no keys.
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let options = Options { args: Vec::new(), env };
    let env = env_with_options(std::path::Path::new(env!("CARGO_BIN_EXE_aviary-controller")), options).await;
    (seen, endpoint, env)
}

async fn ended(ns: &TestNamespace, run: &str) -> AnalysisRunStatus {
    let result = eventually_ok(&format!("AnalysisRun {run} to end"), T, || async {
        let r = ns.api::<AnalysisRun>().get(run).await.ok()?;
        r.status.filter(|s| s.phase.is_completed())
    })
    .await;
    match result {
        Ok(status) => status,
        Err(e) => panic!("{e}\ncontroller log:\n{}", env().await.log_tail(80)),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_and_managed_prometheus_sign_with_web_identity_profile_and_assumed_role_keys() -> TestResult {
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        panic!(
            "AWS_ACCESS_KEY_ID is set in the test's environment: the controller would take it before the web identity"
        );
    }
    let (seen, endpoint, _) = start().await;
    let ns = namespace("aws-chain").await?;
    let amp = format!("{endpoint}/aps-workspaces/ws-e2e");
    let prometheus = |role: &str| {
        json!({"prometheus": {"address": amp, "query": "sum(rate(ok[5m])) / sum(rate(all[5m]))",
            "authentication": {"sigv4": {"region": "us-west-2", "profile": "amp", "roleArn": role}}}})
    };
    let _: AnalysisRun = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "good"},
            "spec": {"metrics": [
                {"name": "cloudwatch-error-rate", "count": 2, "interval": "1s",
                 "successCondition": "all(result[0].Values, {# <= 0.01})",
                 "provider": {"cloudWatch": {"interval": "5m", "metricDataQueries": [
                     {"id": "rate", "expression": "errors / requests", "period": 60}]}}},
                {"name": "amp-success-rate", "successCondition": "result[0] >= 0.95", "provider": prometheus(AMP_ROLE)},
            ]}
        }),
    )
    .await;
    let _: AnalysisRun = create(
        &ns,
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "untrusted-role"},
            "spec": {"metrics": [{"name": "amp-success-rate", "successCondition": "result[0] >= 0.95",
                                  "consecutiveErrorLimit": 0, "provider": prometheus(DENIED_ROLE)}]}
        }),
    )
    .await;

    let good = ended(&ns, "good").await;
    let refused = seen.lock().unwrap().refused.clone();
    assert_eq!(good.phase, AnalysisPhase::Successful, "{:#?}\nrefused: {refused:?}", good.metric_results);
    let results: HashMap<_, _> = good.metric_results.iter().map(|r| (r.name.as_str(), r)).collect();
    assert_eq!(results["cloudwatch-error-rate"].successful, 2);
    assert_eq!(results["amp-success-rate"].measurements[0].value, "[0.99]");

    let denied = ended(&ns, "untrusted-role").await;
    assert_eq!(denied.phase, AnalysisPhase::Error, "{}", denied.message);
    let message = &denied.metric_results[0].measurements[0].message;
    assert!(message.starts_with(&format!("assuming role {DENIED_ROLE} failed")), "{message}");
    assert!(message.contains("may not assume"), "STS's own message is kept: {message}");

    {
        let seen = seen.lock().unwrap();
        let actions: Vec<(&str, &str)> = seen
            .sts
            .iter()
            .map(|f| (f.get("Action").map_or("", String::as_str), f.get("RoleArn").map_or("", String::as_str)))
            .collect();
        // The web identity is exchanged once for both CloudWatch measurements (the keys are cached
        // until shortly before they expire), with the session name the environment gives.
        assert_eq!(actions.iter().filter(|a| a.0 == "AssumeRoleWithWebIdentity").count(), 1, "{actions:?}");
        let web = seen.sts.iter().find(|f| f["Action"] == "AssumeRoleWithWebIdentity").unwrap();
        assert_eq!(web["RoleSessionName"], "aviary-e2e");
        assert!(
            actions.contains(&("AssumeRole", AMP_ROLE)) && actions.contains(&("AssumeRole", DENIED_ROLE)),
            "{actions:?}"
        );
        let verified =
            |service: &str, key: &str| seen.verified.iter().filter(|(s, k)| s == service && k == key).count();
        assert!(verified("monitoring", WEB_KEYS.0) >= 2, "{:?} refused {:?}", seen.verified, seen.refused);
        assert!(verified("aps", AMP_KEYS.0) >= 1, "{:?} refused {:?}", seen.verified, seen.refused);
        // The AWS SDK's STS requests verify with the components' SigV4 code: the two signers agree.
        assert!(verified("sts", PROFILE_KEY.0) >= 2, "{:?} refused {:?}", seen.verified, seen.refused);
        assert!(seen.refused.is_empty(), "{:?}", seen.refused);
    }

    let stored = serde_json::to_string(&ns.api::<AnalysisRun>().list(&Default::default()).await?.items)?;
    for secret in [PROFILE_KEY.1, WEB_KEYS.1, WEB_KEYS.2, AMP_KEYS.1, AMP_KEYS.2] {
        assert!(!stored.contains(secret), "a secret reached an AnalysisRun");
    }
    let log = std::fs::read_to_string(&env().await.log).unwrap_or_default();
    for secret in [PROFILE_KEY.1, WEB_KEYS.1, AMP_KEYS.1] {
        assert!(!log.contains(secret), "a secret reached the controller's log");
    }
    Ok(())
}
