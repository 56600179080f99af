//! `aviary/teams-workflows`: Argo notifications-engine's `teams-workflows` service
//! (`pkg/services/teams-workflows.go`): posts an Adaptive Card to a Microsoft Teams channel
//! through a Power Automate "Workflows" webhook (the successor of Office 365 connectors).
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.teams-workflows: |
//!   recipientUrls:
//!     channelName: $channel-workflows-url
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   teams-workflows:
//!     title: Rollout completed
//!     themeColor: Good
//!     facts: |
//!       [{"name": "Rollout", "value": "{{.rollout.metadata.name}}"}]
//! ```
//!
//! # Config (`service.teams-workflows`)
//!
//! - `recipientUrls`: the workflow URL of each recipient (`{recipient: url}`, usually `$key`s of
//!   the notification secret, resolved by the host). A subscription's recipient not in it is
//!   `no teams-workflows webhook configured for recipient <r>`, as in Argo. Every URL's host must
//!   be allowed by the plugin's registry entry (the host grants this component the hosts of all
//!   the values of `recipientUrls`).
//! - `insecureSkipVerify`: accepted, but only `false` is honoured: the host always verifies TLS
//!   certificates, so `true` logs a warning and the request is still verified.
//! - Accepted and ignored (Argo's client tuning): `maxIdleConns`, `maxIdleConnsPerHost`,
//!   `maxConnsPerHost`, `idleConnTimeout`, and any other unknown field, as Go ignores it.
//!
//! The URL is checked as Argo checks it (`invalid webhook URL for recipient <r>: ...`): not
//! empty, parsed by Go's `url.Parse` (its errors in Go's words), `https` (or `http` to
//! `localhost` and `127.*`), a host, and one of Power Automate's patterns
//! (`api.powerautomate.com`, `api.powerplatform.com`, `flow.microsoft.com`,
//! `webhook.office.com/workflows`, `/powerautomate/`, any case).
//!
//! # The request
//!
//! `POST <recipientUrls[recipient]>` with `Content-Type: application/json` and
//! `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":<card>}]}`
//! where the card is, as teams-workflows.go builds it:
//! - the template's `teams-workflows.adaptiveCard` when it is not empty: its JSON (blanks
//!   around it trimmed, checked with Go's decoder and its messages) compacted as Go's
//!   `json.RawMessage` is (whitespace between tokens dropped, `<`, `>`, `&`, U+2028 and U+2029
//!   escaped, everything else as written: key order, duplicate keys, numbers' text);
//! - otherwise `{"type":"AdaptiveCard","version":"1.4","body":[...],"actions":[...]}`: a
//!   `TextBlock` of `title` (`size: Large`, `weight: Bolder`, `color: <themeColor>`), a
//!   `TextBlock` of `text` (else the message), a `FactSet` of `facts` (a JSON array of
//!   `{"name", "value"}`), a `FactSet` per section of `sections` with `facts`, and an
//!   `Action.OpenUrl` per `OpenUri` action of `potentialAction` (its `name` and first target's
//!   `uri`). Values that are not strings are written as Go's `fmt` `%v` writes them (`1e+06`,
//!   `<nil>`, `map[a:1]`); facts without a string `name` and actions without a `uri` are
//!   skipped; empty parts are left out, as in Argo. `summary` and `template` are accepted and
//!   unused, as in Argo. JSON that does not decode fails with Go's message
//!   (`failed to generate message payload for teams-workflows: teams-workflows facts
//!   unmarshalling error invalid character '}' ...`).
//!
//! # The answer
//!
//! A 2xx is delivered (Power Automate answers `202`); any other status is
//! `teams workflows webhook post error (status <status>): <body>` (the body cut to 1 KiB, or
//! `no error details provided`). No response is
//! `failed to post message to teams-workflows webhook <scheme>://<host>/...: Post "<scheme>://<host>/...": <why>`
//! (Argo shows the whole URL; its query is the workflow's signature, a secret, so it is not shown
//! here). Not retried, as in Argo.
//!
//! # Not supported
//!
//! JSON nested deeper than 1000 levels fails (Go allows 10000). Argo's templater keeps an
//! earlier template's field when a later one renders it empty; Aviary's host merges templates
//! its own way.

use std::collections::BTreeMap;

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson::{self, Value};
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::{
    Error, Notification, Notifier, go_json, gourl, or_default, quote_body, template_block, warn_insecure_skip_verify,
};
use serde::{Deserialize, Serialize};

/// The attachment's content type.
pub const CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// The service's config: `service.teams-workflows`, as Argo's `TeamsWorkflowsOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    /// The workflow URL of each recipient.
    #[serde(default, rename = "recipientUrls")]
    pub recipient_urls: Option<BTreeMap<String, String>>,
    /// Argo's switch to skip TLS verification: accepted, never honoured (the host verifies).
    #[serde(default)]
    pub insecure_skip_verify: Option<bool>,
}

/// Argo's message for a URL that matches none of Power Automate's patterns.
const NOT_WORKFLOWS: &str = "webhook URL does not appear to be a valid Microsoft Teams Workflows URL (Power Automate). \
                             Expected patterns: api.powerautomate.com, api.powerplatform.com, flow.microsoft.com, or \
                             webhook.office.com/workflows";

/// Argo's `validateWorkflowsWebhookURL`.
pub fn validate_url(url: &str) -> Result<(), String> {
    if url.is_empty() {
        return Err("webhook URL cannot be empty".to_string());
    }
    let parsed = gourl::parse(url).map_err(|e| format!("invalid webhook URL format: {e}"))?;
    let hostname = parsed.hostname();
    let local = hostname == "localhost" || hostname.starts_with("127.");
    if parsed.scheme != "https" && !local {
        return Err("webhook URL must use HTTPS scheme".to_string());
    }
    if parsed.scheme != "https" && parsed.scheme != "http" {
        return Err("webhook URL must use HTTP or HTTPS scheme".to_string());
    }
    if parsed.host.is_empty() {
        return Err("webhook URL must have a valid host".to_string());
    }
    let lower = url.to_lowercase();
    let patterns = [
        "api.powerautomate.com",
        "api.powerplatform.com",
        "flow.microsoft.com",
        "webhook.office.com/workflows",
        "/powerautomate/",
    ];
    if !patterns.iter().any(|p| lower.contains(p)) {
        return Err(NOT_WORKFLOWS.to_string());
    }
    Ok(())
}

impl Config {
    /// The checked workflow URL of `recipient`, or Argo's error.
    pub fn webhook_url(&self, recipient: &str) -> Result<&str, Error> {
        let url = self
            .recipient_urls
            .as_ref()
            .and_then(|urls| urls.get(recipient))
            .ok_or_else(|| Error(format!("no teams-workflows webhook configured for recipient {recipient}")))?;
        validate_url(url).map_err(|e| Error(format!("invalid webhook URL for recipient {recipient}: {e}")))?;
        Ok(url)
    }
}

/// The template's `teams-workflows` block (rendered), as Argo's `TeamsWorkflowsNotification`;
/// an absent field is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowsTemplate {
    /// Accepted and unused, as in Argo.
    #[serde(deserialize_with = "or_default")]
    pub template: String,
    /// The card's title.
    #[serde(deserialize_with = "or_default")]
    pub title: String,
    /// Accepted and unused, as in Argo.
    #[serde(deserialize_with = "or_default")]
    pub summary: String,
    /// The card's text, over the message.
    #[serde(deserialize_with = "or_default")]
    pub text: String,
    /// The title's color (`Good`, `Warning`, `Attention`, ...).
    #[serde(deserialize_with = "or_default")]
    pub theme_color: String,
    /// JSON: an array of `{"name", "value"}`.
    #[serde(deserialize_with = "or_default")]
    pub facts: String,
    /// JSON: an array of sections, each with `facts`.
    #[serde(deserialize_with = "or_default")]
    pub sections: String,
    /// JSON: an array of `OpenUri` actions.
    #[serde(deserialize_with = "or_default")]
    pub potential_action: String,
    /// JSON: a whole Adaptive Card, sent as it is.
    #[serde(deserialize_with = "or_default")]
    pub adaptive_card: String,
}

/// Argo's `adaptiveCardFact`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fact {
    /// The fact's name.
    pub title: String,
    /// Its value as text.
    pub value: String,
}

/// Argo's `adaptiveCardElement`, its fields in Go's order, the empty ones left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Element {
    /// `TextBlock` or `FactSet`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A text block's text.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// A text block's size.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub size: String,
    /// A text block's weight.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub weight: String,
    /// A text block's color.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub color: String,
    /// Whether a text block wraps.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub wrap: bool,
    /// A fact set's facts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
}

/// Argo's `adaptiveCardAction`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// Always `Action.OpenUrl`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The action's title.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    /// Where it goes.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub url: String,
}

/// Argo's `adaptiveCard`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Card {
    /// Always `AdaptiveCard`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Always `1.4`.
    pub version: String,
    /// The elements.
    pub body: Vec<Element>,
    /// The actions, left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<Action>,
}

/// Go's name of a section's and a fact's type (`map[string]any`).
const MAP: &str = "map[string]interface {}";
/// Go's name of an action's type (`teamsAction map[string]any`, a named type).
const ACTION: &str = "services.teamsAction";

/// The member `key` of an object (the last one, as Go's map keeps it).
fn member<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    match value {
        Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
        _ => None,
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, as `fmt`'s `%v` writes a `float64`: the shortest
/// digits, in exponent form (`1e+06`, `1e-05`) below 1e-4 and from 1e6.
pub fn format_g(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let e = format!("{f:e}");
    let (mantissa, exponent) = e.split_once('e').unwrap_or((&e, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if mantissa.starts_with('-') { "-" } else { "" };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exponent) {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{first}{rest}e{esign}{:02}", exponent.abs());
    }
    let point = exponent + 1;
    if point <= 0 {
        format!("{sign}0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else if point as usize >= digits.len() {
        format!("{sign}{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        let (int, frac) = digits.split_at(point as usize);
        format!("{sign}{int}.{frac}")
    }
}

/// Go's `fmt.Sprintf("%v", v)` of a value decoded into `any`.
pub fn format_v(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(text) => format_g(gojson::number(text).unwrap_or(0.0)),
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(format_v).collect::<Vec<_>>().join(" ")),
        Value::Object(members) => {
            let sorted: BTreeMap<&str, &Value> = members.iter().map(|(k, v)| (k.as_str(), v)).collect();
            let entries: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}:{}", format_v(v))).collect();
            format!("map[{}]", entries.join(" "))
        }
    }
}

/// The fact of a `{"name", "value"}` object, as Argo reads it: a string `name`, the `value` as
/// text (`%v` when it is not a string; empty when absent).
fn fact(value: &Value) -> Option<Fact> {
    let Some(Value::String(name)) = member(value, "name") else { return None };
    let value = match member(value, "value") {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => format_v(other),
    };
    Some(Fact { title: name.clone(), value })
}

/// A `FactSet` of `facts`, or `None` when none of them is a fact.
fn fact_set(facts: &[Value]) -> Option<Element> {
    let facts: Vec<Fact> = facts.iter().filter_map(fact).collect();
    (!facts.is_empty()).then(|| Element { kind: "FactSet".to_string(), facts, ..Element::default() })
}

/// Argo's `extractNotificationData` and `buildAdaptiveCard`: the card of `message` and the
/// template's block.
pub fn build_card(message: &str, block: &WorkflowsTemplate) -> Result<Card, Error> {
    let wrap = |what: &str, e: String| Error(format!("teams-workflows {what} unmarshalling error {e}"));
    let sections = match block.sections.as_str() {
        "" => None,
        text => {
            gojson::decode_array(text, &format!("[]{MAP}"), gojson::check_map(MAP)).map_err(|e| wrap("sections", e))?
        }
    };
    let facts = match block.facts.as_str() {
        "" => None,
        text => {
            gojson::decode_array(text, &format!("[]{MAP}"), gojson::check_map(MAP)).map_err(|e| wrap("facts", e))?
        }
    };
    let actions = match block.potential_action.as_str() {
        "" => None,
        text => gojson::decode_array(text, &format!("[]{ACTION}"), gojson::check_map(ACTION))
            .map_err(|e| wrap("potential action", e))?,
    };
    let text = if block.text.is_empty() { message } else { &block.text };
    let mut body = Vec::new();
    if !block.title.is_empty() {
        body.push(Element {
            kind: "TextBlock".to_string(),
            text: block.title.clone(),
            size: "Large".to_string(),
            weight: "Bolder".to_string(),
            color: block.theme_color.clone(),
            wrap: true,
            facts: Vec::new(),
        });
    }
    if !text.is_empty() {
        body.push(Element { kind: "TextBlock".to_string(), text: text.to_string(), wrap: true, ..Element::default() });
    }
    body.extend(facts.as_deref().and_then(fact_set));
    for section in sections.iter().flatten() {
        if let Some(Value::Array(facts)) = member(section, "facts") {
            body.extend(fact_set(facts));
        }
    }
    let mut card_actions = Vec::new();
    for action in actions.iter().flatten() {
        if !matches!(member(action, "@type"), Some(Value::String(t)) if t == "OpenUri") {
            continue;
        }
        let title = match member(action, "name") {
            Some(Value::String(name)) => name.clone(),
            _ => String::new(),
        };
        let url = match member(action, "targets") {
            Some(Value::Array(targets)) => match targets.first().and_then(|t| member(t, "uri")) {
                Some(Value::String(uri)) => uri.clone(),
                _ => String::new(),
            },
            _ => String::new(),
        };
        if !url.is_empty() {
            card_actions.push(Action { kind: "Action.OpenUrl".to_string(), title, url });
        }
    }
    Ok(Card { kind: "AdaptiveCard".to_string(), version: "1.4".to_string(), body, actions: card_actions })
}

/// Go's `json.Compact` with HTML escaping, as `json.Marshal` writes a `json.RawMessage`: the
/// whitespace between tokens dropped, `<`, `>`, `&`, U+2028 and U+2029 escaped, the rest as it is.
/// `text` must be valid JSON.
pub fn compact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    for c in text.chars() {
        match c {
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            _ if in_string => {
                out.push(c);
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
            }
            ' ' | '\t' | '\n' | '\r' => {}
            '"' => {
                in_string = true;
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The body teams-workflows.go sends for `message` and the template's block.
pub fn body(message: &str, block: Option<&WorkflowsTemplate>) -> Result<String, Error> {
    let content = match block {
        Some(block) if !block.adaptive_card.is_empty() => {
            let card = block.adaptive_card.trim();
            gojson::parse(card).map_err(|e| Error(format!("teams-workflows adaptiveCard unmarshalling error {e}")))?;
            compact(card)
        }
        block => go_json(&build_card(message, &block.cloned().unwrap_or_default())?),
    };
    let mut out = String::from("{\"type\":\"message\",\"attachments\":[{\"contentType\":");
    gojson::write_string(&mut out, CONTENT_TYPE);
    out.push_str(",\"content\":");
    out.push_str(&content);
    out.push_str("}]}");
    Ok(out)
}

/// `<scheme>://<host>/...`: a URL shown without what follows its host (a workflow URL's query
/// is its signature).
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "...".to_string() };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    format!("{scheme}://{host}/...")
}

/// The request of one notification, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The recipient's workflow URL.
    pub url: String,
    /// The JSON body.
    pub body: String,
}

impl Plan {
    /// The request of `notification` under `config`, checked in the order of Argo's `Send`: the
    /// recipient's URL, then the payload.
    pub fn new(notification: &Notification, config: &Config) -> Result<Plan, Error> {
        let url = config.webhook_url(&notification.recipient)?.to_string();
        let block: Option<WorkflowsTemplate> = template_block(notification, "teams-workflows")?;
        let body = body(notification.message(), block.as_ref())
            .map_err(|e| Error(format!("failed to generate message payload for teams-workflows: {e}")))?;
        Ok(Plan { url, body })
    }

    /// The HTTP request: Go's `client.Post(url, "application/json", body)`.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone()).header("Content-Type", "application/json").body(self.body.clone().into_bytes())
    }
}

/// Judges the outcome of the post as teams-workflows.go does: a 2xx is delivered.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let shown = shown_url(url);
    let response = outcome.map_err(|e| {
        Error(format!("failed to post message to teams-workflows webhook {shown}: Post {shown:?}: {e}"))
    })?;
    if response.is_success() {
        return Ok(());
    }
    let details =
        if response.body.is_empty() { "no error details provided".to_string() } else { quote_body(&response.body) };
    Err(Error(format!("teams workflows webhook post error (status {}): {details}", response.status)))
}

/// The service.
pub struct TeamsWorkflows;

impl Notifier for TeamsWorkflows {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let plan = Plan::new(&notification, &config)?;
        warn_insecure_skip_verify("teams-workflows", config.insecure_skip_verify);
        verdict(&plan.url, plan.request().send())
    }
}

export_notifier!(TeamsWorkflows);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// What `{{URL}}` stands for in the recorded cases.
    const BASE: &str = "http://127.0.0.1:8080";

    fn fill(text: &str) -> String {
        text.replace("{{URL}}", BASE)
    }

    fn response(status: u16, body: &str) -> Response {
        Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    const URL: &str = "https://prod-1.westeurope.logic.azure.com/powerautomate/workflows/x/invoke?sig=s";

    fn plan(template: serde_json::Value) -> Result<Plan, Error> {
        let n = Notification::new("teams-workflows", "teams-workflows")
            .with_config(json!({"recipientUrls": {"r": URL}}))
            .with_recipient("r")
            .with_template(template);
        Plan::new(&n, &n.config_as()?)
    }

    #[test]
    fn requests_and_errors_are_argos() {
        // Each case of testdata/requests.json: what Argo's teams-workflows service sent to a
        // test server, or the error it gave before sending, and what it made of the answer
        // (recorded by plugins/notifiers/grafana/schema/record.go).
        let cases: Vec<serde_json::Value> = serde_json::from_str(include_str!("testdata/requests.json")).unwrap();
        assert_eq!(cases.len(), 50);
        for case in &cases {
            let name = case["name"].as_str().unwrap();
            let config: serde_json::Value = serde_json::from_str(&fill(&case["config"].to_string())).unwrap();
            let n = Notification::new("teams-workflows", "teams-workflows")
                .with_config(config)
                .with_recipient(case["recipient"].as_str().unwrap())
                .with_template(case["template"].clone());
            let plan = Plan::new(&n, &n.config_as().unwrap());
            let go_error = case["err"].as_str().map(fill);
            let Some(sent) = case["requests"].as_array().unwrap().first() else {
                match plan {
                    // A request Argo made that failed in transport: see
                    // transport_errors_hide_the_signature.
                    Ok(p) => assert!(
                        go_error
                            .unwrap()
                            .starts_with(&format!("failed to post message to teams-workflows webhook {}", p.url)),
                        "{name}"
                    ),
                    Err(e) => assert_eq!(Some(e.0), go_error, "{name}"),
                }
                continue;
            };
            let plan = plan.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(plan.url.strip_prefix(BASE).unwrap(), sent["uri"].as_str().unwrap(), "{name}");
            assert_eq!(plan.body, sent["body"].as_str().unwrap(), "{name}");
            assert_eq!(
                plan.request(),
                Request::post(&plan.url)
                    .header("Content-Type", sent["headers"]["Content-Type"].as_str().unwrap())
                    .body(sent["body"].as_str().unwrap()),
                "{name}"
            );
            let status = case["status"].as_u64().unwrap() as u16;
            let outcome = verdict(&plan.url, Ok(response(status, case["answer"].as_str().unwrap_or(""))));
            assert_eq!(outcome.err().map(|e| e.0), go_error, "{name}");
        }
    }

    #[test]
    fn the_default_card_is_argos() {
        // TestTeamsWorkflows_DefaultMessage.
        let p = plan(json!({"message": "simple message"})).unwrap();
        let body = r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"simple message","wrap":true}]}}]}"#;
        assert_eq!(p.request(), Request::post(URL).header("Content-Type", "application/json").body(body));
    }

    #[test]
    fn values_are_written_as_gos_percent_v() {
        for (f, text) in [
            (1.5, "1.5"),
            (1e21, "1e+21"),
            (1e6, "1e+06"),
            (123456.0, "123456"),
            (123456.7, "123456.7"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (-0.0, "-0"),
            (123456789012.0, "1.23456789012e+11"),
            (-2.5e-300, "-2.5e-300"),
        ] {
            assert_eq!(format_g(f), text, "{f}");
        }
        let v = gojson::parse(r#"[1, "a", [true, null], {"k": 2, "b": {}, "k": 3}]"#).unwrap();
        assert_eq!(format_v(&v), "[1 a [true <nil>] map[b:map[] k:3]]");
    }

    #[test]
    fn adaptive_cards_are_compacted_as_go_compacts_them() {
        assert_eq!(
            compact("{ \"a\" : [ 1.50 , \"x y\\\" <z>\" ],\n\t\"b\":\"\\u003c\"}"),
            r#"{"a":[1.50,"x y\" \u003cz\u003e"],"b":"\u003c"}"#
        );
        let p =
            plan(json!({"teams-workflows": {"adaptiveCard": " {\"type\": \"AdaptiveCard\", \"body\": []} "}})).unwrap();
        assert!(p.body.ends_with(r#""content":{"type":"AdaptiveCard","body":[]}}]}"#), "{}", p.body);
        assert_eq!(
            plan(json!({"teams-workflows": {"adaptiveCard": "{"}})).unwrap_err().0,
            "failed to generate message payload for teams-workflows: teams-workflows adaptiveCard unmarshalling error unexpected end of JSON input"
        );
    }

    #[test]
    fn blocks_of_the_wrong_shape_name_the_field() {
        let err = plan(json!({"teams-workflows": {"facts": [{"name": "n"}]}})).unwrap_err().0;
        assert!(err.starts_with("invalid template: teams-workflows: facts: invalid type: sequence"), "{err}");
        let n = Notification::new("teams-workflows", "teams-workflows").with_config(json!({"recipientUrls": ["u"]}));
        let wrong = n.config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: recipientUrls: invalid type: sequence"), "{wrong}");
    }

    #[test]
    fn urls_are_checked_as_argo_checks_them() {
        // TestTeamsWorkflows_ValidateWebhookURL.
        for url in [
            "https://api.powerautomate.com/webhook/abc123",
            "https://api.powerplatform.com/webhook/abc123",
            "https://flow.microsoft.com/webhook/abc123",
            "https://example.com/powerautomate/webhook",
            "http://localhost:8080/powerautomate/webhook",
            "HTTPS://X.Webhook.Office.com/Workflows/x",
        ] {
            assert_eq!(validate_url(url), Ok(()), "{url}");
        }
        assert_eq!(
            validate_url("http://api.powerautomate.com/webhook").unwrap_err(),
            "webhook URL must use HTTPS scheme"
        );
        assert_eq!(validate_url("https:///webhook").unwrap_err(), "webhook URL must have a valid host");
        assert_eq!(validate_url("https://example.com/webhook").unwrap_err(), NOT_WORKFLOWS);
    }

    #[test]
    fn transport_errors_hide_the_signature() {
        // Argo: `failed to post message to teams-workflows webhook <url>: Post "<url>": <why>`,
        // the URL whole.
        assert_eq!(
            verdict(URL, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0,
            "failed to post message to teams-workflows webhook https://prod-1.westeurope.logic.azure.com/...: \
             Post \"https://prod-1.westeurope.logic.azure.com/...\": transport error: connection refused"
        );
        let long = verdict(URL, Ok(response(500, &"x".repeat(3000)))).unwrap_err().0;
        assert_eq!(long, format!("teams workflows webhook post error (status 500): {}", "x".repeat(1024)));
    }
}
