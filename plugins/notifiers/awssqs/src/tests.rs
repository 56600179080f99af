//! The service against Argo's recordings (`testdata/cases.json`, `testdata/golden.json`: Argo's
//! `awssqs` service run by `plugins/notifiers/pagerduty/schema/golden` against a loopback server
//! named by `endpointUrl`), signatures included, and unit tests.

use super::*;
use serde_json::{Value, json};

/// The stand-in server's URL in the tests; the recordings name it `SERVER`.
const SERVER: &str = "http://127.0.0.1:9";

fn golden() -> Vec<(Value, Value)> {
    let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/cases.json")).unwrap();
    let golden: Vec<Value> = serde_json::from_str(include_str!("testdata/golden.json")).unwrap();
    assert_eq!(cases.len(), golden.len());
    cases.into_iter().zip(golden).collect()
}

fn notification(config: &Value, recipient: &str, template: &Value, server: &str) -> Notification {
    let config = serde_json::from_str(&config.to_string().replace("SERVER", server)).unwrap();
    Notification::new("awssqs", "awssqs").with_config(config).with_template(template.clone()).with_recipient(recipient)
}

/// `20261203T043633Z` as a time.
fn amz_time(text: &str) -> SystemTime {
    let n = |r: std::ops::Range<usize>| text[r].parse::<u64>().unwrap();
    let (y, m, d) = (n(0..4) as i64, n(4..6) as i64, n(6..8) as i64);
    let (yy, mm) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + (153 * mm + 2) / 5 + d - 1;
    let days = (era * 146_097 + doe - 719_468) as u64;
    SystemTime::UNIX_EPOCH + Duration::from_secs(days * 86_400 + n(9..11) * 3600 + n(11..13) * 60 + n(13..15))
}

/// Plays Argo's recorded run back: its clock and invocation IDs, its server's scripted answers.
struct Replay {
    server: String,
    recorded: Vec<Value>,
    answers: Vec<Value>,
    used: Vec<bool>,
    seen: Vec<Call>,
    clock: usize,
    down: bool,
    waits: Vec<Duration>,
}

impl Runtime for Replay {
    fn send(&mut self, call: &Call) -> Result<Response, http::Error> {
        self.seen.push(call.clone());
        if self.down {
            return Err(http::Error::Transport("connection refused".into()));
        }
        let path = call.url.strip_prefix(self.server.as_str()).unwrap();
        let mut pick = None;
        for (i, a) in self.answers.iter().enumerate() {
            if a["path"] == path {
                pick = Some(i);
                if !self.used[i] {
                    break;
                }
            }
        }
        let i = pick.expect("a scripted answer");
        self.used[i] = true;
        let a = &self.answers[i];
        let mut headers = vec![("content-type".to_string(), a["contentType"].as_str().unwrap().to_string())];
        for (k, v) in a["headers"].as_object().into_iter().flatten() {
            headers.push((k.to_ascii_lowercase(), v.as_str().unwrap().to_string()));
        }
        Ok(Response {
            status: a["status"].as_u64().unwrap() as u16,
            headers,
            body: a["body"].as_str().unwrap().as_bytes().to_vec(),
        })
    }

    fn now(&mut self) -> SystemTime {
        let at =
            self.recorded.get(self.clock).map_or("20261203T043633Z", |r| r["headers"]["X-Amz-Date"].as_str().unwrap());
        self.clock += 1;
        amz_time(at)
    }

    fn invocation_id(&mut self) -> String {
        self.recorded
            .get(self.clock)
            .map_or("00000000-0000-4000-8000-000000000000", |r| r["headers"]["Amz-Sdk-Invocation-Id"].as_str().unwrap())
            .to_string()
    }

    fn random(&mut self) -> f64 {
        0.5
    }

    fn sleep(&mut self, duration: Duration) {
        self.waits.push(duration);
    }
}

#[test]
fn requests_signatures_and_errors_are_argos() {
    let mut checked = 0;
    for (case, argo) in golden() {
        let name = case["name"].as_str().unwrap();
        // The signatures cover the server's address: Argo's own.
        let server = argo["server"].as_str().unwrap();
        let n = notification(&case["config"], case["recipient"].as_str().unwrap(), &case["template"], server);
        let config: Config = n.config_as().unwrap();
        let recorded = argo["requests"].as_array().cloned().unwrap_or_default();
        let answers = case["responses"].as_array().cloned().unwrap_or_default();
        let mut replay = Replay {
            server: server.to_string(),
            recorded: recorded.clone(),
            used: vec![false; answers.len()],
            answers,
            seen: Vec::new(),
            clock: 0,
            down: case["down"] == true,
            waits: Vec::new(),
        };
        let got = deliver(&n, &config, &mut replay).err().map(|e| e.0);
        let error = argo["error"].as_str().map(|e| e.replace("SERVER", server));
        match name {
            "down" => {
                let prefix = format!(
                    "operation error SQS: GetQueueUrl, exceeded maximum number of attempts, 3, https response error StatusCode: 0, RequestID: , request send failed, Post \"{server}/\": "
                );
                assert!(got.unwrap().starts_with(&prefix) && error.unwrap().starts_with(&prefix), "{name}");
                assert_eq!(replay.seen.len(), 3, "{name}: three attempts");
                assert_eq!(replay.waits, vec![Duration::from_secs(1), Duration::from_secs(2)], "{name}");
            }
            "no credentials" => {
                // Argo asks the SDK's default chain (here EC2 metadata); the sandbox has none.
                let prefix = "operation error SQS: GetQueueUrl, get identity: get credentials: ";
                assert!(got.unwrap().starts_with(prefix) && error.unwrap().starts_with(prefix), "{name}");
            }
            "no region" => {
                // Argo signs for the empty region (which AWS refuses); here it is an error.
                assert_eq!(
                    got.unwrap(),
                    "operation error SQS: GetQueueUrl, failed to resolve service endpoint, endpoint rule error, Invalid Configuration: Missing Region"
                );
                assert!(replay.seen.is_empty());
            }
            _ => {
                assert_eq!(got, error, "{name}");
                assert_eq!(replay.seen.len(), recorded.len(), "{name}");
                for (call, r) in replay.seen.iter().zip(&recorded) {
                    assert_eq!(r["method"], "POST", "{name}");
                    assert_eq!(call.url, format!("{server}{}", r["uri"].as_str().unwrap()), "{name}");
                    assert_eq!(call.body, r["body"].as_str().unwrap(), "{name}");
                    let theirs = r["headers"].as_object().unwrap();
                    assert_eq!(call.headers.len(), theirs.len(), "{name}: {:?}", call.headers);
                    for (k, v) in &call.headers {
                        assert_eq!(theirs.get(k).and_then(Value::as_str), Some(v.as_str()), "{name}: header {k}");
                    }
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 16);
}

#[test]
fn endpoints_default_to_the_regions() {
    let config = |region: &str| Config { region: region.into(), ..Config::default() };
    assert_eq!(config("eu-west-1").endpoint(), "https://sqs.eu-west-1.amazonaws.com/");
    assert_eq!(config("cn-north-1").endpoint(), "https://sqs.cn-north-1.amazonaws.com.cn/");
    assert_eq!(config("us-iso-east-1").endpoint(), "https://sqs.us-iso-east-1.c2s.ic.gov/");
    let custom = Config { endpoint_url: "http://localstack:4566".into(), ..config("eu-west-1") };
    assert_eq!(custom.endpoint(), "http://localstack:4566/");
    let custom = Config { endpoint_url: "http://localstack:4566/sqs".into(), ..config("eu-west-1") };
    assert_eq!(custom.endpoint(), "http://localstack:4566/sqs");
}

#[test]
fn credentials_come_from_the_config_then_the_host() {
    let n = notification(
        &json!({"key": "K", "secret": "S", "accessKeyId": "H", "secretAccessKey": "HS"}),
        "",
        &json!({}),
        SERVER,
    );
    let config: Config = n.config_as().unwrap();
    assert_eq!(config.credentials().unwrap().access_key_id, "K");
    let n = notification(
        &json!({"accessKeyId": "H", "secretAccessKey": "HS", "sessionToken": "T"}),
        "",
        &json!({}),
        SERVER,
    );
    let config: Config = n.config_as().unwrap();
    let credentials = config.credentials().unwrap();
    assert_eq!((credentials.access_key_id.as_str(), credentials.session_token.as_deref()), ("H", Some("T")));
    assert!(Config::default().credentials().is_none());
}

#[test]
fn strings_are_escaped_as_smithy_does() {
    let mut s = String::new();
    smithy_string(&mut s, "a<b>&\"\\\n\u{1}\u{8}\u{2029}é");
    assert_eq!(s, r#""a<b>&\"\\\n\u0001\u0008\u2029é""#);
    assert_eq!(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(uuid_v4([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
}

#[test]
fn throttling_is_retried() {
    let response = |status, body: &str| Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() };
    let throttled =
        api_error("SendMessage", &response(400, r#"{"__type":"com.amazonaws.sqs#RequestThrottled","message":"slow"}"#));
    assert_eq!(throttled.text, "https response error StatusCode: 400, RequestID: , RequestThrottled: slow");
    assert!(throttled.retryable);
    let empty = api_error("GetQueueUrl", &response(400, ""));
    assert_eq!(empty.text, "https response error StatusCode: 400, RequestID: , api error UnknownError: UnknownError");
    assert!(!empty.retryable);
    let bad = api_error("GetQueueUrl", &response(400, r#"{"__type":5}"#));
    assert_eq!(
        bad.text,
        "https response error StatusCode: 400, RequestID: , deserialization failed, failed to decode response body, json: cannot unmarshal number into Go struct field protocolErrorInfo.__type of type string"
    );
}
