//! `aviary/grafana`: Argo notifications-engine's `grafana` service (`pkg/services/grafana.go`):
//! posts an annotation to Grafana's annotations API, tagged with the subscription's recipient.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.grafana: |
//!   apiUrl: https://grafana.example.com/api
//!   apiKey: $grafana-api-key
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-completed.grafana: tag1|tag2
//! ```
//!
//! # Config (`service.grafana`)
//!
//! - `apiUrl`: Grafana's API base URL (`https://grafana.example.com/api`); there is no default,
//!   as in Argo (without one the request has no scheme and fails as Argo's does). Its host must be
//!   allowed by the plugin's registry entry (the host grants this component the host of
//!   `apiUrl`).
//! - `apiKey`: sent as `Authorization: Bearer <apiKey>` (a `$key` of the notification secret,
//!   resolved by the host); absent, `Bearer ` alone, as in Argo.
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! # The request
//!
//! `POST <apiUrl>/annotations`, the path joined as Go's `path.Join` joins it (`apiUrl`'s path
//! unescaped, `annotations` added, cleaned of `.`, `..` and doubled `/`, escaped again as Go's
//! `URL.EscapedPath`), `apiUrl`'s query kept; with `Content-Type: application/json`,
//! `Authorization: Bearer <apiKey>` and the body (Go's `json.Marshal` of `GrafanaAnnotation`)
//!
//! ```json
//! {"time":<now, Unix seconds × 1000>,"isRegion":false,"tags":[<recipient split at |>],"text":"<message>"}
//! ```
//!
//! A template without a message sends an empty text (and logs a warning, as Argo does). An
//! `apiUrl` Go's `url.Parse` refuses fails with Go's words (`parse "http://h:x": invalid port
//! ":x" after host`); one without a scheme with Go's client's (`Post "grafana/annotations":
//! unsupported protocol scheme ""`).
//!
//! # The answer
//!
//! As grafana.go reads it: only `200` is delivered; any other status is
//! `request to <apiUrl> has failed with error code <status> : <body>` (the body cut to 1 KiB).
//! No response is `Post "<url>": <why>`. Not retried, as in Argo.
//!
//! # Not supported
//!
//! User information in `apiUrl` (`https://u:p@host`) is not sent (Argo does not send it either:
//! its request sets `Authorization` itself); a fragment is not sent.

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{
    Error, Notification, Notifier, go_json, gourl, log, or_default, quote_body, warn_insecure_skip_verify,
};
use serde::{Deserialize, Serialize};

/// The service's config: `service.grafana`, as Argo's `GrafanaOptions`. Unknown fields are
/// ignored; `null` reads as empty, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Grafana's API base URL.
    #[serde(default, deserialize_with = "or_default")]
    pub api_url: String,
    /// The API key (a service account token), sent as a bearer token.
    #[serde(default, deserialize_with = "or_default")]
    pub api_key: String,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

/// Argo's `GrafanaAnnotation`, its fields in Go's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotation {
    /// When, in Unix milliseconds (whole seconds, as Argo computes it).
    pub time: i64,
    /// Always `false`: a point in time, not a region.
    pub is_region: bool,
    /// The recipient split at `|`.
    pub tags: Vec<String>,
    /// The template's message.
    pub text: String,
}

/// Go's `path.Join(dir, name)` for a non-empty `name`: the two joined by `/` and cleaned as
/// `path.Clean` cleans (`.` and `..` resolved, `/` not doubled, no trailing `/`).
pub fn path_join(dir: &str, name: &str) -> String {
    let joined = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
    let rooted = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            part => parts.push(part),
        }
    }
    let cleaned = parts.join("/");
    match (rooted, cleaned.is_empty()) {
        (true, _) => format!("/{cleaned}"),
        (false, true) => ".".to_string(),
        (false, false) => cleaned,
    }
}

/// The annotations endpoint of `api_url`, as grafana.go builds it (`url.Parse`, the path joined
/// with `annotations`), written as Go's `URL.String` writes it without user information or
/// fragment (which are not sent); or Go's error for an `api_url` it cannot parse. The parsed
/// `api_url` comes with it.
pub fn endpoint(api_url: &str) -> Result<(gourl::Url, String), Error> {
    let url = gourl::parse(api_url).map_err(Error)?;
    let mut sent = url.clone();
    sent.path = path_join(&url.path, "annotations");
    // The joined path differs from the one `raw_path` spelled: Go's `EscapedPath` escapes it anew.
    sent.raw_path.clear();
    sent.user = None;
    sent.fragment.clear();
    sent.raw_fragment.clear();
    Ok((url, sent.to_string()))
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The annotations endpoint.
    pub url: String,
    /// The `Authorization` header's value.
    pub authorization: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config` at `now` (Unix seconds), as grafana.go's
    /// `Send` builds it.
    pub fn new(notification: &Notification, config: &Config, now: i64) -> Result<Plan, Error> {
        let annotation = Annotation {
            time: now.saturating_mul(1000),
            is_region: false,
            tags: notification.recipient.split('|').map(str::to_string).collect(),
            text: notification.message().to_string(),
        };
        if annotation.text.is_empty() {
            log::warn("Message is an empty string or not provided in the notifications template");
        }
        let (url, endpoint) = endpoint(&config.api_url)?;
        // What Go's client answers before sending, for a URL it cannot send to.
        if url.scheme != "http" && url.scheme != "https" {
            return Err(Error(format!(
                "Post {}: unsupported protocol scheme {:?}",
                gourl::go_quote(&endpoint),
                url.scheme
            )));
        }
        if url.host.is_empty() {
            return Err(Error(format!("Post {}: http: no Host in request URL", gourl::go_quote(&endpoint))));
        }
        Ok(Plan { url: endpoint, authorization: format!("Bearer {}", config.api_key), body: go_json(&annotation) })
    }

    /// The HTTP request.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("Authorization", self.authorization.clone())
            .body(self.body.clone().into_bytes())
    }
}

/// Judges the outcome of the post to `url` as grafana.go does: only `200` is delivered; other
/// statuses name `api_url`, the URL as configured.
pub fn verdict(api_url: &str, url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = outcome.map_err(|e| Error(format!("Post {}: {e}", gourl::go_quote(url))))?;
    if response.status != 200 {
        return Err(Error(format!(
            "request to {api_url} has failed with error code {} : {}",
            response.status,
            quote_body(&response.body)
        )));
    }
    Ok(())
}

/// Now, in Unix seconds.
fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The service.
pub struct Grafana;

impl Notifier for Grafana {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        warn_insecure_skip_verify("grafana", config.insecure_skip_verify);
        let plan = Plan::new(&notification, &config, now())?;
        verdict(&config.api_url, &plan.url, plan.request().send())
    }
}

export_notifier!(Grafana);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// What `{{URL}}` stands for in the recorded cases.
    const BASE: &str = "http://127.0.0.1:8080";

    fn fill(text: &str) -> String {
        text.replace("{{URL}}", BASE).replace("{{HOSTPORT}}", "127.0.0.1:8080")
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    /// The request URI of a URL of [`BASE`], as a Go server sees it.
    fn request_uri(url: &str) -> &str {
        url.strip_prefix(BASE).unwrap_or(url)
    }

    #[test]
    fn requests_and_errors_are_argos() {
        // Each case of testdata/requests.json: what Argo's grafana service sent to a test server
        // for the config, recipient and template (its `time` recorded as 0), and the error it
        // gave, before sending or on the server's answer (schema/record.go).
        let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/requests.json")).unwrap();
        assert_eq!(cases.len(), 26);
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let config: Value = serde_json::from_str(&fill(&case["config"].to_string())).unwrap();
            let n = Notification::new("grafana", "grafana")
                .with_config(config)
                .with_recipient(case["recipient"].as_str().unwrap())
                .with_template(case["template"].clone());
            let config: Config = n.config_as().unwrap();
            let go_error = case["err"].as_str().map(fill);
            let plan = Plan::new(&n, &config, 0);
            let Some(sent) = case["requests"].as_array().unwrap().first() else {
                assert_eq!(plan.map(|p| p.url).err().map(|e| e.0), go_error, "{name}");
                continue;
            };
            let plan = plan.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(sent["method"], "POST", "{name}");
            assert_eq!(request_uri(&plan.url), sent["uri"].as_str().unwrap(), "{name}");
            assert_eq!(plan.body, sent["body"].as_str().unwrap(), "{name}");
            // A server trims the header's trailing space (`Bearer ` without a key).
            assert_eq!(plan.authorization.trim_end(), sent["headers"]["Authorization"].as_str().unwrap(), "{name}");
            assert_eq!(
                plan.request(),
                Request::post(&plan.url)
                    .header("Content-Type", sent["headers"]["Content-Type"].as_str().unwrap())
                    .header("Authorization", plan.authorization.clone())
                    .body(plan.body.clone()),
                "{name}"
            );
            let status = case["status"].as_u64().unwrap() as u16;
            let outcome =
                verdict(&config.api_url, &plan.url, Ok(response(status, case["answer"].as_str().unwrap_or(""))));
            assert_eq!(outcome.err().map(|e| e.0), go_error, "{name}");
        }
    }

    #[test]
    fn the_annotation_is_argos() {
        // TestGrafana_SuccessfullySendsNotification's request, at a known time.
        let n = Notification::new("grafana", "grafana")
            .with_config(json!({"apiUrl": "https://grafana.example.com/api", "apiKey": "token"}))
            .with_recipient("tag1|tag2")
            .with_template(json!({"message": "Annotation description"}));
        let plan = Plan::new(&n, &n.config_as().unwrap(), 1_700_000_000).unwrap();
        assert_eq!(
            plan.request(),
            Request::post("https://grafana.example.com/api/annotations")
                .header("Content-Type", "application/json")
                .header("Authorization", "Bearer token")
                .body(
                    r#"{"time":1700000000000,"isRegion":false,"tags":["tag1","tag2"],"text":"Annotation description"}"#
                )
        );
        assert!(now() > 1_700_000_000);
    }

    #[test]
    fn endpoints_are_written_as_gos_url_string() {
        for (api_url, sent) in [
            ("https://g/api", "https://g/api/annotations"),
            ("https://u:p@g:3000/my%20grafana/api/?x=1#f", "https://g:3000/my%20grafana/api/annotations?x=1"),
            ("https://g/a%2Fb", "https://g/a/b/annotations"),
            ("https://g?", "https://g/annotations?"),
            ("http:/x", "http:/x/annotations"),
            ("", "annotations"),
            // Go's `URL.String` writes an opaque URL's opaque part, not its (joined) path.
            ("a:b", "a:b"),
        ] {
            assert_eq!(endpoint(api_url).map(|(_, sent)| sent), Ok(sent.to_string()), "{api_url}");
        }
    }

    #[test]
    fn paths_join_as_gos_path_join() {
        for (dir, joined) in [
            ("", "annotations"),
            ("/", "/annotations"),
            ("/api", "/api/annotations"),
            ("/api/", "/api/annotations"),
            ("/a/../b//c/.", "/b/c/annotations"),
            ("/../..", "/annotations"),
            ("a/../..", "../annotations"),
        ] {
            assert_eq!(path_join(dir, "annotations"), joined, "{dir}");
        }
        assert_eq!(path_join("x", ".."), ".");
    }

    #[test]
    fn configs_take_argos_fields() {
        let n = Notification::new("grafana", "grafana").with_config(json!({
            "apiUrl": "https://g/api", "apiKey": null, "insecureSkipVerify": true, "maxIdleConns": 2,
        }));
        let config: Config = n.config_as().unwrap();
        assert_eq!((config.api_url.as_str(), config.api_key.as_str()), ("https://g/api", ""));
        assert_eq!(config.insecure_skip_verify, Some(true));
        let wrong = n.with_config(json!({"apiUrl": ["x"]})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: apiUrl: invalid type: sequence"), "{wrong}");
    }

    #[test]
    fn answers_other_than_200_fail() {
        let url = "https://g/api/annotations";
        assert_eq!(verdict("https://g/api", url, Ok(response(200, ""))), Ok(()));
        let long = verdict("https://g/api", url, Ok(response(502, &"x".repeat(3000)))).unwrap_err().0;
        assert_eq!(long, format!("request to https://g/api has failed with error code 502 : {}", "x".repeat(1024)));
        assert_eq!(
            verdict("https://g/api", url, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0,
            "Post \"https://g/api/annotations\": transport error: connection refused"
        );
    }
}
