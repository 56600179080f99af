//! `aviary/newrelic`: Argo notifications-engine's `newrelic` service
//! (`pkg/services/newrelic.go`): records a deployment marker on a New Relic APM application
//! (REST API v2).
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.newrelic: |
//!   apiURL: https://api.newrelic.com
//!   apiKey: $newrelic-apiKey
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   newrelic:
//!     revision: "{{(index .rollout.spec.template.spec.containers 0).image}}"
//!     changelog: "Rollout {{.rollout.metadata.name}} completed"
//!     user: "argo-rollouts"
//! # a subscription (the recipient is the application's id):
//! # notifications.argoproj.io/subscribe.on-rollout-completed.newrelic: "123456789"
//! ```
//!
//! # Config (`service.newrelic`)
//!
//! - `apiURL`: the REST API's base URL, default `https://api.newrelic.com` (one trailing `/`
//!   dropped, as in Argo); `https://api.eu.newrelic.com` for the EU region. Its host must be
//!   allowed by the plugin's registry entry (the host grants this component the host of
//!   `apiURL`, or api.newrelic.com).
//! - `apiKey`: the user API key, sent as `X-Api-Key` (a `$key` of the notification secret,
//!   resolved by the host). Without one: `apiKey is missing`, as in Argo.
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! # The request
//!
//! `POST <apiURL>/v2/applications/<recipient>/deployments.json` with
//! `Content-Type: application/json`, `X-Api-Key: <apiKey>` and the body (Go's `json.Marshal` of
//! Argo's `newrelicDeploymentMarkerRequest`)
//!
//! ```json
//! {"deployment":{"revision":"...","changelog":"...","description":"...","user":"..."}}
//! ```
//!
//! from the template's rendered `newrelic` block; `description` is the template's `message` when
//! the block has none; `revision` is always sent, the others only when not empty. A template
//! without a `newrelic` block is `config is missing`, as in Argo.
//!
//! Argo's templater gives an absent field a default written for Argo CD's variables (`.app`,
//! `.repo`), which a Rollout's template does not have: there, an absent `revision` is rendered
//! `<no value>` (and sent so, as here), and an absent `changelog` or `user` fails the
//! notification (`error calling call: call of nil`; here the error names the field and Argo's
//! default). Set all three in a Rollout's template.
//!
//! # The answer
//!
//! Argo takes any answer as delivered. Aviary takes a 2xx (New Relic answers `201`) and reports
//! any other as `request to POST <url> has failed with error code <status> : <body>` (the body
//! cut to 1 KiB): a marker New Relic refused is not one that was recorded. No response is
//! `Post "<url>": <why>`. Not retried, as in Argo.
//!
//! # Not supported
//!
//! Argo formats `apiURL` with `Sprintf`, so a `%` in it garbles Argo's URL; here it is sent as
//! written.

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{
    Error, Notification, Notifier, api_base, go_json, gourl, or_default, post_answer, template_block,
    warn_insecure_skip_verify,
};
use serde::{Deserialize, Serialize};

/// The REST API's base URL when the config has no `apiURL`: Argo's default.
pub const DEFAULT_API_URL: &str = "https://api.newrelic.com";

/// What Argo's default `revision` renders to for a Rollout (its Argo CD variables are absent).
pub const NO_VALUE: &str = "<no value>";

/// The service's config: `service.newrelic`, as Argo's `NewrelicOptions`. Unknown fields are
/// ignored; `null` reads as empty, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The user API key.
    #[serde(default, deserialize_with = "or_default")]
    pub api_key: String,
    /// The REST API's base URL; empty: [`DEFAULT_API_URL`].
    #[serde(default, rename = "apiURL", deserialize_with = "or_default")]
    pub api_url: String,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

impl Config {
    /// The deployments endpoint of application `recipient`, as Argo builds it.
    pub fn endpoint(&self, recipient: &str) -> String {
        let base = api_base(Some(&self.api_url), DEFAULT_API_URL);
        let base = if self.api_url.is_empty() { base } else { base.strip_suffix('/').unwrap_or(base) };
        format!("{base}/v2/applications/{recipient}/deployments.json")
    }
}

/// The template's `newrelic` block (rendered), as Argo's `NewrelicNotification`; `None` is a
/// field the template does not set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct NewrelicTemplate {
    /// The deployed revision.
    #[serde(default)]
    pub revision: Option<String>,
    /// What changed.
    #[serde(default)]
    pub changelog: Option<String>,
    /// The description; empty: the template's message.
    #[serde(default)]
    pub description: Option<String>,
    /// Who deployed.
    #[serde(default)]
    pub user: Option<String>,
}

/// Argo's `NewrelicNotification` as it is sent, its fields in Go's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Deployment {
    /// Always sent.
    pub revision: String,
    /// Sent when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub changelog: String,
    /// Sent when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Sent when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
}

/// Argo's `newrelicDeploymentMarkerRequest`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Marker {
    /// The deployment.
    pub deployment: Deployment,
}

/// The error of a field Argo's templater defaults to `(call .repo.GetCommitMetadata ...)`, which
/// fails for a Rollout.
fn argo_cd_default(field: &str, default: &str) -> Error {
    Error(format!(
        "newrelic.{field} is not set: Argo's default {default} is Argo CD's and fails for a Rollout \
         (error calling call: call of nil)"
    ))
}

impl NewrelicTemplate {
    /// The deployment of this block for `message`, as Argo's templater and `Send` fill it.
    pub fn deployment(&self, message: &str) -> Result<Deployment, Error> {
        let changelog = self.changelog.clone().ok_or_else(|| {
            argo_cd_default("changelog", "{{(call .repo.GetCommitMetadata .app.status.sync.revision).Message}}")
        })?;
        let user = self.user.clone().ok_or_else(|| {
            argo_cd_default("user", "{{(call .repo.GetCommitMetadata .app.status.sync.revision).Author}}")
        })?;
        let description = match self.description.as_deref() {
            None | Some("") => message.to_string(),
            Some(description) => description.to_string(),
        };
        Ok(Deployment {
            revision: self.revision.clone().unwrap_or_else(|| NO_VALUE.to_string()),
            changelog,
            description,
            user,
        })
    }
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The deployments endpoint.
    pub url: String,
    /// The API key.
    pub api_key: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config`, checked in the order of Argo's `Send`: the
    /// key, the block, then the URL (Go's errors for one it cannot parse or send to).
    pub fn new(notification: &Notification, config: &Config) -> Result<Plan, Error> {
        if config.api_key.is_empty() {
            return Err(Error::msg("apiKey is missing"));
        }
        let block: NewrelicTemplate =
            template_block(notification, "newrelic")?.ok_or_else(|| Error::msg("config is missing"))?;
        let deployment = block.deployment(notification.message())?;
        let url = config.endpoint(&notification.recipient);
        let parsed = gourl::parse(&url).map_err(Error)?;
        if parsed.scheme != "http" && parsed.scheme != "https" {
            return Err(Error(format!(
                "Post {}: unsupported protocol scheme {:?}",
                gourl::go_quote(&url),
                parsed.scheme
            )));
        }
        if parsed.host.is_empty() {
            return Err(Error(format!("Post {}: http: no Host in request URL", gourl::go_quote(&url))));
        }
        Ok(Plan { url, api_key: config.api_key.clone(), body: go_json(&Marker { deployment }) })
    }

    /// The HTTP request.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("X-Api-Key", self.api_key.clone())
            .body(self.body.clone().into_bytes())
    }
}

/// Judges the outcome of the post to `url`: a 2xx is delivered (see the crate docs).
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    post_answer(url, outcome).map(|_| ())
}

/// The service.
pub struct Newrelic;

impl Notifier for Newrelic {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        warn_insecure_skip_verify("newrelic", config.insecure_skip_verify);
        let plan = Plan::new(&notification, &config)?;
        verdict(&plan.url, plan.request().send())
    }
}

export_notifier!(Newrelic);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// What `{{URL}}` stands for in the recorded cases.
    const BASE: &str = "http://127.0.0.1:8080";

    fn fill(text: &str) -> String {
        text.replace("{{URL}}", BASE)
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    fn notification(config: Value, recipient: &str, template: Value) -> Notification {
        Notification::new("newrelic", "newrelic").with_config(config).with_recipient(recipient).with_template(template)
    }

    fn plan(config: Value, template: Value) -> Result<Plan, Error> {
        let n = notification(config, "123", template);
        Plan::new(&n, &n.config_as()?)
    }

    #[test]
    fn requests_and_errors_are_argos() {
        // Each case of testdata/requests.json: what Argo's newrelic service sent to a test
        // server, or the error it gave before sending (recorded by
        // plugins/notifiers/grafana/schema/record.go). Argo's templater defaults were not run:
        // every case sets `changelog` and `user` or sends nothing.
        let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/requests.json")).unwrap();
        assert_eq!(cases.len(), 19);
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let config: Value = serde_json::from_str(&fill(&case["config"].to_string())).unwrap();
            let mut template = case["template"].clone();
            if let Some(block) = template.get_mut("newrelic").and_then(Value::as_object_mut) {
                // What Argo's templater leaves in the fields Send reads when it does not fail.
                for field in ["changelog", "user"] {
                    block.entry(field).or_insert(json!(""));
                }
            }
            let n = notification(config, case["recipient"].as_str().unwrap(), template);
            let plan = Plan::new(&n, &n.config_as().unwrap());
            let go_error = case["err"].as_str().map(fill);
            let Some(sent) = case["requests"].as_array().unwrap().first() else {
                assert_eq!(plan.map(|p| p.url).err().map(|e| e.0), go_error, "{name}");
                continue;
            };
            let plan = plan.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(plan.url.strip_prefix(BASE).unwrap(), sent["uri"].as_str().unwrap(), "{name}");
            assert_eq!(plan.body, sent["body"].as_str().unwrap(), "{name}");
            assert_eq!(
                plan.request(),
                Request::post(&plan.url)
                    .header("Content-Type", sent["headers"]["Content-Type"].as_str().unwrap())
                    .header("X-Api-Key", sent["headers"]["X-Api-Key"].as_str().unwrap())
                    .body(sent["body"].as_str().unwrap()),
                "{name}"
            );
            let status = case["status"].as_u64().unwrap() as u16;
            let outcome = verdict(&plan.url, Ok(response(status, case["answer"].as_str().unwrap_or(""))));
            if (200..300).contains(&status) {
                assert_eq!(outcome, Ok(()), "{name}");
            } else {
                // Argo takes any answer as delivered: not here.
                assert_eq!(go_error, None, "{name}");
                assert!(outcome.unwrap_err().0.starts_with("request to POST http://127.0.0.1:8080/v2/"), "{name}");
            }
        }
    }

    #[test]
    fn the_marker_is_argos() {
        // TestSend_Newrelic's request.
        let p = plan(
            json!({"apiKey": "NRAK-5F2FIVA5UTA4FFDD11XCXVA7WPJ", "apiURL": ""}),
            json!({"message": "message", "newrelic": {
                "revision": "2027ed5", "changelog": "Added: /v2/deployments.rb, Removed: None",
                "description": "Deployment finished", "user": "datanerd@example.com",
            }}),
        )
        .unwrap();
        assert_eq!(
            p.request(),
            Request::post("https://api.newrelic.com/v2/applications/123/deployments.json")
                .header("Content-Type", "application/json")
                .header("X-Api-Key", "NRAK-5F2FIVA5UTA4FFDD11XCXVA7WPJ")
                .body(
                    r#"{"deployment":{"revision":"2027ed5","changelog":"Added: /v2/deployments.rb, Removed: None","description":"Deployment finished","user":"datanerd@example.com"}}"#
                )
        );
    }

    #[test]
    fn argos_argo_cd_defaults_are_rendered_as_for_a_rollout() {
        // Argo's templater for a block without them, over a Rollout's variables (checked with
        // notifications-engine): `revision` is `<no value>`, `changelog` and `user` fail.
        let key = json!({"apiKey": "k"});
        let p = plan(key.clone(), json!({"message": "m", "newrelic": {"changelog": "c", "user": "u"}})).unwrap();
        assert_eq!(
            p.body,
            r#"{"deployment":{"revision":"\u003cno value\u003e","changelog":"c","description":"m","user":"u"}}"#
        );
        let err = plan(key.clone(), json!({"newrelic": {"revision": "r", "user": "u"}})).unwrap_err().0;
        assert!(err.starts_with("newrelic.changelog is not set: Argo's default {{(call .repo"), "{err}");
        assert!(err.ends_with("(error calling call: call of nil)"), "{err}");
        let err =
            plan(key.clone(), json!({"newrelic": {"revision": "r", "changelog": "c", "user": null}})).unwrap_err().0;
        assert!(err.starts_with("newrelic.user is not set"), "{err}");
        // An empty block is the same as one with no fields; a null block is none.
        assert!(plan(key.clone(), json!({"newrelic": {}})).unwrap_err().0.starts_with("newrelic.changelog"));
        assert_eq!(plan(key, json!({"newrelic": null})).unwrap_err().0, "config is missing");
    }

    #[test]
    fn configs_and_blocks_name_the_field_that_does_not_fit() {
        let n = notification(json!({"apiKey": 5}), "1", json!({}));
        let wrong = n.config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: apiKey: invalid type: integer `5`"), "{wrong}");
        let err = plan(json!({"apiKey": "k"}), json!({"newrelic": {"revision": ["r"]}})).unwrap_err().0;
        assert!(err.starts_with("invalid template: newrelic: revision: invalid type: sequence"), "{err}");
        let config: Config = notification(
            json!({"apiKey": "k", "apiURL": "https://api.eu.newrelic.com/", "insecureSkipVerify": true}),
            "1",
            json!({}),
        )
        .config_as()
        .unwrap();
        assert_eq!(config.endpoint("7"), "https://api.eu.newrelic.com/v2/applications/7/deployments.json");
        assert_eq!(config.insecure_skip_verify, Some(true));
    }

    #[test]
    fn answers_other_than_2xx_fail() {
        let url = "https://api.newrelic.com/v2/applications/1/deployments.json";
        assert_eq!(verdict(url, Ok(response(201, "{}"))), Ok(()));
        assert_eq!(
            verdict(url, Ok(response(404, r#"{"error":{"title":"Application not found"}}"#))).unwrap_err().0,
            format!(
                r#"request to POST {url} has failed with error code 404 : {{"error":{{"title":"Application not found"}}}}"#
            )
        );
        assert_eq!(
            verdict(url, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0,
            format!("Post \"{url}\": transport error: connection refused")
        );
    }
}
