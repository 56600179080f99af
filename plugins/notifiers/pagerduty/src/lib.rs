//! `aviary/pagerduty`: Argo notifications-engine's `pagerduty` service
//! (`pkg/services/pagerduty.go`, over go-pagerduty 1.8.0's `CreateIncidentWithContext`): creates
//! a PagerDuty incident through the REST API with an API token.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.pagerduty: |
//!   token: $pagerduty-token
//!   from: ops@example.com
//! template.rollout-aborted: |
//!   message: Rollout {{.rollout.metadata.name}} has been aborted.
//!   pagerduty:
//!     title: "Rollout {{.rollout.metadata.name}} aborted"
//!     body: "{{.rollout.status.message}}"
//!     urgency: high
//!     priorityId: P1ABC23
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-aborted.pagerduty: <service ID>
//! ```
//!
//! # Config (`service.pagerduty`)
//!
//! - `token`: the REST API token (usually a `$key` of the notification secret, resolved by the
//!   host), sent as `Authorization: Token token=<token>`.
//! - `from`: the email of a PagerDuty user, sent as the `From` header (sent empty when absent,
//!   as go-pagerduty does).
//! - `serviceId`: read by Argo and never used (the incident's service is the recipient); accepted
//!   and ignored here too.
//! - `apiURL` (an Aviary addition, absent from Argo, whose library has the endpoint built in):
//!   the REST API's base URL, default `https://api.pagerduty.com`; the incident goes to
//!   `<apiURL>/incidents` (a trailing `/` of `apiURL` is dropped). Its host must be allowed by the
//!   plugin's registry entry (the host grants a first-party notifier the host of its `apiURL`, or
//!   api.pagerduty.com); it exists so that tests can point the service at loopback.
//! - Any other field is ignored, as Go's `encoding/json` ignores it.
//!
//! # The request
//!
//! As go-pagerduty sends it: `POST <apiURL>/incidents` with the headers `Accept:
//! application/vnd.pagerduty+json;version=2`, `From: <from>`, `Authorization: Token
//! token=<token>`, `User-Agent: go-pagerduty/1.8.0`, `Content-Type: application/json`, and the
//! body (go-pagerduty's `CreateIncidentOptions` as Argo fills it, fields in the library's order,
//! encoded as Go's `encoding/json` does, `<`, `>` and `&` escaped as `\u003c`, ...):
//!
//! ```json
//! {"incident":{"type":"incident","title":"<title>",
//!   "service":{"id":"<recipient>","type":"service_reference"},
//!   "priority":{"id":"<priorityId>","type":"priority"},"urgency":"<urgency>",
//!   "body":{"type":"incident_details\t","details":"<body>"}}}
//! ```
//!
//! from the template's rendered `pagerduty` block (`title`, `body`, `urgency`, `priorityId`).
//! `title` is always sent (even empty); `urgency`, the ids and `details` only when not empty.
//! The body's `type` is `incident_details` followed by a tab, as Argo's source spells it. The
//! template's `message` is not sent.
//!
//! # The answer
//!
//! As go-pagerduty judges it. A 2xx is delivered when its body is JSON that decodes as an
//! incident response (`{"incident": {...}}` or `null`); otherwise Go's decoding error
//! (`unexpected end of JSON input`, `json: cannot unmarshal array into Go value of type
//! pagerduty.createIncidentResponse`). Any other status is go-pagerduty's `APIError`:
//! - without a `Content-Type` starting with `application/json`: `HTTP response with status code
//!   <status> does not contain Content-Type: application/json`;
//! - JSON that does not decode: `HTTP response with status code <status>, JSON error object
//!   decode failed: <Go's error>` (Go's messages, the fallbacks go-pagerduty applies for an
//!   `errors` string or an `error` array included);
//! - no `error` object: `HTTP response failed with status code <status> and no JSON error object
//!   was present`;
//! - else `HTTP response failed with status code <status>, message: <message> (code: <code>)`,
//!   followed by `: <first error>` (and ` (and <n> more error(s)...)`) when `errors` is not empty.
//!
//! No response is `error calling the API endpoint: Post "<url>": <why>`. Nothing is retried, as
//! in Argo.
//!
//! # Not as in Argo
//!
//! - A template without a `pagerduty` block is `no config found for pagerduty`: Argo's `Send`
//!   dereferences the missing block and panics (which stops Argo Rollouts' controller).
//! - A 2xx answer's incident is only checked to be an object: a field of it of the wrong type
//!   (which Go's decoding would report) is not. Go matches JSON keys case-insensitively with
//!   ASCII folding only here (Go also folds `K` with the Kelvin sign and `S` with `ſ`).

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson::{self, Value as GoValue};
use aviary_plugin_sdk::http::{self, Request, Response};
pub use aviary_plugin_sdk::notifier::go_json;
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, api_base, log, or_default, template_block};
use serde::{Deserialize, Serialize};

/// The REST API's base URL when the config has no `apiURL`: go-pagerduty's endpoint.
pub const DEFAULT_API_URL: &str = "https://api.pagerduty.com";
/// go-pagerduty's `User-Agent` (its version 1.8.0 is the one Argo builds with).
pub const USER_AGENT: &str = "go-pagerduty/1.8.0";
/// go-pagerduty's `Accept` header: the REST API's version 2.
pub const ACCEPT: &str = "application/vnd.pagerduty+json;version=2";
/// The body's `type`, as Argo's source spells it (with a trailing tab).
pub const DETAILS_TYPE: &str = "incident_details\t";

/// The service's config: `service.pagerduty`, as Argo's `PagerDutyOptions` plus `apiURL`.
/// Unknown fields are ignored; `null` reads as absent, as in Go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The API token.
    #[serde(deserialize_with = "or_default")]
    pub token: String,
    /// The `From` header: a PagerDuty user's email.
    #[serde(deserialize_with = "or_default")]
    pub from: String,
    /// Argo's `serviceId`: read and never used, by Argo as here.
    #[serde(rename = "serviceId", deserialize_with = "or_default")]
    pub service_id: String,
    /// The REST API's base URL; absent or empty: [`DEFAULT_API_URL`].
    #[serde(rename = "apiURL")]
    pub api_url: Option<String>,
}

impl Config {
    /// The incidents endpoint: `<apiURL>/incidents`.
    pub fn endpoint(&self) -> String {
        let base = api_base(self.api_url.as_deref(), DEFAULT_API_URL);
        format!("{}/incidents", base.trim_end_matches('/'))
    }
}

/// The template's `pagerduty` block, as Argo's `PagerDutyNotification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PagerDutyTemplate {
    /// The incident's title.
    #[serde(deserialize_with = "or_default")]
    pub title: String,
    /// The incident's details.
    #[serde(deserialize_with = "or_default")]
    pub body: String,
    /// `high` or `low` (not checked, as in Argo).
    #[serde(deserialize_with = "or_default")]
    pub urgency: String,
    /// The id of the incident's priority.
    #[serde(rename = "priorityId", deserialize_with = "or_default")]
    pub priority_id: String,
}

/// go-pagerduty's `APIReference`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// The referenced object's id, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The reference's type, when not empty.
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
}

/// go-pagerduty's `APIDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Details {
    /// Always [`DETAILS_TYPE`].
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The template's `body`, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub details: String,
}

/// go-pagerduty's `CreateIncidentOptions`, the fields Argo sets, in the library's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Incident {
    /// Always `incident`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The title (always sent).
    pub title: String,
    /// The recipient, as a `service_reference`.
    pub service: Reference,
    /// The priority, as a `priority` reference.
    pub priority: Reference,
    /// The urgency, when not empty.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub urgency: String,
    /// The details.
    pub body: Details,
}

/// The JSON body: `{"incident": ...}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Body {
    /// The incident.
    pub incident: Incident,
}

/// The incident of the template's block `block` for the service `recipient`, as Argo's `Send`
/// builds it.
pub fn build_incident(recipient: &str, block: &PagerDutyTemplate) -> Incident {
    Incident {
        kind: "incident".to_string(),
        title: block.title.clone(),
        service: Reference { id: recipient.to_string(), kind: "service_reference".to_string() },
        priority: Reference { id: block.priority_id.clone(), kind: "priority".to_string() },
        urgency: block.urgency.clone(),
        body: Details { kind: DETAILS_TYPE.to_string(), details: block.body.clone() },
    }
}

/// One create-incident call, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateIncident {
    /// The endpoint.
    pub url: String,
    /// The API token.
    pub token: String,
    /// The `From` header.
    pub from: String,
    /// The incident.
    pub incident: Incident,
}

impl CreateIncident {
    /// The call for `notification` under `config`. A template without a `pagerduty` block is an
    /// error (Argo panics).
    pub fn new(notification: &Notification, config: &Config) -> Result<CreateIncident, Error> {
        let block: PagerDutyTemplate =
            template_block(notification, "pagerduty")?.ok_or_else(|| Error::msg("no config found for pagerduty"))?;
        Ok(CreateIncident {
            url: config.endpoint(),
            token: config.token.clone(),
            from: config.from.clone(),
            incident: build_incident(&notification.recipient, &block),
        })
    }

    /// The JSON body, as `json.Marshal` writes it.
    pub fn body(&self) -> String {
        go_json(&Body { incident: self.incident.clone() })
    }

    /// The HTTP request, its headers in go-pagerduty's order.
    pub fn request(&self) -> Request {
        Request::post(self.url.clone())
            .header("Accept", ACCEPT)
            .header("From", self.from.clone())
            .header("Authorization", format!("Token token={}", self.token))
            .header("User-Agent", USER_AGENT)
            .header("Content-Type", "application/json")
            .body(self.body().into_bytes())
    }
}

/// What Go's `UnmarshalTypeError` calls `value` stored into a Go value of another type (a number
/// stored into an integer is named with its text by the caller).
fn kind_of(value: &GoValue) -> &'static str {
    value.kind()
}

/// Go's `UnmarshalTypeError` text for a struct field (`field` is the JSON path from the decoded
/// type, `APIError.error.code`) or, with `field` empty, for the decoded value itself.
fn type_error(what: &str, field: &str, go_type: &str) -> String {
    if field.is_empty() {
        format!("json: cannot unmarshal {what} into Go value of type {go_type}")
    } else {
        format!("json: cannot unmarshal {what} into Go struct field {field} of type {go_type}")
    }
}

/// The members of `members` that Go's decoding stores into the struct field `name`: its key
/// spelled alike, ASCII case ignored (the last one wins).
fn members_named<'a>(members: &'a [(String, GoValue)], name: &str) -> impl Iterator<Item = &'a GoValue> {
    members.iter().filter(move |(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// A JSON number decoded into Go's `int` (64 bits): an integer literal in range, else
/// `number <literal>`.
fn go_int(value: &GoValue, field: &str) -> Result<Option<i64>, String> {
    match value {
        GoValue::Null => Ok(None),
        GoValue::Number(text) => {
            text.parse::<i64>().map(Some).map_err(|_| type_error(&format!("number {text}"), field, "int"))
        }
        other => Err(type_error(kind_of(other), field, "int")),
    }
}

/// A JSON value decoded into Go's `string`.
fn go_string(value: &GoValue, field: &str) -> Result<Option<String>, String> {
    match value {
        GoValue::Null => Ok(None),
        GoValue::String(s) => Ok(Some(s.clone())),
        other => Err(type_error(kind_of(other), field, "string")),
    }
}

/// go-pagerduty's `APIErrorObject`: what PagerDuty's error answers say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorObject {
    /// PagerDuty's error code.
    pub code: i64,
    /// Its message.
    pub message: String,
    /// Details.
    pub errors: Vec<String>,
}

/// Decodes an `error` value as Go decodes it into `APIErrorObject`: every member in order, the
/// first type error kept (Go goes on decoding the rest).
fn decode_error_object(value: &GoValue, path: &str) -> (ApiErrorObject, Option<String>) {
    let mut object = ApiErrorObject::default();
    let mut first: Option<String> = None;
    let keep = |e: String, first: &mut Option<String>| {
        if first.is_none() {
            *first = Some(e);
        }
    };
    match value {
        GoValue::Null => {}
        GoValue::Object(members) => {
            for (key, item) in members {
                if key.eq_ignore_ascii_case("code") {
                    match go_int(item, &format!("{path}.code")) {
                        Ok(Some(n)) => object.code = n,
                        Ok(None) => {}
                        Err(e) => keep(e, &mut first),
                    }
                } else if key.eq_ignore_ascii_case("message") {
                    match go_string(item, &format!("{path}.message")) {
                        Ok(Some(s)) => object.message = s,
                        Ok(None) => {}
                        Err(e) => keep(e, &mut first),
                    }
                } else if key.eq_ignore_ascii_case("errors") {
                    match item {
                        GoValue::Null => object.errors = Vec::new(),
                        GoValue::Array(items) => {
                            object.errors = Vec::new();
                            for element in items {
                                match go_string(element, &format!("{path}.errors")) {
                                    Ok(s) => object.errors.push(s.unwrap_or_default()),
                                    Err(e) => {
                                        object.errors.push(String::new());
                                        keep(e, &mut first);
                                    }
                                }
                            }
                        }
                        other => keep(type_error(kind_of(other), &format!("{path}.errors"), "[]string"), &mut first),
                    }
                }
            }
        }
        other => keep(type_error(kind_of(other), path, "pagerduty.APIErrorObject"), &mut first),
    }
    (object, first)
}

/// go-pagerduty's `unmarshalApiErrorObject`: the `error` value as an `APIErrorObject`, else (a
/// type error) as one whose `errors` is a string, else as an array of strings (message `none`);
/// else the first attempt's error.
pub fn unmarshal_error_object(value: &GoValue) -> Result<ApiErrorObject, String> {
    let path = "APIError.error";
    let (object, error) = decode_error_object(value, path);
    let Some(error) = error else { return Ok(object) };
    // Fallback 1: `errors` a string.
    if let GoValue::Object(members) = value {
        let mut fallback = ApiErrorObject::default();
        let mut errors = String::new();
        let mut fits = true;
        for (key, item) in members {
            if key.eq_ignore_ascii_case("code") {
                match go_int(item, "") {
                    Ok(n) => fallback.code = n.unwrap_or(fallback.code),
                    Err(_) => fits = false,
                }
            } else if key.eq_ignore_ascii_case("message") {
                match go_string(item, "") {
                    Ok(s) => fallback.message = s.unwrap_or(fallback.message),
                    Err(_) => fits = false,
                }
            } else if key.eq_ignore_ascii_case("errors") {
                match go_string(item, "") {
                    Ok(s) => errors = s.unwrap_or(errors),
                    Err(_) => fits = false,
                }
            }
        }
        if fits {
            fallback.errors = vec![errors];
            return Ok(fallback);
        }
    }
    // Fallback 2: an array of strings.
    if let GoValue::Array(items) = value
        && let Some(errors) =
            items.iter().map(|i| go_string(i, "").ok().map(Option::unwrap_or_default)).collect::<Option<Vec<_>>>()
    {
        return Ok(ApiErrorObject { code: object.code, message: "none".to_string(), errors });
    }
    Err(error)
}

/// go-pagerduty's `apiErrorsDetailString`: the first error, and how many more.
fn errors_detail(errors: &[String]) -> String {
    match errors {
        [] => String::new(),
        [one] => one.clone(),
        [first, rest @ ..] => {
            let e = if rest.len() > 1 { "errors" } else { "error" };
            format!("{first} (and {} more {e}...)", rest.len())
        }
    }
}

/// go-pagerduty's `APIError` for an answer with status `status` outside 2xx: its `Error()` text.
pub fn api_error(response: &Response) -> String {
    let status = response.status;
    let json = response.header("content-type").is_some_and(|t| t.starts_with("application/json"));
    if !json {
        return format!("HTTP response with status code {status} does not contain Content-Type: application/json");
    }
    let decode_failed =
        |e: String| format!("HTTP response with status code {status}, JSON error object decode failed: {e}");
    let document = match gojson::parse(&String::from_utf8_lossy(&response.body)) {
        Ok(document) => document,
        Err(e) => return decode_failed(e),
    };
    let mut object = None;
    match &document {
        GoValue::Null => {}
        GoValue::Object(members) => {
            for value in members_named(members, "error") {
                match unmarshal_error_object(value) {
                    Ok(o) => object = Some(o),
                    Err(e) => return decode_failed(e),
                }
            }
        }
        other => return decode_failed(type_error(kind_of(other), "", "pagerduty.APIError")),
    }
    match object {
        None => format!("HTTP response failed with status code {status} and no JSON error object was present"),
        Some(o) if o.errors.is_empty() => {
            format!("HTTP response failed with status code {status}, message: {} (code: {})", o.message, o.code)
        }
        Some(o) => format!(
            "HTTP response failed with status code {status}, message: {} (code: {}): {}",
            o.message,
            o.code,
            errors_detail(&o.errors)
        ),
    }
}

/// Go's decoding of a 2xx answer's body into go-pagerduty's `createIncidentResponse`: syntax
/// errors, and a body or `incident` of the wrong kind.
pub fn decode_created(body: &[u8]) -> Result<(), String> {
    let document = gojson::parse(&String::from_utf8_lossy(body))?;
    match &document {
        GoValue::Null => Ok(()),
        GoValue::Object(members) => {
            for value in members_named(members, "incident") {
                if !matches!(value, GoValue::Null | GoValue::Object(_)) {
                    return Err(type_error(kind_of(value), "createIncidentResponse.incident", "pagerduty.Incident"));
                }
            }
            Ok(())
        }
        other => Err(type_error(kind_of(other), "", "pagerduty.createIncidentResponse")),
    }
}

/// The verdict on the answer to the call to `url`, as go-pagerduty's `checkResponse` and
/// `decodeJSON` give it.
pub fn verdict(url: &str, outcome: Result<Response, http::Error>) -> Result<(), Error> {
    let response = outcome.map_err(|e| Error(format!("error calling the API endpoint: Post {url:?}: {e}")))?;
    if !(200..=299).contains(&response.status) {
        return Err(Error(api_error(&response)));
    }
    decode_created(&response.body).map_err(Error)?;
    log::debug("PagerDuty incident created successfully");
    Ok(())
}

/// The service.
pub struct PagerDuty;

impl Notifier for PagerDuty {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        let call = CreateIncident::new(&notification, &config)?;
        verdict(&call.url, call.request().send())
    }
}

export_notifier!(PagerDuty);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Argo's inputs (`testdata/cases.json`) and what Argo's service did with them
    /// (`testdata/golden.json`), recorded by `schema/golden` (Argo's `pagerduty` service sent
    /// to a loopback server standing in for api.pagerduty.com).
    fn golden() -> Vec<(Value, Value)> {
        let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/cases.json")).unwrap();
        let golden: Vec<Value> = serde_json::from_str(include_str!("testdata/golden.json")).unwrap();
        assert_eq!(cases.len(), golden.len());
        cases.into_iter().zip(golden).collect()
    }

    fn notification(config: &Value, recipient: &str, template: &Value) -> Notification {
        Notification::new("pagerduty", "pagerduty")
            .with_config(config.clone())
            .with_template(template.clone())
            .with_recipient(recipient)
    }

    fn response(answer: &Value) -> Response {
        let mut headers = Vec::new();
        if let Some(t) = answer["contentType"].as_str().filter(|t| !t.is_empty()) {
            headers.push(("content-type".to_string(), t.to_string()));
        }
        Response {
            status: answer["status"].as_u64().unwrap() as u16,
            headers,
            body: answer["body"].as_str().unwrap().as_bytes().to_vec(),
        }
    }

    /// The request Argo's service sent, as the SDK's `Request` (headers in the guest's order).
    fn argos_request(recorded: &Value) -> Request {
        let url = format!("{DEFAULT_API_URL}{}", recorded["uri"].as_str().unwrap());
        let mut request = Request::new(recorded["method"].as_str().unwrap(), url);
        let headers = recorded["headers"].as_object().unwrap();
        let order = ["Accept", "From", "Authorization", "User-Agent", "Content-Type"];
        assert_eq!(headers.len(), order.len(), "{headers:?}");
        for name in order {
            request = request.header(name, headers[name].as_str().unwrap());
        }
        request.body(recorded["body"].as_str().unwrap().as_bytes().to_vec())
    }

    #[test]
    fn requests_and_errors_are_argos() {
        let mut checked = 0;
        for (case, argo) in golden() {
            let name = case["name"].as_str().unwrap();
            let n = notification(&case["config"], case["recipient"].as_str().unwrap(), &case["template"]);
            let config: Config = n.config_as().unwrap();
            if argo["panic"].is_string() {
                // Argo's Send dereferences the missing block.
                assert_eq!(CreateIncident::new(&n, &config).unwrap_err().0, "no config found for pagerduty", "{name}");
                checked += 1;
                continue;
            }
            let call = CreateIncident::new(&n, &config).unwrap();
            let request = call.request();
            if case["down"] != true {
                let recorded = &argo["requests"][0];
                assert_eq!(request, argos_request(recorded), "{name}");
                assert_eq!(recorded["host"], "api.pagerduty.com", "{name}");
            }
            let error = argo["error"].as_str();
            if case["down"] == true {
                let got = verdict(&call.url, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0;
                let prefix = "error calling the API endpoint: Post \"https://api.pagerduty.com/incidents\": ";
                assert!(got.starts_with(prefix) && error.unwrap().starts_with(prefix), "{name}: {got}");
            } else {
                let got = verdict(&call.url, Ok(response(&case["responses"][0]))).err().map(|e| e.0);
                assert_eq!(got.as_deref(), error, "{name}");
            }
            checked += 1;
        }
        assert_eq!(checked, 33);
    }

    #[test]
    fn configs_parse_and_default_to_pagerduty() {
        let config: Config = notification(
            &json!({"token": "t", "from": "a@b", "serviceId": "S", "apiURL": "http://127.0.0.1:9/", "new": 1}),
            "",
            &json!({}),
        )
        .config_as()
        .unwrap();
        assert_eq!(config.endpoint(), "http://127.0.0.1:9/incidents");
        assert_eq!((config.token.as_str(), config.from.as_str(), config.service_id.as_str()), ("t", "a@b", "S"));
        let absent: Config = notification(&Value::Null, "", &json!({})).config_as().unwrap();
        assert_eq!(absent.endpoint(), "https://api.pagerduty.com/incidents");
        let nulls: Config = notification(&json!({"token": null, "apiURL": ""}), "", &json!({})).config_as().unwrap();
        assert_eq!(nulls.endpoint(), "https://api.pagerduty.com/incidents");
        let wrong = notification(&json!({"token": 5}), "", &json!({})).config_as::<Config>().unwrap_err().0;
        assert!(wrong.starts_with("invalid config: token: invalid type: integer `5`"), "{wrong}");
    }

    #[test]
    fn a_bad_block_names_the_field() {
        let n = notification(&json!({}), "P", &json!({"pagerduty": {"urgency": 5}}));
        let err = CreateIncident::new(&n, &Config::default()).unwrap_err().0;
        assert!(err.starts_with("invalid template: pagerduty: urgency: invalid type: integer `5`"), "{err}");
        let n = notification(&json!({}), "P", &json!({"pagerduty": {"title": null}}));
        assert_eq!(CreateIncident::new(&n, &Config::default()).unwrap().incident.title, "");
    }

    #[test]
    fn the_api_url_moves_the_endpoint() {
        let config = Config { api_url: Some("http://127.0.0.1:8080".into()), ..Config::default() };
        let n = notification(&json!({}), "P", &json!({"pagerduty": {"title": "t"}}));
        assert_eq!(CreateIncident::new(&n, &config).unwrap().request(), {
            let call = CreateIncident::new(&n, &config).unwrap();
            Request::post("http://127.0.0.1:8080/incidents")
                .header("Accept", ACCEPT)
                .header("From", "")
                .header("Authorization", "Token token=")
                .header("User-Agent", USER_AGENT)
                .header("Content-Type", "application/json")
                .body(call.body())
        });
    }

    #[test]
    fn error_details_count_the_rest() {
        assert_eq!(errors_detail(&["a".into()]), "a");
        assert_eq!(errors_detail(&["a".into(), "b".into()]), "a (and 1 more error...)");
        assert_eq!(errors_detail(&["a".into(), "b".into(), "c".into(), "d".into()]), "a (and 3 more errors...)");
    }
}
