//! `aviary/awssqs`: Argo notifications-engine's `awssqs` service (`pkg/services/awssqs.go`, over
//! aws-sdk-go-v2's SQS client v1.38.1): looks the queue's URL up, then sends the message to it,
//! both through SQS's JSON protocol, signed with AWS Signature Version 4 in the sandbox.
//!
//! ```yaml
//! # argo-rollouts-notification-configmap
//! service.awssqs: |
//!   region: us-east-2
//!   queue: rollouts
//!   key: $awsaccess_key
//!   secret: $awsaccess_secret
//! template.rollout-completed: |
//!   message: Rollout {{.rollout.metadata.name}} has been completed.
//!   awssqs:
//!     messageGroupId: "{{.rollout.metadata.name}}"   # FIFO queues
//! # a subscription: notifications.argoproj.io/subscribe.on-rollout-completed.awssqs: ""
//! ```
//!
//! # Config (`service.awssqs`)
//!
//! - `queue`: the queue's name; a subscription's recipient, when not empty, names it instead.
//! - `account`: the queue owner's account ID (`QueueOwnerAWSAccountId`), when not empty.
//! - `region`: the region to sign for and whose endpoint to call; required (Argo also reads
//!   `AWS_REGION`/`AWS_DEFAULT_REGION` and the shared config files, which the sandbox does not
//!   have).
//! - `key`, `secret`: the access key (usually `$key`s of the notification secret). Argo falls
//!   back to the SDK's default credential chain (environment, shared files, web identity, EC2
//!   metadata) without them; the sandbox has none of these, so here the credentials are `key` and
//!   `secret`, else the `accessKeyId`, `secretAccessKey` and `sessionToken` the host may add to
//!   the config (as it does for the CloudWatch provider), else the notification fails.
//! - `endpointUrl`: the endpoint (`http://localstack:4566`), else
//!   `https://sqs.<region>.amazonaws.com/` (`.amazonaws.com.cn` in China, the ISO partitions'
//!   suffixes in theirs). Its host must be allowed by the plugin's registry entry.
//! - Any other field is ignored.
//!
//! # The requests
//!
//! As aws-sdk-go-v2 sends them: `POST <endpoint>` with `Content-Type:
//! application/x-amz-json-1.0`, `X-Amz-Target: AmazonSQS.GetQueueUrl` (then
//! `AmazonSQS.SendMessage`), `X-Amzn-Query-Mode: true`, `Amz-Sdk-Invocation-Id` (a random UUID
//! per operation), `Amz-Sdk-Request: attempt=<n>; max=3`, the SDK's `User-Agent`, `X-Amz-Date`
//! and the SigV4 `Authorization` (signed headers `amz-sdk-invocation-id;amz-sdk-request;
//! content-length;content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode`, service `sqs`).
//! The bodies, members sorted, strings escaped as smithy-go escapes them (no HTML escaping,
//! U+2028 and U+2029 as `\u2028`, `\u2029`):
//!
//! 1. `{"QueueName":"<queue or recipient>","QueueOwnerAWSAccountId":"<account>"}`;
//! 2. `{"DelaySeconds":10,"MessageBody":"<message>","MessageGroupId":"<group>","QueueUrl":"<the
//!    answer's QueueUrl>"}` (`MessageGroupId` when the template's `awssqs.messageGroupId` is not
//!    empty). The template's `awssqs.messageAttributes` are not sent, as Argo does not send them.
//!
//! # The answers
//!
//! As the SDK judges them. A 2xx is decoded (SendMessage's `MD5OfMessageBody` is checked against
//! the message: `message checksum validation failed, message <id> has invalid checksum, expected
//! MD5 checksum <sent>, got <md5>`); another status is the SDK's error: `operation error SQS:
//! <operation>, https response error StatusCode: <status>, RequestID: <x-amzn-requestid>, <API
//! error>`, the API error being SQS's modeled one (`QueueDoesNotExist: <message>`, its code that
//! of the `x-amzn-query-error` header when there is one) or `api error <code>: <message>`. A 500,
//! 502, 503 or 504, a throttling code and no response are tried 3 times in all (the SDK's
//! standard retryer; its random waits below 2 s then 4 s, capped at 2 s each here so as to fit the
//! call's deadline),
//! then `exceeded maximum number of attempts, 3, <last error>`. A GetQueueUrl answer without a
//! `QueueUrl` is SendMessage's `1 validation error(s) found.` error, as in Argo.
//!
//! # Not as in Argo
//!
//! - No default credential chain and no region from the environment (see the config).
//! - An empty `region` fails even with an `endpointUrl` (Argo signs for the empty region, which
//!   AWS refuses).
//! - The `User-Agent` is the one Argo Rollouts v1.10.1's SDK sends, built with Go 1.26.

use std::time::{Duration, SystemTime};

use aviary_plugin_sdk::export_notifier;
use aviary_plugin_sdk::gojson::{self, Value as GoValue};
use aviary_plugin_sdk::http::{self, Request, Response};
use aviary_plugin_sdk::notifier::gourl::go_quote;
use aviary_plugin_sdk::notifier::{Error, Notification, Notifier, or_default, template_block};
use aviary_plugin_sdk::sigv4::{self, Credentials, HostCredentials};
use md5::{Digest, Md5};
use serde::Deserialize;

/// The SDK's `User-Agent` (aws-sdk-go-v2 v1.41.4, SQS v1.38.1).
pub const USER_AGENT: &str =
    "aws-sdk-go-v2/1.41.4 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/sqs#1.38.1 m/E,e";
/// The JSON protocol's content type.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// The SDK's attempts per operation.
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest wait between attempts here (the SDK waits a random time below 2 s, then 4 s).
pub const MAX_WAIT: Duration = Duration::from_secs(2);

/// The service's config: `service.awssqs`, as Argo's `AwsSqsOptions`, plus the credentials the
/// host may add.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The queue's name.
    #[serde(deserialize_with = "or_default")]
    pub queue: String,
    /// The queue owner's account ID.
    #[serde(deserialize_with = "or_default")]
    pub account: String,
    /// The region.
    #[serde(deserialize_with = "or_default")]
    pub region: String,
    /// The endpoint; empty: SQS's in `region`.
    #[serde(rename = "endpointUrl", deserialize_with = "or_default")]
    pub endpoint_url: String,
    /// The access key ID.
    #[serde(deserialize_with = "or_default")]
    pub key: String,
    /// The secret access key.
    #[serde(deserialize_with = "or_default")]
    pub secret: String,
    /// Credentials the host may add (`accessKeyId`, `secretAccessKey`, `sessionToken`).
    #[serde(flatten)]
    pub host: HostCredentials,
}

impl Config {
    /// The credentials: `key` and `secret`, else the host's.
    pub fn credentials(&self) -> Option<Credentials> {
        if !self.key.is_empty() && !self.secret.is_empty() {
            return Some(Credentials {
                access_key_id: self.key.clone(),
                secret_access_key: self.secret.clone(),
                session_token: None,
            });
        }
        self.host.credentials()
    }

    /// The endpoint: `endpointUrl`, else SQS's regional one.
    pub fn endpoint(&self) -> String {
        if !self.endpoint_url.is_empty() {
            // The SDK sends an empty path as `/`.
            let rest = self.endpoint_url.split_once("://").map_or(self.endpoint_url.as_str(), |(_, r)| r);
            if rest.contains('/') {
                return self.endpoint_url.clone();
            }
            return format!("{}/", self.endpoint_url);
        }
        let suffix = match self.region.as_str() {
            r if r.starts_with("cn-") => "amazonaws.com.cn",
            r if r.starts_with("us-isob-") => "sc2s.sgov.gov",
            r if r.starts_with("us-isof-") => "csp.hci.ic.gov",
            r if r.starts_with("us-iso-") => "c2s.ic.gov",
            r if r.starts_with("eu-isoe-") => "cloud.adc-e.uk",
            _ => "amazonaws.com",
        };
        format!("https://sqs.{}.{suffix}/", self.region)
    }
}

/// The template's `awssqs` block, as Argo's `AwsSqsNotification` (rendered).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AwsSqsTemplate {
    /// A FIFO queue's message group.
    #[serde(rename = "messageGroupId", deserialize_with = "or_default")]
    pub message_group_id: String,
    /// Rendered by Argo and never sent; accepted and ignored here too.
    #[serde(rename = "messageAttributes")]
    pub message_attributes: Option<serde_json::Value>,
}

/// A string as smithy-go's JSON encoder writes it.
pub fn smithy_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON object of string members (and raw ones), in the order given.
fn object(members: &[(&str, Member<'_>)]) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        smithy_string(&mut out, name);
        out.push(':');
        match value {
            Member::Str(s) => smithy_string(&mut out, s),
            Member::Raw(r) => out.push_str(r),
        }
    }
    out.push('}');
    out
}

enum Member<'a> {
    Str(&'a str),
    Raw(&'a str),
}

/// GetQueueUrl's body.
pub fn get_queue_url_body(config: &Config, recipient: &str) -> String {
    let name = if recipient.is_empty() { &config.queue } else { recipient };
    let mut members = vec![("QueueName", Member::Str(name))];
    if !config.account.is_empty() {
        members.push(("QueueOwnerAWSAccountId", Member::Str(&config.account)));
    }
    object(&members)
}

/// SendMessage's body.
pub fn send_message_body(queue_url: &str, message: &str, group: &str) -> String {
    let mut members = vec![("DelaySeconds", Member::Raw("10")), ("MessageBody", Member::Str(message))];
    if !group.is_empty() {
        members.push(("MessageGroupId", Member::Str(group)));
    }
    members.push(("QueueUrl", Member::Str(queue_url)));
    object(&members)
}

/// One HTTP call, before it is sent: what the tests compare with Argo's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The URL.
    pub url: String,
    /// The headers, in the order they are set.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Call {
    /// The HTTP request (always a `POST`).
    pub fn request(&self) -> Request {
        let mut request = Request::post(self.url.clone());
        for (name, value) in &self.headers {
            request = request.header(name.clone(), value.clone());
        }
        request.body(self.body.clone().into_bytes())
    }
}

/// The signed call of `operation` with `body`, attempt `attempt`, at `at`.
#[allow(clippy::too_many_arguments)]
pub fn signed_call(
    config: &Config,
    credentials: &Credentials,
    operation: &str,
    invocation_id: &str,
    attempt: u32,
    body: &str,
    at: SystemTime,
) -> Result<Call, Error> {
    let url = config.endpoint();
    let headers = vec![
        ("Amz-Sdk-Invocation-Id".to_string(), invocation_id.to_string()),
        ("Amz-Sdk-Request".to_string(), format!("attempt={attempt}; max={MAX_ATTEMPTS}")),
        ("Content-Type".to_string(), CONTENT_TYPE.to_string()),
        ("X-Amz-Target".to_string(), format!("AmazonSQS.{operation}")),
        ("X-Amzn-Query-Mode".to_string(), "true".to_string()),
    ];
    // The SDK signs the body's length too; the host sends it as `Content-Length`.
    let mut to_sign = headers.clone();
    to_sign.push(("Content-Length".to_string(), body.len().to_string()));
    let request = sigv4::Request { method: "POST", url: &url, headers: &to_sign, body: body.as_bytes() };
    let signed = sigv4::sign(credentials, &config.region, "sqs", &request, at).map_err(Error::msg)?;
    let mut all = headers;
    all.push(("User-Agent".to_string(), USER_AGENT.to_string()));
    all.extend(signed.headers);
    Ok(Call { url, headers: all, body: body.to_string() })
}

/// Go's `%T` of a value decoded into `interface{}` with `UseNumber`.
fn go_type_of(value: &GoValue) -> &'static str {
    match value {
        GoValue::Null => "<nil>",
        GoValue::Bool(_) => "bool",
        GoValue::Number(_) => "json.Number",
        GoValue::String(_) => "string",
        GoValue::Array(_) => "[]interface {}",
        GoValue::Object(_) => "map[string]interface {}",
    }
}

/// The SQS errors each operation models (an answer with another code is a generic API error).
fn modeled(operation: &str) -> &'static [&'static str] {
    match operation {
        "GetQueueUrl" => {
            &["InvalidAddress", "InvalidSecurity", "QueueDoesNotExist", "RequestThrottled", "UnsupportedOperation"]
        }
        _ => &[
            "InvalidAddress",
            "InvalidMessageContents",
            "InvalidSecurity",
            "KmsAccessDenied",
            "KmsDisabled",
            "KmsInvalidKeyUsage",
            "KmsInvalidState",
            "KmsNotFound",
            "KmsOptInRequired",
            "KmsThrottled",
            "QueueDoesNotExist",
            "RequestThrottled",
            "UnsupportedOperation",
        ],
    }
}

/// The API error codes the SDK's standard retryer retries (throttling and transient).
const RETRYABLE_CODES: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// An operation's failed attempt: its text (what follows `operation error SQS: <op>, `) and
/// whether the retryer tries again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The error's text.
    pub text: String,
    /// Whether the SDK retries after it.
    pub retryable: bool,
}

/// The request ID of an answer.
fn request_id(response: &Response) -> &str {
    response.header("x-amzn-requestid").or_else(|| response.header("x-amz-requestid")).unwrap_or("")
}

/// The SDK's `https response error` text around `inner`.
fn response_error(response: &Response, inner: &str) -> String {
    format!("https response error StatusCode: {}, RequestID: {}, {inner}", response.status, request_id(response))
}

/// The SDK's error for a non-2xx answer to `operation`: the `awsAwsjson10_deserializeOpError`
/// of the operation.
pub fn api_error(operation: &str, response: &Response) -> Failure {
    let deserialization = |e: String| Failure {
        text: response_error(response, &format!("deserialization failed, failed to decode response body, {e}")),
        retryable: false,
    };
    let body = match gojson::decode_stream(&response.body) {
        Ok(body) => body,
        Err(e) => return deserialization(e),
    };
    // protocolErrorInfo: `__type` and `Message` strings, `Code` anything; keys matched as Go does.
    let (mut kind, mut message, mut code) = (String::new(), String::new(), None::<String>);
    let mut type_error = None;
    match &body {
        None | Some(GoValue::Null) => {}
        Some(GoValue::Object(members)) => {
            for (k, v) in members {
                let field = if k.eq_ignore_ascii_case("__type") {
                    "__type"
                } else if k.eq_ignore_ascii_case("message") {
                    "Message"
                } else if k.eq_ignore_ascii_case("code") {
                    code = match v {
                        GoValue::String(s) => Some(s.clone()),
                        GoValue::Null => code,
                        _ => None,
                    };
                    continue;
                } else {
                    continue;
                };
                match v {
                    GoValue::String(s) if field == "__type" => kind = s.clone(),
                    GoValue::String(s) => message = s.clone(),
                    GoValue::Null => {}
                    other => {
                        type_error.get_or_insert(format!(
                            "json: cannot unmarshal {} into Go struct field protocolErrorInfo.{field} of type string",
                            other.kind()
                        ));
                    }
                }
            }
        }
        Some(other) => {
            type_error.get_or_insert(format!(
                "json: cannot unmarshal {} into Go value of type sqs.protocolErrorInfo",
                other.kind()
            ));
        }
    }
    if let Some(e) = type_error {
        return deserialization(e);
    }
    let header_type = response.header("x-amzn-errortype").unwrap_or("");
    let mut error_code = "UnknownError".to_string();
    let resolved = if !header_type.is_empty() {
        Some(header_type.to_string())
    } else if !kind.is_empty() {
        Some(kind)
    } else {
        code.filter(|c| !c.is_empty())
    };
    if let Some(t) = resolved {
        error_code = sanitize_error_code(&t);
    }
    let query_code = response.header("x-amzn-query-error").and_then(|h| {
        let parts: Vec<&str> = h.split(';').collect();
        (parts.len() == 2).then(|| parts[0].to_string())
    });
    let (code, text) = match modeled(operation).iter().find(|m| m.eq_ignore_ascii_case(&error_code)) {
        Some(name) => {
            // The modeled error reads `message` or `Message`, a string.
            let mut modeled_message = String::new();
            if let Some(GoValue::Object(members)) = &body {
                for (k, v) in members {
                    if k == "message" || k == "Message" {
                        match v {
                            GoValue::String(s) => modeled_message = s.clone(),
                            GoValue::Null => {}
                            other => {
                                return deserialization(format!(
                                    "expected ExceptionMessage to be of type string, got {} instead",
                                    go_type_of(other)
                                ));
                            }
                        }
                    }
                }
            }
            let code = query_code.unwrap_or_else(|| name.to_string());
            (code.clone(), format!("{code}: {modeled_message}"))
        }
        None => {
            let code = query_code.unwrap_or(error_code);
            let message = if message.is_empty() { "UnknownError".to_string() } else { message };
            (code.clone(), format!("api error {code}: {message}"))
        }
    };
    let retryable = matches!(response.status, 500 | 502 | 503 | 504) || RETRYABLE_CODES.contains(&code.as_str());
    Failure { text: response_error(response, &text), retryable }
}

/// restjson's `SanitizeErrorCode`: `prefix#Code:suffix` is `Code`.
fn sanitize_error_code(code: &str) -> String {
    let code = code.split(':').next().unwrap_or_default();
    match code.split_once('#') {
        Some((_, rest)) => rest.to_string(),
        None => code.to_string(),
    }
}

/// The string members of a 2xx answer's object that the SDK reads as strings (`keys`), or its
/// deserialization error.
fn output_strings(response: &Response, keys: &[&str]) -> Result<Vec<Option<String>>, Failure> {
    let fail = |e: String| Failure {
        text: response_error(response, &format!("deserialization failed, failed to decode response body, {e}")),
        retryable: false,
    };
    let mut out = vec![None; keys.len()];
    match gojson::decode_stream(&response.body).map_err(fail)? {
        None | Some(GoValue::Null) => {}
        Some(GoValue::Object(members)) => {
            for (k, v) in members {
                if let Some(i) = keys.iter().position(|key| *key == k.as_str()) {
                    match v {
                        GoValue::String(s) => out[i] = Some(s.clone()),
                        GoValue::Null => {}
                        other => {
                            return Err(fail(format!(
                                "expected String to be of type string, got {} instead",
                                go_type_of(&other)
                            )));
                        }
                    }
                }
            }
        }
        Some(other) => {
            let text = gojson::to_string(&other);
            return Err(fail(format!("unexpected JSON type {text}")));
        }
    }
    Ok(out)
}

/// What the notification needs from the world: the network, the clock, randomness and sleep.
/// Passed in so that tests run the service natively.
pub trait Runtime {
    /// Sends one call.
    fn send(&mut self, call: &Call) -> Result<Response, http::Error>;
    /// The time to sign an attempt with.
    fn now(&mut self) -> SystemTime;
    /// A new operation's `Amz-Sdk-Invocation-Id`.
    fn invocation_id(&mut self) -> String;
    /// A random number in `[0, 1)`, for the retry waits' jitter.
    fn random(&mut self) -> f64;
    /// Waits.
    fn sleep(&mut self, duration: Duration);
}

/// One operation with the SDK's standard retries: its 2xx answer, or the error text that follows
/// `operation error SQS: <operation>, `.
fn operation(
    runtime: &mut dyn Runtime,
    config: &Config,
    credentials: &Credentials,
    name: &str,
    body: &str,
) -> Result<Response, String> {
    let id = runtime.invocation_id();
    let mut attempt = 1;
    loop {
        let call = signed_call(config, credentials, name, &id, attempt, body, runtime.now()).map_err(|e| e.0)?;
        let failure = match runtime.send(&call) {
            Ok(response) if (200..300).contains(&response.status) => return Ok(response),
            Ok(response) => api_error(name, &response),
            Err(e) => Failure {
                text: format!(
                    "https response error StatusCode: 0, RequestID: , request send failed, Post {}: {e}",
                    go_quote(&call.url)
                ),
                retryable: !matches!(e, http::Error::DeniedHost(_) | http::Error::TooLarge(_)),
            },
        };
        if !failure.retryable {
            return Err(failure.text);
        }
        if attempt >= MAX_ATTEMPTS {
            return Err(format!("exceeded maximum number of attempts, {MAX_ATTEMPTS}, {}", failure.text));
        }
        // The SDK's ExponentialJitterBackoff: random below 2^attempt seconds (capped here).
        let wait = Duration::from_secs_f64(runtime.random() * f64::from(1u32 << attempt)).min(MAX_WAIT);
        runtime.sleep(wait);
        attempt += 1;
    }
}

/// MD5 in hex, as the SDK checks a sent message.
pub fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Sends `notification` as Argo's `Send` does: GetQueueUrl, then SendMessage.
pub fn deliver(notification: &Notification, config: &Config, runtime: &mut dyn Runtime) -> Result<(), Error> {
    let op_error = |op: &str, text: String| Error(format!("operation error SQS: {op}, {text}"));
    let block: Option<AwsSqsTemplate> = template_block(notification, "awssqs")?;
    let Some(credentials) = config.credentials() else {
        return Err(op_error(
            "GetQueueUrl",
            "get identity: get credentials: no credentials: the config has no key and secret (the sandbox has no \
             default credential chain)"
                .to_string(),
        ));
    };
    if config.region.is_empty() {
        return Err(op_error(
            "GetQueueUrl",
            "failed to resolve service endpoint, endpoint rule error, Invalid Configuration: Missing Region"
                .to_string(),
        ));
    }
    let body = get_queue_url_body(config, &notification.recipient);
    let answer =
        operation(runtime, config, &credentials, "GetQueueUrl", &body).map_err(|e| op_error("GetQueueUrl", e))?;
    let queue_url = output_strings(&answer, &["QueueUrl"]).map_err(|f| op_error("GetQueueUrl", f.text))?.remove(0);
    let Some(queue_url) = queue_url else {
        return Err(op_error(
            "SendMessage",
            "1 validation error(s) found.\n- missing required field, SendMessageInput.QueueUrl.\n".to_string(),
        ));
    };
    let group = block.map(|b| b.message_group_id).unwrap_or_default();
    let message = notification.message();
    let body = send_message_body(&queue_url, message, &group);
    let answer =
        operation(runtime, config, &credentials, "SendMessage", &body).map_err(|e| op_error("SendMessage", e))?;
    let fields = output_strings(
        &answer,
        &["MD5OfMessageBody", "MessageId", "MD5OfMessageAttributes", "MD5OfMessageSystemAttributes", "SequenceNumber"],
    )
    .map_err(|f| op_error("SendMessage", f.text))?;
    if let Some(expected) = &fields[0] {
        let got = md5_hex(message);
        if *expected != got {
            return Err(op_error(
                "SendMessage",
                format!(
                    "message checksum validation failed, message {} has invalid checksum, expected MD5 checksum {expected}, got {got}",
                    fields[1].clone().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(())
}

/// The component's runtime: the host's HTTP, the WASI clock, std's randomness.
struct Host {
    counter: u64,
}

impl Host {
    fn random_u64(&mut self) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        self.counter += 1;
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(self.counter);
        h.finish()
    }
}

impl Runtime for Host {
    fn send(&mut self, call: &Call) -> Result<Response, http::Error> {
        call.request().send()
    }

    fn now(&mut self) -> SystemTime {
        SystemTime::now()
    }

    fn invocation_id(&mut self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.random_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.random_u64().to_le_bytes());
        uuid_v4(bytes)
    }

    fn random(&mut self) -> f64 {
        (self.random_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A version 4 UUID of 16 random bytes, as the SDK writes it.
pub fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The service.
pub struct AwsSqs;

impl Notifier for AwsSqs {
    fn send(notification: Notification) -> Result<(), Error> {
        let config: Config = notification.config_as()?;
        deliver(&notification, &config, &mut Host { counter: 0 })
    }
}

export_notifier!(AwsSqs);

#[cfg(test)]
mod tests;
