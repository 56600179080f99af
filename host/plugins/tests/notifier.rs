//! Notifiers (contract 0.2.0's `notifier` world): the first-party `aviary/webhook` and
//! `aviary/slack` deliver a rendered notification as Argo's services do, reaching the host their
//! service config names; an undelivered one is the service's own error, and a plugin of another
//! world is refused by name.

mod common;

use std::sync::{Arc, Mutex};

use aviary_plugins::{Failure, NotifyCall, NotifyError};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::json;

/// What the fake service saw: (method, path, a header, body).
type Seen = Arc<Mutex<Vec<(String, String, String, String)>>>;

async fn record(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, String) {
    let header = headers
        .get("x-team")
        .or_else(|| headers.get("authorization"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    seen.lock().unwrap().push((method.to_string(), uri.path().to_string(), header.to_string(), body.clone()));
    match uri.path() {
        p if p.ends_with("/down") => (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "down for maintenance".into()),
        p if p.ends_with("/sendMessage") => (
            axum::http::StatusCode::OK,
            json!({"ok": true, "result": {"message_id": 1, "date": 0, "chat": {"id": -1001, "type": "channel"}}})
                .to_string(),
        ),
        p if p.ends_with("chat.postMessage") && body.contains("channel=nowhere") => {
            (axum::http::StatusCode::OK, json!({"ok": false, "error": "channel_not_found"}).to_string())
        }
        p if p.ends_with("chat.postMessage") => {
            (axum::http::StatusCode::OK, json!({"ok": true, "ts": "1.0"}).to_string())
        }
        _ => (axum::http::StatusCode::OK, "ok".into()),
    }
}

fn call<'a>(service: &'a str, kind: &'a str, config: &'a str, recipient: &'a str, template: &'a str) -> NotifyCall<'a> {
    NotifyCall { service, service_type: kind, config, recipient, template }
}

#[tokio::test]
async fn the_webhook_sends_argos_request_to_its_url_only() {
    let host = common::host();
    let (addr, seen) = common::serve_seen::<Seen>(axum::Router::new().fallback(record)).await;
    let config =
        json!({"url": format!("http://{addr}/hooks/"), "headers": [{"name": "X-Team", "value": "shop"}]}).to_string();
    // A template's `webhook.<name>` gives the method, the path under the url and the body.
    let template = json!({"message": "plain", "webhook": {"deploys": {"method": "POST", "path": "/rollouts", "body": "{\"r\":\"shop\"}"}}}).to_string();
    host.notify("aviary/webhook", call("deploys", "webhook", &config, "", &template)).await.unwrap();
    // Without one: GET with the message.
    let plain = json!({"message": "Rollout shop has been completed."}).to_string();
    host.notify("aviary/webhook", call("other", "webhook", &config, "", &plain)).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("POST".into(), "/hooks/rollouts".into(), "shop".into(), "{\"r\":\"shop\"}".into()),
            ("GET".into(), "/hooks/".into(), "shop".into(), "Rollout shop has been completed.".into()),
        ]
    );
}

#[tokio::test]
async fn an_undelivered_notification_is_the_services_error() {
    let host = common::host();
    let (addr, seen) = common::serve_seen::<Seen>(axum::Router::new().fallback(record)).await;
    let config = json!({"url": format!("http://{addr}/down"), "retryMax": 1}).to_string();
    let template = json!({"message": "m"}).to_string();
    let e = host.notify("aviary/webhook", call("hook", "webhook", &config, "", &template)).await.unwrap_err();
    let NotifyError::Service { plugin, message } = &e else { panic!("{e:?}") };
    assert_eq!(plugin, "aviary/webhook");
    assert!(message.contains("error code 500") && message.contains("down for maintenance"), "{message}");
    assert_eq!(seen.lock().unwrap().len(), 2, "retryMax 1: tried twice");

    // Slack's `ok: false` is an error naming Slack's reason.
    let slack = json!({"token": "xoxb-1", "apiURL": format!("http://{addr}/api/")}).to_string();
    let e = host.notify("aviary/slack", call("slack", "slack", &slack, "nowhere", &template)).await.unwrap_err();
    assert!(e.to_string().contains("channel_not_found"), "{e}");
    host.notify("aviary/slack", call("slack", "slack", &slack, "deploys", &template)).await.unwrap();
    let last = seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!((last.0.as_str(), last.1.as_str(), last.2.as_str()), ("POST", "/api/chat.postMessage", "Bearer xoxb-1"));
    assert!(last.3.contains("channel=deploys") && last.3.contains("text=m"), "{}", last.3);
}

#[tokio::test]
async fn a_plugin_of_another_world_is_not_a_notifier() {
    let host = common::host();
    let e = host.notify("aviary/web", call("x", "webhook", "{}", "", "{}")).await.unwrap_err();
    let NotifyError::Plugin(Failure::Unavailable { detail }) = &e else { panic!("{e:?}") };
    assert!(detail.contains("not a notifier"), "{detail}");
    let e = host.notify("acme/nothing", call("x", "webhook", "{}", "", "{}")).await.unwrap_err();
    assert!(matches!(e, NotifyError::Plugin(Failure::Unavailable { .. })), "{e:?}");
}

/// Argo's alerting services, each embedded as `aviary/<type>`, reach a loopback stand-in of their
/// API (the config's URL field) with the request Argo's service makes.
#[tokio::test]
async fn the_alerting_services_reach_their_api_with_argos_request() {
    let host = common::host();
    let (addr, seen) = common::serve_seen::<Seen>(axum::Router::new().fallback(record)).await;
    let base = format!("http://{addr}");
    let cases = [
        (
            "pagerdutyv2",
            json!({"serviceKeys": {"oncall": "R0UTING"}, "apiURL": base}),
            "oncall",
            json!({"message": "m", "pagerdutyv2": {"summary": "shop aborted", "severity": "critical", "source": "shop"}}),
            "/v2/enqueue",
            "R0UTING",
        ),
        (
            "opsgenie",
            json!({"apiUrl": base, "apiKeys": {"sre": "g3nie"}}),
            "sre",
            json!({"message": "shop aborted", "opsgenie": {"description": "the canary failed"}}),
            "/v2/alerts",
            "the canary failed",
        ),
        (
            "alertmanager",
            json!({"targets": [addr.to_string()], "scheme": "http"}),
            "",
            json!({"message": "m", "alertmanager": {"labels": {"rollout": "shop", "alertname": "rollout-aborted"}}}),
            "/api/v2/alerts",
            "rollout-aborted",
        ),
        (
            "telegram",
            json!({"token": "12345:abc", "apiUrl": base}),
            "-1001",
            json!({"message": "shop aborted"}),
            "/bot12345:abc/sendMessage",
            "shop+aborted",
        ),
    ];
    for (kind, config, recipient, template, path, needle) in cases {
        let (config, template) = (config.to_string(), template.to_string());
        let plugin = format!("aviary/{kind}");
        host.notify(&plugin, call(kind, kind, &config, recipient, &template))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("POST", path), "{kind}");
        assert!(last.3.contains(needle), "{kind}: {}", last.3);
    }
    // Opsgenie's key goes in its header.
    let opsgenie =
        seen.lock().unwrap().iter().find(|r| r.1 == "/v2/alerts" && r.3.contains("canary")).cloned().unwrap();
    assert_eq!(opsgenie.2, "GenieKey g3nie");
}

/// Argo's chat services (Teams, Mattermost, Webex) reach a loopback stand-in of their API with
/// the request Argo's service makes.
#[tokio::test]
async fn the_chat_services_reach_their_api_with_argos_request() {
    let host = common::host();
    let (addr, seen) = common::serve_seen::<Seen>(axum::Router::new().fallback(chat)).await;
    let base = format!("http://{addr}");
    let cases = [
        (
            "teams",
            json!({"recipientUrls": {"deploys": format!("{base}/teams/hook")}}),
            "deploys",
            json!({"message": "shop completed", "teams": {"title": "shop"}}),
            "/teams/hook",
            "\"title\":\"shop\"",
        ),
        (
            "mattermost",
            json!({"apiURL": base, "token": "mm-t0ken"}),
            "ch1",
            json!({"message": "shop completed"}),
            "/api/v4/posts",
            "\"channel_id\":\"ch1\"",
        ),
        (
            "webex",
            json!({"apiURL": base, "token": "wx-t0ken"}),
            "someone@example.com",
            json!({"message": "shop completed"}),
            "/v1/messages",
            "someone@example.com",
        ),
    ];
    for (kind, config, recipient, template, path, needle) in cases {
        let (config, template) = (config.to_string(), template.to_string());
        host.notify(&format!("aviary/{kind}"), call(kind, kind, &config, recipient, &template))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("POST", path), "{kind}");
        assert!(last.3.contains(needle), "{kind}: {}", last.3);
    }
}

/// The chat services' stand-in: Teams answers `1`, Mattermost and Webex their JSON.
async fn chat(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, String) {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    seen.lock().unwrap().push((method.to_string(), uri.path().to_string(), auth, body));
    match uri.path() {
        "/teams/hook" => (axum::http::StatusCode::OK, "1".into()),
        "/api/v4/posts" => (axum::http::StatusCode::CREATED, json!({"id": "p1"}).to_string()),
        _ => (axum::http::StatusCode::OK, json!({"id": "m1"}).to_string()),
    }
}

/// A stand-in of the APIs of Argo's other HTTP services, answering as each service expects.
async fn services(
    State(seen): State<Seen>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> (axum::http::StatusCode, String) {
    use axum::http::StatusCode;
    let header = ["authorization", "x-api-key", "x-auth-token"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    seen.lock().unwrap().push((method.to_string(), uri.path().to_string(), header, body.clone()));
    match uri.path() {
        p if p.ends_with("/incidents") => (StatusCode::CREATED, json!({"incident": {"id": "Q1"}}).to_string()),
        "/api/v1/login" => (
            StatusCode::OK,
            json!({"status": "success", "data": {"authToken": "rc-t0ken", "userId": "u1"}}).to_string(),
        ),
        "/api/v1/chat.postMessage" => (StatusCode::OK, json!({"success": true}).to_string()),
        p if p.ends_with("/access_tokens") => {
            (StatusCode::CREATED, json!({"token": "ghs_t0ken", "expires_at": "2099-01-01T00:00:00Z"}).to_string())
        }
        p if p.contains("/repos/") => (StatusCode::CREATED, "{}".into()),
        "/" if body.contains("QueueName") => {
            (StatusCode::OK, json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/rollouts"}).to_string())
        }
        "/" => (StatusCode::OK, json!({"MessageId": "m-1", "MD5OfMessageBody": md5_hex(&body)}).to_string()),
        _ => (StatusCode::OK, json!({"id": "m1"}).to_string()),
    }
}

/// SQS answers SendMessage with the MD5 of the body it got, which the SDK (and aviary/awssqs)
/// checks.
fn md5_hex(body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("MessageBody").and_then(|m| m.as_str()).map(str::to_string))
        .unwrap_or_default();
    use md5::Digest as _;
    hex::encode(md5::Md5::digest(message.as_bytes()))
}

/// Argo's other HTTP services (Google Chat, Teams workflows, Grafana, New Relic, PagerDuty's
/// REST API, Rocket.Chat, GitHub as an App, SQS) reach a loopback stand-in of their API, through
/// the real host and its grants, with the request Argo's service makes.
#[tokio::test]
async fn argos_other_services_reach_their_api_with_argos_request() {
    let host = common::host();
    let (addr, seen) = common::serve_seen::<Seen>(axum::Router::new().fallback(services)).await;
    let base = format!("http://{addr}");
    let cases = [
        (
            "googlechat",
            json!({"webhooks": {"space": format!("{base}/v1/spaces/S/messages?key=k")}}),
            "space",
            json!({"message": "shop completed"}),
            "/v1/spaces/S/messages",
            "\"text\":\"shop completed\"",
        ),
        (
            "teams-workflows",
            json!({"recipientUrls": {"deploys": format!("{base}/powerautomate/hook")}}),
            "deploys",
            json!({"message": "shop completed", "teams-workflows": {"title": "shop"}}),
            "/powerautomate/hook",
            "\"text\":\"shop\"",
        ),
        (
            "grafana",
            json!({"apiUrl": format!("{base}/api"), "apiKey": "gr4f"}),
            "shop|canary",
            json!({"message": "shop completed"}),
            "/api/annotations",
            "\"tags\":[\"shop\",\"canary\"]",
        ),
        (
            "newrelic",
            json!({"apiURL": base, "apiKey": "NRAK-x"}),
            "12345",
            json!({"message": "shop completed", "newrelic": {"revision": "v2", "changelog": "canary", "user": "argo"}}),
            "/v2/applications/12345/deployments.json",
            "\"revision\":\"v2\"",
        ),
        (
            "pagerduty",
            json!({"token": "pd-t0ken", "from": "ops@example.com", "apiURL": base}),
            "PSERVICE",
            json!({"message": "m", "pagerduty": {"title": "shop aborted", "urgency": "high"}}),
            "/incidents",
            "\"title\":\"shop aborted\"",
        ),
        (
            "rocketchat",
            json!({"serverUrl": base, "email": "bot@example.com", "password": "pw"}),
            "#deploys",
            json!({"message": "shop aborted"}),
            "/api/v1/chat.postMessage",
            "\"channel\":\"#deploys\"",
        ),
        (
            "github",
            json!({"appID": 12345, "installationID": 5, "enterpriseBaseURL": base,
                   "privateKey": include_str!("../../../plugins/notifiers/github/src/testdata/app-key.pem")}),
            "",
            json!({"message": "shop completed", "github": {"repoURLPath": "https://github.com/acme/shop",
                   "revisionPath": "0123abcd", "status": {"state": "success", "label": "rollout/shop"}}}),
            "/api/v3/repos/acme/shop/statuses/0123abcd",
            "\"context\":\"rollout/shop\"",
        ),
        (
            "awssqs",
            json!({"queue": "rollouts", "region": "us-east-1", "key": "AKIDEXAMPLE", "secret": "s3cret", "endpointUrl": base}),
            "",
            json!({"message": "shop aborted"}),
            "/",
            "\"MessageBody\":\"shop aborted\"",
        ),
    ];
    for (kind, config, recipient, template, path, needle) in cases {
        let (config, template) = (config.to_string(), template.to_string());
        let plugin = if kind == "newrelic" { "aviary/newrelic-notifier".to_string() } else { format!("aviary/{kind}") };
        host.notify(&plugin, call(kind, kind, &config, recipient, &template))
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let last = seen.lock().unwrap().last().cloned().unwrap();
        assert_eq!((last.0.as_str(), last.1.as_str()), ("POST", path), "{kind}");
        assert!(last.3.contains(needle), "{kind}: {}", last.3);
    }
    let seen = seen.lock().unwrap().clone();
    let header_of = |path: &str| seen.iter().find(|r| r.1 == path).map(|r| r.2.clone()).unwrap_or_default();
    assert_eq!(header_of("/api/annotations"), "Bearer gr4f");
    assert_eq!(header_of("/v2/applications/12345/deployments.json"), "NRAK-x");
    assert_eq!(header_of("/api/v1/chat.postMessage"), "rc-t0ken", "Rocket.Chat posts with the login's token");
    let token_request = seen.iter().find(|r| r.1.ends_with("/access_tokens")).map(|r| (r.1.clone(), r.2.clone()));
    assert!(
        token_request.as_ref().is_some_and(|(_, auth)| auth.starts_with("Bearer ey")),
        "the App's JWT: {token_request:?}"
    );
    assert_eq!(header_of("/api/v3/repos/acme/shop/statuses/0123abcd"), "token ghs_t0ken");
    assert!(header_of("/").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "SigV4");
}
