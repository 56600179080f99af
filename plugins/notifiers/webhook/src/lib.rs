//! `aviary/webhook`: Argo notifications-engine's `webhook` service (`pkg/services/webhook.go`): a
//! templated HTTP request to a configured URL, retried on transport errors and server errors.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.webhook.github: |
//!   url: https://api.github.com
//!   headers:
//!   - name: Authorization
//!     value: token $github-token
//! template.commit-status: |
//!   webhook:
//!     github:
//!       method: POST
//!       path: /repos/{{.rollout.metadata.annotations.repo}}/statuses/{{.sha}}
//!       body: |
//!         {"state": "success", "context": "rollout"}
//! ```
//!
//! # Config (`service.webhook.<name>`)
//!
//! - `url` (required): where the request goes; its host must be allowed by the plugin's registry
//!   entry (the host grants a first-party notifier the host of its `url`).
//! - `headers`: `[{name, value}]`, set on the request in order (a later header of the same name,
//!   compared case-insensitively, replaces an earlier one, as Go's `Header.Set` does).
//! - `basicAuth`: `{username, password}`: an `Authorization: Basic ...` header, which replaces an
//!   `Authorization` of `headers` (Go's `SetBasicAuth` comes after the headers).
//! - `retryMax`: how many times a failed request is retried (default 3, as Argo's; 0 means the
//!   default, a negative number no retries).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning, which the host's HTTP client does not expose):
//!   `retryWaitMin`, `retryWaitMax` (see the retries below), `maxIdleConns`,
//!   `maxIdleConnsPerHost`, `maxConnsPerHost`, `idleConnTimeout`. Any other unknown field is
//!   ignored too, as Go's `encoding/json` ignores it.
//!
//! # The request
//!
//! As Argo's `webhookService.Send`: the body is the template's `message` and the method GET;
//! when the template has a block for this service (`webhook.<name>`, the notification's
//! `service`), the body is that block's `body` (even an empty one), the method its `method` when
//! not empty, and when its `path` is not empty the URL is `url` without its trailing `/`s, a `/`,
//! and `path` without its leading `/`s. No `Content-Type` is added (set one in `headers`); an
//! empty body is sent as no body for GET and HEAD, as an empty one otherwise.
//!
//! A 2xx answer is delivered. Any other is
//! `request to <METHOD> <url> has failed with error code <status> : <body>` (the body's first
//! KiB; a password in the URL is shown as `xxxxx`). Where Argo prints its request struct there
//! (`{<body> <method> <url> <service>}`), this prints the method and the URL only.
//!
//! # Retries
//!
//! As go-retryablehttp's default policy, which Argo uses: a transport error (a connection
//! refused, a reset, a TLS failure), a 429 and a 5xx other than 501 are retried, up to `retryMax`
//! times; anything else is final. Not retried, unlike Argo: a timeout (the host's timeout is the
//! call's deadline, which a retry cannot beat) and a host the registry entry does not allow. The
//! waits are shorter than Argo's (1 s, 2 s, 4 s, ... up to `retryWaitMax`, 5 s): the whole call
//! has a deadline (15 s by default), so the waits double from 1 s, are capped at 2 s each
//! (a `Retry-After` in seconds on a 429 or 503 is used instead, under the same cap), and stop
//! when they would add up to more than 4 s: with the default `retryMax` of 3 the waits are 1 s,
//! 2 s and 1 s. When the retries are spent the last answer's error is returned (for a transport
//! error: `<METHOD> <url> giving up after <n> attempt(s): <error>`, go-retryablehttp's text).

use std::time::Duration;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::or_default;
pub use aviary_plugin_sdk::notifier::retry::{FIRST_WAIT, MAX_WAIT, WAIT_BUDGET, backoff, retry_after, retryable};
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, block_as, retry, warn_insecure_skip_verify};
pub use aviary_plugin_sdk::notifier::{MAX_QUOTED_BODY, quote_body};
use serde::Deserialize;

/// How many retries when `retryMax` is 0 or absent: Argo's default.
pub const DEFAULT_RETRY_MAX: i64 = 3;

/// One header of `headers`, as Argo's `Header`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Header {
    /// The header's name.
    #[serde(deserialize_with = "or_default")]
    pub name: String,
    /// Its value.
    #[serde(deserialize_with = "or_default")]
    pub value: String,
}

pub use aviary_plugin_sdk::notifier::BasicAuth;

/// The service's config: `service.webhook.<name>`. Fields Aviary does not implement are accepted
/// and ignored (see the crate docs); `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// Where the request goes.
    pub url: String,
    /// Headers set on every request.
    #[serde(default)]
    pub headers: Option<Vec<Header>>,
    /// Basic authentication.
    #[serde(default)]
    pub basic_auth: Option<BasicAuth>,
    /// How many times a failed request is retried: 0 or absent is [`DEFAULT_RETRY_MAX`].
    #[serde(default)]
    pub retry_max: Option<i64>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// How many retries after the first attempt, as Argo's `NewWebhookService` defaults it.
    pub fn retries(&self) -> u32 {
        match self.retry_max.unwrap_or(0) {
            0 => DEFAULT_RETRY_MAX as u32,
            n if n < 0 => 0,
            n => u32::try_from(n).unwrap_or(u32::MAX),
        }
    }
}

/// The template's block for one webhook (`webhook.<name>`), as Argo's `WebhookNotification`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct WebhookTemplate {
    /// The method; empty keeps GET.
    #[serde(deserialize_with = "or_default")]
    pub method: String,
    /// The body, replacing the message.
    #[serde(deserialize_with = "or_default")]
    pub body: String,
    /// A path appended to the config's `url`; empty keeps the `url`.
    #[serde(deserialize_with = "or_default")]
    pub path: String,
}

/// The request of one notification, before it is sent (and each time it is retried).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The method, as given.
    pub method: String,
    /// The URL, with the template's path joined.
    pub url: String,
    /// The body.
    pub body: String,
    /// The headers, basic authentication included.
    pub headers: Vec<(String, String)>,
}

/// `url` without its trailing `/`s, a `/`, and `path` without its leading `/`s: Argo's
/// `strings.TrimRight(url, "/") + "/" + strings.TrimLeft(path, "/")`.
pub fn join_path(url: &str, path: &str) -> String {
    format!("{}/{}", url.trim_end_matches('/'), path.trim_start_matches('/'))
}

/// Sets a header as Go's `Header.Set`: it replaces every header of the same name (compared
/// case-insensitively), in the place of the first.
pub fn set_header(headers: &mut Vec<(String, String)>, name: &str, value: &str) {
    match headers.iter().position(|(n, _)| n.eq_ignore_ascii_case(name)) {
        Some(at) => {
            headers[at] = (name.to_string(), value.to_string());
            let mut index = 0;
            headers.retain(|(n, _)| {
                let keep = index <= at || !n.eq_ignore_ascii_case(name);
                index += 1;
                keep
            });
        }
        None => headers.push((name.to_string(), value.to_string())),
    }
}

/// The `Authorization` value of basic authentication: `Basic base64(username:password)`.
pub fn basic_auth(auth: &BasicAuth) -> String {
    auth.authorization()
}

/// The URL as it may be shown: a password in it replaced by `xxxxx`, as go-retryablehttp's
/// `redactURL` does.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else { return url.to_string() };
    let authority_start = scheme_end + 3;
    let authority_end = url[authority_start..].find(['/', '?', '#']).map_or(url.len(), |i| authority_start + i);
    let authority = &url[authority_start..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_string() };
    let Some(colon) = authority[..at].find(':') else { return url.to_string() };
    format!("{}{}:xxxxx{}", &url[..authority_start], &authority[..colon], &url[authority_start + at..])
}

impl Plan {
    /// The request of `notification` under `config`, as Argo's `Send` and
    /// `intoRetryableHttpRequest` build it. A template block that is not an object is an error
    /// naming it.
    pub fn new(notification: &Notification, config: &Config) -> Result<Plan, Error> {
        if config.url.is_empty() {
            return Err(Error::msg("invalid config: url: must be set"));
        }
        let mut plan = Plan {
            method: "GET".to_string(),
            url: config.url.clone(),
            body: notification.message().to_string(),
            headers: Vec::new(),
        };
        let block = notification.template.get("webhook").and_then(|w| w.get(&notification.service));
        if block.is_some() {
            // A null block is an empty one: its empty body still replaces the message.
            let what = format!("webhook.{}", notification.service);
            let block: WebhookTemplate = block_as(&what, block)?.unwrap_or_default();
            plan.body = block.body;
            if !block.method.is_empty() {
                plan.method = block.method;
            }
            if !block.path.is_empty() {
                plan.url = join_path(&plan.url, &block.path);
            }
        }
        for h in config.headers.iter().flatten() {
            set_header(&mut plan.headers, &h.name, &h.value);
        }
        if let Some(auth) = &config.basic_auth {
            set_header(&mut plan.headers, "Authorization", &basic_auth(auth));
        }
        Ok(plan)
    }

    /// The HTTP request, built afresh for each attempt.
    pub fn request(&self) -> Request {
        let mut request = Request::new(self.method.clone(), self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        let bodiless = self.method.eq_ignore_ascii_case("GET") || self.method.eq_ignore_ascii_case("HEAD");
        if !(self.body.is_empty() && bodiless) {
            request = request.body(self.body.clone().into_bytes());
        }
        request
    }

    /// `<METHOD> <url>`, the URL's password hidden: how messages name the request.
    pub fn target(&self) -> String {
        format!("{} {}", self.method, redact(&self.url))
    }
}

/// The verdict on the last attempt's outcome, after `attempts` attempts: the SDK's
/// [`retry::verdict`] at [`Plan::target`].
pub fn verdict(plan: &Plan, outcome: Result<Response, http::Error>, attempts: u32) -> Result<(), Error> {
    retry::verdict(&plan.target(), outcome, attempts)
}

/// Sends `plan` with `send`, retrying as the crate docs say for up to `retries` retries and
/// waiting with `sleep` between attempts: the whole of a notification's delivery, with the
/// network and the clock passed in so that tests run it natively.
pub fn deliver(
    plan: &Plan,
    retries: u32,
    send: impl FnMut(Request) -> Result<Response, http::Error>,
    sleep: impl FnMut(Duration),
) -> Result<(), Error> {
    retry::deliver(&plan.target(), retries, || plan.request(), send, sleep)
}

/// The service.
pub struct Webhook;

impl Notifier for Webhook {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let plan = Plan::new(&notification, &config)?;
        warn_insecure_skip_verify(&format!("service {}", notification.service), config.insecure_skip_verify);
        deliver(&plan, config.retries(), Request::send, std::thread::sleep)
    }
}

export_notifier!(Webhook);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn notification(config: Value, template: Value) -> Notification {
        Notification::new("github", "webhook").with_config(config).with_template(template)
    }

    fn plan(config: Value, template: Value) -> Plan {
        let n = notification(config, template);
        Plan::new(&n, &n.config_as().unwrap()).unwrap()
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    #[test]
    fn configs_parse_with_argo_fields_and_defaults() {
        let n = notification(
            json!({
                "url": "https://api.github.com",
                "headers": [{"name": "Authorization", "value": "token t"}],
                "basicAuth": {"username": "u", "password": "p"},
                "retryWaitMin": 1000000000u64, "retryWaitMax": "5s", "maxIdleConns": 3,
                "idleConnTimeout": "90s", "insecureSkipVerify": false, "somethingNew": {"x": 1},
            }),
            json!({}),
        );
        let config: Config = n.config_as().unwrap();
        assert_eq!(
            config.headers.as_deref().unwrap()[0],
            Header { name: "Authorization".into(), value: "token t".into() }
        );
        assert_eq!(config.basic_auth, Some(BasicAuth { username: "u".into(), password: "p".into() }));
        assert_eq!(config.retries(), 3);
        let nulls: Config =
            notification(json!({"url": "u", "headers": null, "retryMax": null}), json!({})).config_as().unwrap();
        assert_eq!((nulls.headers.as_deref(), nulls.retries()), (None, 3));
        let null_fields: Config = notification(
            json!({"url": "u", "headers": [{"name": "X", "value": null}], "basicAuth": {"username": null}}),
            json!({}),
        )
        .config_as()
        .unwrap();
        assert_eq!(null_fields.headers.unwrap(), vec![Header { name: "X".into(), value: String::new() }]);
        assert_eq!(null_fields.basic_auth, Some(BasicAuth::default()));
        let retries = |n: i64| Config { retry_max: Some(n), ..Config::default() }.retries();
        assert_eq!((retries(0), retries(5), retries(-1)), (3, 5, 0));
    }

    #[test]
    fn bad_configs_name_the_field() {
        let missing = notification(json!({"headers": []}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(missing.starts_with("invalid config: missing field `url`"), "{missing}");
        let absent = notification(Value::Null, json!({})).config_as::<Config>().unwrap_err().0;
        assert!(absent.starts_with("invalid config: missing field `url`"), "{absent}");
        let wrong = notification(json!({"url": "u", "retryMax": "3"}), json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: retryMax: invalid type: string \"3\""), "{wrong}");
        let header = notification(json!({"url": "u", "headers": [{"name": 5}]}), json!({}));
        let header = header.config_as::<Config>().unwrap_err().0;
        assert!(header.starts_with("invalid config: headers[0].name: invalid type: integer `5`"), "{header}");
        let empty = notification(json!({"url": ""}), json!({}));
        assert_eq!(Plan::new(&empty, &empty.config_as().unwrap()).unwrap_err().0, "invalid config: url: must be set");
    }

    #[test]
    fn paths_join_as_argo_trims_them() {
        assert_eq!(join_path("https://h/api/", "/repos/x"), "https://h/api/repos/x");
        assert_eq!(join_path("https://h///", "///x"), "https://h/x");
        assert_eq!(join_path("https://h", "x?y=1"), "https://h/x?y=1");
    }

    #[test]
    fn without_a_block_the_message_is_sent_with_get() {
        let p = plan(json!({"url": "https://h/hook"}), json!({"message": "Rollout web is healthy"}));
        assert_eq!(
            (p.method.as_str(), p.url.as_str(), p.body.as_str()),
            ("GET", "https://h/hook", "Rollout web is healthy")
        );
        assert_eq!(p.request(), Request::get("https://h/hook").body("Rollout web is healthy"));
        // Another webhook's block is not this one's.
        let other =
            plan(json!({"url": "https://h"}), json!({"message": "m", "webhook": {"jenkins": {"method": "POST"}}}));
        assert_eq!((other.method.as_str(), other.body.as_str()), ("GET", "m"));
    }

    #[test]
    fn the_services_block_sets_method_path_and_body() {
        let template = json!({
            "message": "ignored",
            "webhook": {"github": {"method": "POST", "path": "/repos/a/b/statuses/abc", "body": "{\"state\":\"success\"}"}},
        });
        let p = plan(json!({"url": "https://api.github.com/"}), template);
        assert_eq!(p.method, "POST");
        assert_eq!(p.url, "https://api.github.com/repos/a/b/statuses/abc");
        assert_eq!(p.body, r#"{"state":"success"}"#);
        // An empty method keeps GET, an empty path the url; the body replaces the message even empty.
        let p = plan(json!({"url": "https://h/x/"}), json!({"message": "m", "webhook": {"github": {"path": ""}}}));
        assert_eq!((p.method.as_str(), p.url.as_str(), p.body.as_str()), ("GET", "https://h/x/", ""));
        assert_eq!(p.request(), Request::get("https://h/x/"));
        let p = plan(json!({"url": "https://h"}), json!({"webhook": {"github": null}}));
        assert_eq!((p.method.as_str(), p.body.as_str()), ("GET", ""));
        let p = plan(
            json!({"url": "https://h"}),
            json!({"webhook": {"github": {"method": null, "body": "b", "path": null}}}),
        );
        assert_eq!((p.method.as_str(), p.url.as_str(), p.body.as_str()), ("GET", "https://h", "b"));
        let post = plan(json!({"url": "https://h"}), json!({"webhook": {"github": {"method": "POST"}}}));
        assert_eq!(post.request(), Request::post("https://h").body(Vec::new()));
    }

    #[test]
    fn a_block_that_is_not_an_object_is_an_error() {
        let n = notification(json!({"url": "https://h"}), json!({"webhook": {"github": "POST"}}));
        let err = Plan::new(&n, &n.config_as().unwrap()).unwrap_err().0;
        assert!(err.starts_with("invalid template: webhook.github: invalid type: string \"POST\""), "{err}");
    }

    #[test]
    fn headers_are_set_as_go_sets_them_and_basic_auth_comes_last() {
        let p = plan(
            json!({
                "url": "https://h",
                "headers": [
                    {"name": "Content-Type", "value": "application/json"},
                    {"name": "Authorization", "value": "token t"},
                    {"name": "X-A", "value": "1"},
                    {"name": "content-type", "value": "text/plain"},
                ],
                "basicAuth": {"username": "admin", "password": "s3cret"},
            }),
            json!({"message": "m"}),
        );
        assert_eq!(
            p.headers,
            vec![
                ("content-type".to_string(), "text/plain".to_string()),
                ("Authorization".to_string(), "Basic YWRtaW46czNjcmV0".to_string()),
                ("X-A".to_string(), "1".to_string()),
            ]
        );
        assert_eq!(
            p.request(),
            Request::get("https://h")
                .header("content-type", "text/plain")
                .header("Authorization", "Basic YWRtaW46czNjcmV0")
                .header("X-A", "1")
                .body("m")
        );
        let mut headers = vec![("A".to_string(), "1".to_string()), ("b".into(), "2".into()), ("a".into(), "3".into())];
        set_header(&mut headers, "a", "4");
        assert_eq!(headers, vec![("a".to_string(), "4".to_string()), ("b".into(), "2".into())]);
    }

    #[test]
    fn urls_hide_their_password() {
        assert_eq!(redact("https://u:p@h/x?a=b@c"), "https://u:xxxxx@h/x?a=b@c");
        assert_eq!(redact("https://u@h/x"), "https://u@h/x");
        assert_eq!(redact("https://h/x?a=u:p@c"), "https://h/x?a=u:p@c");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn errors_are_argos() {
        let p = plan(json!({"url": "https://u:pw@h"}), json!({"webhook": {"github": {"method": "POST", "path": "x"}}}));
        assert_eq!(verdict(&p, Ok(response(204, "")), 1), Ok(()));
        assert_eq!(
            verdict(&p, Ok(response(404, "not found\n")), 1).unwrap_err().0,
            "request to POST https://u:xxxxx@h/x has failed with error code 404 : not found\n"
        );
        let long = "é".repeat(600);
        let quoted = quote_body(long.as_bytes());
        assert_eq!(quoted.len(), 1024);
        assert!(long.starts_with(&quoted));
        assert_eq!(
            verdict(&p, Err(http::Error::Transport("connection refused".into())), 4).unwrap_err().0,
            "POST https://u:xxxxx@h/x giving up after 4 attempt(s): transport error: connection refused"
        );
    }

    #[test]
    fn what_is_retried_is_go_retryablehttps() {
        for status in [429, 500, 502, 503, 599] {
            assert!(retryable(&Ok(response(status, ""))), "{status}");
        }
        for status in [200, 301, 400, 404, 501] {
            assert!(!retryable(&Ok(response(status, ""))), "{status}");
        }
        assert!(retryable(&Err(http::Error::Transport("reset".into()))));
        assert!(!retryable(&Err(http::Error::Timeout)));
        assert!(!retryable(&Err(http::Error::DeniedHost("h:443".into()))));
        assert!(!retryable(&Err(http::Error::TooLarge(10))));
    }

    #[test]
    fn waits_double_under_a_cap_and_a_budget() {
        let s = Duration::from_secs;
        assert_eq!(backoff(0, None, s(0)), Some(s(1)));
        assert_eq!(backoff(1, None, s(1)), Some(s(2)));
        assert_eq!(backoff(2, None, s(3)), Some(s(1)));
        assert_eq!(backoff(3, None, s(4)), None);
        assert_eq!(backoff(40, None, s(0)), Some(MAX_WAIT));
        assert_eq!(backoff(0, Some(Duration::ZERO), s(0)), Some(Duration::ZERO));
        assert_eq!(backoff(0, Some(s(60)), s(0)), Some(MAX_WAIT));
        let limited = Response { status: 429, headers: vec![("retry-after".into(), "1".into())], body: Vec::new() };
        assert_eq!(retry_after(&limited), Some(s(1)));
        assert_eq!(retry_after(&Response { status: 500, ..limited.clone() }), None);
        let dated =
            Response { headers: vec![("retry-after".into(), "Wed, 21 Oct 2015 07:28:00 GMT".into())], ..limited };
        assert_eq!(retry_after(&dated), None);
    }

    /// Runs [`deliver`] against canned outcomes, returning its verdict, the attempts and the waits.
    fn run(retries: u32, outcomes: Vec<Result<Response, http::Error>>) -> (Result<(), Error>, usize, Vec<Duration>) {
        let p = plan(json!({"url": "https://h"}), json!({"message": "m"}));
        let mut outcomes = outcomes.into_iter();
        let mut attempts = 0;
        let mut waits = Vec::new();
        let result = deliver(
            &p,
            retries,
            |request| {
                assert_eq!(request, p.request());
                attempts += 1;
                outcomes.next().expect("no more outcomes")
            },
            |d| waits.push(d),
        );
        (result, attempts, waits)
    }

    #[test]
    fn delivery_retries_server_errors_then_succeeds() {
        let (result, attempts, waits) =
            run(3, vec![Ok(response(503, "")), Ok(response(500, "")), Ok(response(200, ""))]);
        assert_eq!((result, attempts), (Ok(()), 3));
        assert_eq!(waits, vec![Duration::from_secs(1), Duration::from_secs(2)]);
    }

    #[test]
    fn delivery_gives_up_after_retry_max() {
        let (result, attempts, waits) = run(3, (0..4).map(|_| Ok(response(502, "bad gateway"))).collect());
        assert_eq!(result.unwrap_err().0, "request to GET https://h has failed with error code 502 : bad gateway");
        assert_eq!(attempts, 4);
        assert_eq!(waits.iter().sum::<Duration>(), WAIT_BUDGET);
        let (result, attempts, _) = run(0, vec![Err(http::Error::Transport("refused".into()))]);
        assert_eq!(result.unwrap_err().0, "GET https://h giving up after 1 attempt(s): transport error: refused");
        assert_eq!(attempts, 1);
    }

    #[test]
    fn delivery_stops_when_the_wait_budget_is_spent() {
        let (result, attempts, waits) = run(10, (0..10).map(|_| Err(http::Error::Transport("reset".into()))).collect());
        assert_eq!(result.unwrap_err().0, "GET https://h giving up after 4 attempt(s): transport error: reset");
        assert_eq!((attempts, waits.len()), (4, 3));
    }

    #[test]
    fn delivery_does_not_retry_a_client_error_or_a_timeout() {
        let (result, attempts, waits) = run(3, vec![Ok(response(400, "{\"message\":\"bad\"}"))]);
        assert_eq!(
            result.unwrap_err().0,
            "request to GET https://h has failed with error code 400 : {\"message\":\"bad\"}"
        );
        assert_eq!((attempts, waits.len()), (1, 0));
        let (result, attempts, _) = run(3, vec![Err(http::Error::Timeout)]);
        assert_eq!(result.unwrap_err().0, "GET https://h giving up after 1 attempt(s): timeout");
        assert_eq!(attempts, 1);
    }
}
