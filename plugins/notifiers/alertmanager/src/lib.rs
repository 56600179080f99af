//! `aviary/alertmanager`: Argo notifications-engine's `alertmanager` service
//! (`pkg/services/alertmanager.go`): posts an alert to every Alertmanager of a cluster.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.alertmanager: |
//!   targets:
//!   - 10.0.0.1:9093
//!   - 10.0.0.2:9093
//!   scheme: https
//!   basicAuth:
//!     username: $alertmanager-user
//!     password: $alertmanager-password
//! template.rollout-aborted: |
//!   alertmanager:
//!     labels:
//!       alertname: RolloutAborted
//!       rollout: "{{.rollout.metadata.name}}"
//!     annotations:
//!       summary: The rollout {{.rollout.metadata.name}} was aborted.
//!     generatorURL: https://argo-rollouts.example.com/rollouts/{{.rollout.metadata.name}}
//! ```
//!
//! # Config (`service.alertmanager`)
//!
//! - `targets`: the Alertmanagers, as `host:port` (default `["127.0.0.1:9093"]`). Each is
//!   reached at `<scheme>://<target><apiPath>`; every one's host must be allowed by the plugin's
//!   registry entry (the host grants a first-party notifier every entry of its `targets`, over
//!   its `scheme`).
//! - `scheme`: `http` (the default) or `https`.
//! - `apiPath`: the alerts endpoint's path, default `/api/v2/alerts`.
//! - `basicAuth`: `{username, password}`: an `Authorization: Basic ...` header.
//! - `bearerToken`: an `Authorization: Bearer <token>` header, when there is no `basicAuth`.
//! - `timeout`: each request's timeout in seconds (default 3; a negative one is an error naming
//!   the field).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored: `maxIdleConns`, `maxIdleConnsPerHost`, `maxConnsPerHost`,
//!   `idleConnTimeout` (Argo's client tuning), and any other unknown field, as Go's
//!   `encoding/json` ignores it.
//!
//! # The request
//!
//! As Argo's `Send` and `sendOneTarget`: `POST <scheme>://<target><apiPath>` to each target in
//! turn with `Content-Type: application/json`, the `Authorization` above, and the body a list of
//! one alert (Argo's `AlertmanagerNotification`, fields in its order, encoded as Go's
//! `encoding/json` does: map keys sorted, `<`, `>` and `&` escaped as `\u003c`, `\u003e` and
//! `\u0026`):
//!
//! ```json
//! [{"labels":{"alertname":"RolloutAborted","rollout":"web"},"annotations":{"summary":"..."},
//!   "generatorURL":"https://...","startsAt":"2024-01-02T03:04:05.123456789Z"}]
//! ```
//!
//! from the template's rendered `alertmanager` block:
//! - `labels` (a string map): required: a template without an `alertmanager` block is
//!   `notification alertmanager no config`, one without labels
//!   `alertmanager at least one label pair required`, as in Argo.
//! - `annotations` (a string map): `null` when absent or empty, as Argo sends it.
//! - `generatorURL`: a `git@host:org/repo` URL becomes `https://host/org/repo`, as Argo converts
//!   it; one with a control character is Go's `parse "<url>": net/url: invalid control character
//!   in URL`. When it is absent or empty Argo renders its default, `{{.app.spec.source.repoURL}}`,
//!   which for a Rollout (there is no `.app`) is Go's `<no value>`: that is sent too, so that the
//!   alerts are Argo's.
//! - `startsAt`: the time of sending, in UTC, as Go writes a `time.Time` (RFC 3339 with up to 9
//!   fraction digits, trailing zeros dropped); a `startsAt` in the template is ignored, as Argo
//!   overwrites it with the time of rendering.
//!
//! # The answer
//!
//! The notification is delivered when at least one target answers with a 2xx (Argo wants exactly
//! 200, which is what Alertmanager answers). When none does it is
//! `no events were successfully received by alertmanager: <why>; <why>...`, each target's reason
//! being `request to <url> has failed with error code <status> : <body>` (the body's first KiB)
//! or `Post "<url>": <why>`. Nothing is retried, as in Argo.
//!
//! # Not supported
//!
//! - Argo sends to the targets in parallel; a component runs one request at a time, so they are
//!   sent in turn, each with its own `timeout` (all of them within the call's deadline).
//! - Argo's templater adds `alertname: <the template's name>` to labels that have none, and keeps
//!   a label's or an annotation's unrendered text when it renders empty. The notifier sees neither
//!   the template's name nor its unrendered text: labels are sent as the controller rendered them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, log, status_error, warn_insecure_skip_verify};
pub use aviary_plugin_sdk::notifier::{MAX_QUOTED_BODY, quote_body};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The target when the config has none: Argo's.
pub const DEFAULT_TARGET: &str = "127.0.0.1:9093";
/// The scheme when the config has none: Argo's.
pub const DEFAULT_SCHEME: &str = "http";
/// The path when the config has none: Argo's.
pub const DEFAULT_API_PATH: &str = "/api/v2/alerts";
/// The timeout in seconds when the config has none (or 0): Argo's.
pub const DEFAULT_TIMEOUT_SECS: u64 = 3;
/// What Go's `text/template` prints for Argo's default `generatorURL`,
/// `{{.app.spec.source.repoURL}}`, in a Rollout's notification (which has no `.app`).
pub const NO_VALUE: &str = "<no value>";

use aviary_plugin_sdk::notifier::or_default;

pub use aviary_plugin_sdk::notifier::BasicAuth;

/// The service's config: `service.alertmanager`, as Argo's `AlertmanagerOptions`. Fields Aviary
/// does not implement are accepted and ignored (see the crate docs); `null` reads as absent, as in
/// Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The Alertmanagers (`host:port`); absent or empty: [`DEFAULT_TARGET`].
    #[serde(default)]
    pub targets: Option<Vec<String>>,
    /// `http` or `https`; absent or empty: [`DEFAULT_SCHEME`].
    #[serde(default)]
    pub scheme: Option<String>,
    /// The alerts endpoint's path; absent or empty: [`DEFAULT_API_PATH`].
    #[serde(default)]
    pub api_path: Option<String>,
    /// Basic authentication (wins over `bearerToken`).
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// A bearer token.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// Each request's timeout in seconds; absent or 0: [`DEFAULT_TIMEOUT_SECS`].
    #[serde(default)]
    pub timeout: Option<i64>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

/// `value` unless empty, else `default`.
fn or_else<'a>(value: &'a Option<String>, default: &'a str) -> &'a str {
    match value.as_deref() {
        None | Some("") => default,
        Some(value) => value,
    }
}

impl Config {
    /// Each target's URL, `<scheme>://<target><apiPath>`, in order, as Argo's `sendOneTarget`.
    pub fn urls(&self) -> Vec<String> {
        let scheme = or_else(&self.scheme, DEFAULT_SCHEME);
        let path = or_else(&self.api_path, DEFAULT_API_PATH);
        match self.targets.as_deref() {
            None | Some([]) => vec![format!("{scheme}://{DEFAULT_TARGET}{path}")],
            Some(targets) => targets.iter().map(|target| format!("{scheme}://{target}{path}")).collect(),
        }
    }

    /// Each request's timeout.
    pub fn timeout(&self) -> Result<Duration, Error> {
        match self.timeout.unwrap_or(0) {
            0 => Ok(Duration::from_secs(DEFAULT_TIMEOUT_SECS)),
            n if n < 0 => Err(Error(format!("invalid config: timeout: must not be negative, got {n}"))),
            n => Ok(Duration::from_secs(n.unsigned_abs())),
        }
    }

    /// The `Authorization` header: basic authentication, else the bearer token, else none.
    pub fn authorization(&self) -> Option<String> {
        if let Some(auth) = &self.basic_auth {
            return Some(auth.authorization());
        }
        match self.bearer_token.as_deref() {
            None | Some("") => None,
            Some(token) => Some(format!("Bearer {token}")),
        }
    }
}

pub use aviary_plugin_sdk::notifier::base64;

/// The template's `alertmanager` block, as Argo's `AlertmanagerNotification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AlertmanagerTemplate {
    /// The alert's labels.
    #[serde(deserialize_with = "or_default")]
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations.
    #[serde(deserialize_with = "or_default")]
    pub annotations: BTreeMap<String, String>,
    /// A link to what caused the alert.
    #[serde(rename = "generatorURL", deserialize_with = "or_default")]
    pub generator_url: String,
    /// Ignored: the alert starts when it is sent.
    #[serde(rename = "startsAt")]
    pub starts_at: Option<Value>,
}

/// One alert as Alertmanager's API takes it and Argo writes it, fields in Argo's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// The labels.
    pub labels: BTreeMap<String, String>,
    /// The annotations; `None` is written `null`.
    pub annotations: Option<BTreeMap<String, String>>,
    /// The generator URL.
    #[serde(rename = "generatorURL")]
    pub generator_url: String,
    /// When the alert starts, RFC 3339.
    #[serde(rename = "startsAt")]
    pub starts_at: String,
}

pub use aviary_plugin_sdk::notifier::template_block;

pub use aviary_plugin_sdk::notifier::go_json;

/// Argo's `convertGitURLtoHTTP`: `git@host:org/repo` to `https://host/org/repo`.
pub fn convert_git_url(url: &str) -> String {
    match url.strip_prefix("git@") {
        Some(rest) => format!("https://{}", rest.replacen(':', "/", 1)),
        None => url.to_string(),
    }
}

/// `time` as Go's `time.Time` JSON in UTC: RFC 3339 with the fraction's trailing zeros dropped
/// (`2024-01-02T03:04:05.12Z`, `2024-01-02T03:04:05Z`).
pub fn rfc3339_nano(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = aviary_plugin_sdk::civil::civil_from_days(days);
    let mut out = format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    let nanos = since.subsec_nanos();
    if nanos != 0 {
        out.push('.');
        out.push_str(format!("{nanos:09}").trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// The alert of `notification`, sent at `now`, as Argo's templater and `Send` build it.
pub fn build_alert(notification: &Notification, now: SystemTime) -> Result<Alert, Error> {
    let block: AlertmanagerTemplate = template_block(notification, "alertmanager")?
        .ok_or_else(|| Error::msg("notification alertmanager no config"))?;
    if block.labels.is_empty() {
        return Err(Error::msg("alertmanager at least one label pair required"));
    }
    let generator_url =
        convert_git_url(if block.generator_url.is_empty() { NO_VALUE } else { block.generator_url.as_str() });
    if generator_url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(Error(format!("parse {generator_url:?}: net/url: invalid control character in URL")));
    }
    Ok(Alert {
        labels: block.labels,
        annotations: Some(block.annotations).filter(|a| !a.is_empty()),
        generator_url,
        starts_at: rfc3339_nano(now),
    })
}

/// The posts of one notification, before they are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Each target's URL.
    pub urls: Vec<String>,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// Each request's timeout.
    pub timeout: Duration,
    /// The JSON body: a list of the one alert.
    pub body: String,
}

impl Post {
    /// The posts of `notification` under `config`, sent at `now`.
    pub fn new(notification: &Notification, config: &Config, now: SystemTime) -> Result<Post, Error> {
        let alert = build_alert(notification, now)?;
        Ok(Post {
            urls: config.urls(),
            authorization: config.authorization(),
            timeout: config.timeout()?,
            body: go_json(&[alert]),
        })
    }

    /// The request to the target at `url`.
    pub fn request(&self, url: &str) -> Request {
        let mut request = Request::post(url).header("Content-Type", "application/json");
        if let Some(authorization) = &self.authorization {
            request = request.header("Authorization", authorization.clone());
        }
        request.body(self.body.clone().into_bytes()).timeout(self.timeout)
    }
}

/// The verdict on one target's answer: `Ok` for a 2xx, Argo's error otherwise.
pub fn target_verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    match outcome {
        Ok(r) if r.is_success() => Ok(()),
        Ok(r) => Err(status_error(url, &r)),
        Err(e) => Err(Error(format!("Post {url:?}: {e}"))),
    }
}

/// Posts to every target with `send`: delivered when one of them takes the alert, else Argo's
/// error followed by each target's reason. The network is passed in so that tests run it natively.
pub fn deliver(post: &Post, mut send: impl FnMut(Request) -> Result<Response, http::Error>) -> Result<(), Error> {
    let mut reasons = Vec::new();
    for url in &post.urls {
        match target_verdict(url, send(post.request(url))) {
            Ok(()) => {}
            Err(e) => {
                log::warn(&format!("alertmanager sent target: {e}"));
                reasons.push(e.0);
            }
        }
    }
    if reasons.len() < post.urls.len() {
        return Ok(());
    }
    Err(Error(format!("no events were successfully received by alertmanager: {}", reasons.join("; "))))
}

/// The service.
pub struct Alertmanager;

impl Notifier for Alertmanager {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let post = Post::new(&notification, &config, SystemTime::now())?;
        warn_insecure_skip_verify("alertmanager", config.insecure_skip_verify);
        deliver(&post, Request::send)
    }
}

export_notifier!(Alertmanager);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// 2024-01-02T03:04:05.12Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::new(1_704_164_645, 120_000_000)
    }

    fn notification(config: Value, template: Value) -> Notification {
        Notification::new("alertmanager", "alertmanager").with_config(config).with_template(template)
    }

    fn post(config: Value, template: Value) -> Result<Post, Error> {
        let n = notification(config, template);
        Post::new(&n, &n.config_as()?, now())
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn configs_parse_with_argos_defaults() {
        let config: Config = notification(Value::Null, json!({})).config_as().unwrap();
        assert_eq!(config.urls(), vec!["http://127.0.0.1:9093/api/v2/alerts"]);
        assert_eq!(config.timeout(), Ok(Duration::from_secs(3)));
        assert_eq!(config.authorization(), None);
        let config: Config = notification(
            json!({
                "targets": ["10.0.0.1:9093", "am.example:443"], "scheme": "https", "apiPath": "/api/v1/alerts",
                "bearerToken": "tok", "timeout": 2, "insecureSkipVerify": false, "maxIdleConns": 1, "other": {},
            }),
            json!({}),
        )
        .config_as()
        .unwrap();
        assert_eq!(config.urls(), vec!["https://10.0.0.1:9093/api/v1/alerts", "https://am.example:443/api/v1/alerts"]);
        assert_eq!(config.timeout(), Ok(Duration::from_secs(2)));
        assert_eq!(config.authorization().as_deref(), Some("Bearer tok"));
        let empty: Config = notification(json!({"targets": [], "scheme": "", "apiPath": "", "timeout": 0}), json!({}))
            .config_as()
            .unwrap();
        assert_eq!(empty.urls(), vec!["http://127.0.0.1:9093/api/v2/alerts"]);
        let wrong = notification(json!({"targets": "a:1"}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: targets: invalid type: string \"a:1\""), "{wrong}");
        let wrong = notification(json!({"timeout": "3s"}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: timeout: invalid type: string \"3s\""), "{wrong}");
        let negative = Config { timeout: Some(-1), ..Config::default() }.timeout().unwrap_err().0;
        assert_eq!(negative, "invalid config: timeout: must not be negative, got -1");
    }

    #[test]
    fn basic_auth_wins_over_the_bearer_token() {
        let config = Config {
            basic_auth: Some(BasicAuth { username: "user".into(), password: "pass".into() }),
            bearer_token: Some("tok".into()),
            ..Config::default()
        };
        assert_eq!(config.authorization().as_deref(), Some("Basic dXNlcjpwYXNz"));
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"admin:s3cret"), "YWRtaW46czNjcmV0");
    }

    /// Argo's `TestSend_AlertmanagerCluster`'s request, byte for byte as Argo sends it (checked
    /// against the Go code): basic auth, `<no value>` for the default generator URL, `null`
    /// annotations.
    #[test]
    fn the_request_is_argos() {
        let config = json!({
            "targets": ["127.0.0.1:19093", "127.0.0.1:29093", "127.0.0.1:39093"], "scheme": "http",
            "apiPath": "/api/v2/alerts", "basicAuth": {"username": "user", "password": "pass"}, "timeout": 2,
        });
        let p = post(config, json!({"alertmanager": {"labels": {"alertname": "TestSend", "a": "<b>"}}})).unwrap();
        let body = r#"[{"labels":{"a":"\u003cb\u003e","alertname":"TestSend"},"annotations":null,"generatorURL":"\u003cno value\u003e","startsAt":"2024-01-02T03:04:05.12Z"}]"#;
        assert_eq!(p.body, body);
        assert_eq!(p.urls.len(), 3);
        assert_eq!(
            p.request("http://127.0.0.1:19093/api/v2/alerts"),
            Request::post("http://127.0.0.1:19093/api/v2/alerts")
                .header("Content-Type", "application/json")
                .header("Authorization", "Basic dXNlcjpwYXNz")
                .body(body)
                .timeout(Duration::from_secs(2))
        );
    }

    /// Argo's `test_Labels_Annotations` and generator URL tests, on the rendered block.
    #[test]
    fn labels_annotations_and_the_generator_url_are_sent() {
        let template = json!({"alertmanager": {
            "labels": {"alertname": "App_Deployed"}, "annotations": {"appname": "argocd-notifications"},
            "generatorURL": "git@github.com:argoproj-labs/argocd-notifications.git", "startsAt": "ignored",
        }});
        let p = post(json!({"bearerToken": "tok"}), template).unwrap();
        assert_eq!(
            p.body,
            r#"[{"labels":{"alertname":"App_Deployed"},"annotations":{"appname":"argocd-notifications"},"generatorURL":"https://github.com/argoproj-labs/argocd-notifications.git","startsAt":"2024-01-02T03:04:05.12Z"}]"#
        );
        assert_eq!(
            p.request("http://127.0.0.1:9093/api/v2/alerts"),
            Request::post("http://127.0.0.1:9093/api/v2/alerts")
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer tok")
                .body(p.body.clone())
                .timeout(Duration::from_secs(3))
        );
        let p =
            post(json!({}), json!({"alertmanager": {"labels": {"a": "b"}, "annotations": {}, "generatorURL": "x"}}));
        let p = p.unwrap();
        assert!(p.body.contains(r#""annotations":null,"generatorURL":"x""#), "{}", p.body);
        assert_eq!(p.authorization, None);
    }

    #[test]
    fn git_urls_become_https() {
        assert_eq!(convert_git_url("git@github.com:org/repo.git"), "https://github.com/org/repo.git");
        assert_eq!(convert_git_url("git@host:1:2"), "https://host/1:2");
        assert_eq!(convert_git_url("https://github.com/org/repo"), "https://github.com/org/repo");
    }

    /// Argo's `Test_AlertManagerNotExist` and `Test_AlertManagerNoLabels`.
    #[test]
    fn a_block_with_labels_is_required() {
        assert_eq!(post(json!({}), json!({"message": "m"})).unwrap_err().0, "notification alertmanager no config");
        assert_eq!(
            post(json!({}), json!({"alertmanager": null})).unwrap_err().0,
            "notification alertmanager no config"
        );
        assert_eq!(
            post(json!({}), json!({"alertmanager": {}})).unwrap_err().0,
            "alertmanager at least one label pair required"
        );
        assert_eq!(
            post(json!({}), json!({"alertmanager": {"labels": {}}})).unwrap_err().0,
            "alertmanager at least one label pair required"
        );
        let err = post(json!({}), json!({"alertmanager": {"labels": {"a": 1}}})).unwrap_err().0;
        assert!(err.starts_with("invalid template: alertmanager: labels.a: invalid type: integer `1`"), "{err}");
        let err = post(json!({}), json!({"alertmanager": {"labels": {"a": "b"}, "generatorURL": "a\nb"}})).unwrap_err();
        assert_eq!(err.0, "parse \"a\\nb\": net/url: invalid control character in URL");
    }

    #[test]
    fn times_are_written_as_go_writes_them() {
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(now()), "2024-01-02T03:04:05.12Z");
        assert_eq!(rfc3339_nano(UNIX_EPOCH + Duration::new(951_782_400, 1)), "2000-02-29T00:00:00.000000001Z");
        assert_eq!(
            rfc3339_nano(UNIX_EPOCH + Duration::new(4_102_444_799, 999_999_999)),
            "2099-12-31T23:59:59.999999999Z"
        );
    }

    /// Argo's `TestSend_AlertmanagerCluster`: no target takes the alert.
    #[test]
    fn delivery_succeeds_when_one_target_takes_the_alert() {
        let config = json!({"targets": ["127.0.0.1:19093", "127.0.0.1:29093", "127.0.0.1:39093"]});
        let p = post(config, json!({"alertmanager": {"labels": {"alertname": "TestSend"}}})).unwrap();
        let mut seen = Vec::new();
        let mut outcomes = vec![
            Err(http::Error::Transport("connection refused".into())),
            Ok(response(500, "internal")),
            Ok(response(200, "")),
        ]
        .into_iter();
        let result = deliver(&p, |request| {
            seen.push(request);
            outcomes.next().unwrap()
        });
        assert_eq!(result, Ok(()));
        assert_eq!(seen, p.urls.iter().map(|u| p.request(u)).collect::<Vec<_>>());
        let mut outcomes = vec![
            Err(http::Error::Transport("connection refused".into())),
            Ok(response(400, "{\"code\":400,\"message\":\"bad\"}")),
            Err(http::Error::Timeout),
        ]
        .into_iter();
        let err = deliver(&p, |_| outcomes.next().unwrap()).unwrap_err().0;
        assert_eq!(
            err,
            "no events were successfully received by alertmanager: \
             Post \"http://127.0.0.1:19093/api/v2/alerts\": transport error: connection refused; \
             request to http://127.0.0.1:29093/api/v2/alerts has failed with error code 400 : {\"code\":400,\"message\":\"bad\"}; \
             Post \"http://127.0.0.1:39093/api/v2/alerts\": timeout"
        );
    }

    #[test]
    fn quoted_bodies_are_cut_at_a_kib() {
        let err = target_verdict("u", Ok(response(503, &"x".repeat(5000)))).unwrap_err().0;
        assert_eq!(err.len(), "request to u has failed with error code 503 : ".len() + 1024);
        let long = "é".repeat(600);
        let quoted = quote_body(long.as_bytes());
        assert_eq!(quoted.len(), 1024);
        assert!(long.starts_with(&quoted));
    }
}
