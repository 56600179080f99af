//! The service against Argo's recordings (`testdata/cases.json`, `testdata/golden.json`:
//! Argo's `github` service run by `plugins/notifiers/pagerduty/schema/golden` against a loopback
//! server standing in for a GitHub Enterprise server), and unit tests.

use super::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::sha2::Sha256;
use rsa::signature::Verifier;
use serde_json::json;

/// The stand-in server's URL in the tests; the recordings name it `SERVER`.
const SERVER: &str = "http://127.0.0.1:9";
/// The tests' clock.
const NOW: i64 = 1_796_271_967;

fn golden() -> Vec<(Value, Value)> {
    let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/cases.json")).unwrap();
    let golden: Vec<Value> = serde_json::from_str(include_str!("testdata/golden.json")).unwrap();
    assert_eq!(cases.len(), golden.len());
    cases.into_iter().zip(golden).collect()
}

fn notification(config: &Value, template: &Value) -> Notification {
    let text = config.to_string().replace("HOSTPORT", SERVER.trim_start_matches("http://"));
    let config = serde_json::from_str(&text.replace("SERVER", SERVER)).unwrap();
    Notification::new("github", "github").with_config(config).with_template(template.clone()).with_recipient("ignored")
}

/// The claims of a JWT signed by the test App's key (the signature checked).
fn verified_claims(jwt: &str) -> Value {
    let public = RsaPublicKey::from_public_key_pem(include_str!("testdata/app-key.pub.pem")).unwrap();
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let signature = Signature::try_from(URL_SAFE_NO_PAD.decode(signature).unwrap().as_slice()).unwrap();
    VerifyingKey::<Sha256>::new(public).verify(input.as_bytes(), &signature).unwrap();
    let (header, claims) = input.split_once('.').unwrap();
    assert_eq!(URL_SAFE_NO_PAD.decode(header).unwrap(), jwt::HEADER.as_bytes());
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    let value: Value = serde_json::from_str(&claims).unwrap();
    // golang-jwt's order: iss, exp, iat.
    assert_eq!(claims, format!(r#"{{"iss":{},"exp":{},"iat":{}}}"#, value["iss"], value["exp"], value["iat"]));
    value
}

fn percent_decode(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&path[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The recording server's choice of answer: the first unused one for the method and path, else
/// the last used, else `200 {}`.
struct Server {
    answers: Vec<Value>,
    used: Vec<bool>,
    seen: Vec<Call>,
}

impl Server {
    fn new(case: &Value) -> Server {
        let answers = case["responses"].as_array().cloned().unwrap_or_default();
        Server { used: vec![false; answers.len()], answers, seen: Vec::new() }
    }

    fn answer(&mut self, call: &Call) -> Response {
        self.seen.push(call.clone());
        let path = call.url.strip_prefix(SERVER).unwrap();
        let path = percent_decode(path.split('?').next().unwrap());
        let mut pick = None;
        for (i, a) in self.answers.iter().enumerate() {
            if a["method"] == call.method.as_str() && a["path"] == path.as_str() {
                pick = Some(i);
                if !self.used[i] {
                    break;
                }
            }
        }
        let Some(i) = pick else {
            return Response { status: 200, headers: Vec::new(), body: b"{}".to_vec() };
        };
        self.used[i] = true;
        let a = &self.answers[i];
        let mut headers = vec![("content-type".to_string(), a["contentType"].as_str().unwrap_or_default().to_string())];
        for (k, v) in a["headers"].as_object().into_iter().flatten() {
            headers.push((k.to_ascii_lowercase(), v.as_str().unwrap().to_string()));
        }
        Response {
            status: a["status"].as_u64().unwrap() as u16,
            headers,
            body: a["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
        }
    }
}

/// Compares a call with the request Argo sent: method, URL, body, headers (values of a repeated
/// name joined by a newline, as recorded); a JWT is compared by its verified claims.
fn assert_same(name: &str, call: &Call, recorded: &Value, app_id: i64) {
    assert_eq!(call.method, recorded["method"].as_str().unwrap(), "{name}");
    assert_eq!(call.url, format!("{SERVER}{}", recorded["uri"].as_str().unwrap()), "{name}");
    assert_eq!(call.body.clone().unwrap_or_default(), recorded["body"].as_str().unwrap(), "{name}: {}", call.url);
    let mut ours: Vec<(String, String)> = Vec::new();
    for (k, v) in &call.headers {
        match ours.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = format!("{}\n{v}", slot.1),
            None => ours.push((k.clone(), v.clone())),
        }
    }
    let theirs = recorded["headers"].as_object().unwrap();
    for (k, v) in theirs {
        let v = v.as_str().unwrap();
        if k == "User-Agent" && v == "Go-http-client/1.1" {
            continue;
        }
        let mine = ours.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if k == "Authorization" && v.starts_with("Bearer ") {
            let (argo, guest) = (verified_claims(&v[7..]), verified_claims(&mine.unwrap()[7..]));
            assert_eq!(argo["iss"], app_id.to_string(), "{name}");
            assert_eq!(argo["exp"].as_i64().unwrap() - argo["iat"].as_i64().unwrap(), 120, "{name}");
            assert_eq!(guest, json!({"iss": app_id.to_string(), "exp": NOW - 30 + 120, "iat": NOW - 30}), "{name}");
            continue;
        }
        assert_eq!(mine, Some(v), "{name}: header {k}");
    }
    for (k, _) in &ours {
        assert!(theirs.contains_key(k), "{name}: we send {k}, Argo does not");
    }
}

#[test]
fn requests_and_errors_are_argos() {
    let mut checked = 0;
    for (case, argo) in golden() {
        let name = case["name"].as_str().unwrap();
        if case.get("vars").is_some() {
            // Argo CD's variables (`app`): a Rollout has none, see `defaults_render_as_no_value`.
            continue;
        }
        let n = notification(&case["config"], &case["template"]);
        let config: Config = n.config_as().unwrap();
        let mut server = Server::new(&case);
        let down = case["down"] == true;
        let result = deliver(&n, &config, NOW, |call| {
            if down {
                server.seen.push(call.clone());
                return Err(http::Error::Transport("connection refused".into()));
            }
            Ok(server.answer(call))
        });
        let error = argo["error"].as_str().map(|e| e.trim_start_matches("NewService: ").replace("SERVER", SERVER));
        let got = result.err().map(|e| e.0);
        if down {
            let prefix = "could not get access_tokens from GitHub API for installation ID 5: ";
            let (ours, theirs) = (got.unwrap(), error.unwrap());
            assert_eq!(ours.split_once(prefix).unwrap().0, theirs.split_once(prefix).unwrap().0, "{name}");
            checked += 1;
            continue;
        }
        assert_eq!(got, error, "{name}");
        let recorded = argo["requests"].as_array().cloned().unwrap_or_default();
        assert_eq!(server.seen.len(), recorded.len(), "{name}: {:#?}", server.seen);
        let app_id = cast_int64(&config.app_id).unwrap_or(0);
        for (call, recorded) in server.seen.iter().zip(&recorded) {
            assert_same(name, call, recorded, app_id);
        }
        checked += 1;
    }
    assert_eq!(checked, 60);
}

#[test]
fn defaults_render_as_no_value() {
    let (case, _) = golden().into_iter().find(|(c, _)| c["name"] == "default paths with app").unwrap();
    let n = notification(&case["config"], &case["template"]);
    let config: Config = n.config_as().unwrap();
    let err = deliver(&n, &config, NOW, |_| panic!("no request")).unwrap_err().0;
    assert_eq!(err, "GitHub.repoURL (<no value>) does not have a `/`");
    // With the paths rendered, as a Rollout's template writes them, the request is Argo's.
    let mut template = case["template"].clone();
    template["github"]["repoURLPath"] = json!("https://github.com/argoproj/argo-rollouts.git");
    template["github"]["revisionPath"] = json!("0123abcd");
    let n = notification(&case["config"], &template);
    let mut server = Server::new(&case);
    deliver(&n, &config, NOW, |call| Ok(server.answer(call))).unwrap();
    assert_eq!(server.seen.len(), 2);
    assert_eq!(server.seen[1].url, format!("{SERVER}/api/v3/repos/argoproj/argo-rollouts/statuses/0123abcd"));
}

#[test]
fn repository_names_are_argos() {
    let cases = [
        ("https://github.com/argoproj/argo-rollouts.git", "argoproj/argo-rollouts"),
        ("git@github.com:argoproj/argo-rollouts.git", "argoproj/argo-rollouts"),
        ("git@github.com:argoproj/argo-rollouts.git?x=1", "argoproj/argo-rollouts"),
        ("ssh://git@github.com/argoproj/argo-rollouts", "argoproj/argo-rollouts"),
        ("argoproj/argo-rollouts", "argoproj/argo-rollouts"),
        ("https://github.com/argoproj", "/argoproj"),
        ("<no value>", "<no value>"),
        ("", ""),
    ];
    for (url, full) in cases {
        assert_eq!(full_name_by_repo_url(url), full, "{url}");
    }
    assert_eq!(owner_repo("https://github.com/argoproj").unwrap(), (String::new(), "argoproj".to_string()));
}

#[test]
fn ids_are_cast_as_spf13_cast_does() {
    assert_eq!(cast_int64(&json!(12345)), Ok(12345));
    assert_eq!(cast_int64(&json!(12.9)), Ok(12));
    assert_eq!(cast_int64(&json!("12.00")), Ok(12));
    assert_eq!(cast_int64(&json!("0x1f")), Ok(31));
    assert_eq!(cast_int64(&json!("010")), Ok(8));
    assert_eq!(cast_int64(&json!("-5")), Ok(-5));
    assert_eq!(cast_int64(&json!(null)), Ok(0));
    assert_eq!(cast_int64(&json!(true)), Ok(1));
    assert_eq!(cast_int64(&json!("12.5")).unwrap_err().0, r#"unable to cast "12.5" of type string to int64"#);
    assert_eq!(cast_int64(&json!("")).unwrap_err().0, r#"unable to cast "" of type string to int64"#);
}

#[test]
fn enterprise_urls_are_go_githubs() {
    let base = |u: &str| enterprise_api_base(u).unwrap().to_string();
    assert_eq!(base("https://ghe.example.com"), "https://ghe.example.com/api/v3/");
    assert_eq!(base("https://ghe.example.com/api/v3"), "https://ghe.example.com/api/v3/");
    assert_eq!(base("https://api.ghe.example.com"), "https://api.ghe.example.com/");
    assert_eq!(base("https://x.api.example.com/"), "https://x.api.example.com/");
    let config = Config {
        app_id: json!(1),
        installation_id: json!(2),
        private_key: golden()[0].0["config"]["privateKey"].as_str().unwrap().to_string(),
        ..Config::default()
    };
    let app = App::new(&config).unwrap();
    assert_eq!(app.token_url, "https://api.github.com/app/installations/2/access_tokens");
    assert_eq!(app.api_base.to_string(), "https://api.github.com/");
}

#[test]
fn messages_are_cut_as_argo_cuts_them() {
    assert_eq!(trunc("abc", 3), "abc");
    assert_eq!(trunc("abcd", 3), "...");
    assert_eq!(trunc(&"é".repeat(141), 140), format!("{}...", "é".repeat(137)));
}

#[test]
fn payloads_are_compacted_as_go_does() {
    assert_eq!(compact("{ \"a\" : [1, 2.50],\n \"b\": \" x \" }").unwrap(), r#"{"a":[1,2.50],"b":" x "}"#);
    assert_eq!(compact("").unwrap_err(), "unexpected end of JSON input");
    assert_eq!(compact(r#""a\" b""#).unwrap(), r#""a\" b""#);
}

#[test]
fn rate_limits_are_named_as_go_github_names_them() {
    assert_eq!(format_rate_reset(65), "[rate reset in 1m05s]");
    assert_eq!(format_rate_reset(-5), "[rate limit was reset 5s ago]");
    let response = Response {
        status: 403,
        headers: vec![
            ("x-ratelimit-remaining".into(), "0".into()),
            ("x-ratelimit-reset".into(), (NOW + 30).to_string()),
        ],
        body: br#"{"message":"API rate limit exceeded"}"#.to_vec(),
    };
    assert_eq!(
        check_response("POST", "https://api.github.com/x", &response, NOW),
        ApiError::Other("POST https://api.github.com/x: 403 API rate limit exceeded [rate reset in 30s]".into())
    );
    let redirect = Response { status: 301, headers: vec![("location".into(), "https://x/y".into())], body: Vec::new() };
    assert_eq!(
        check_response("GET", "https://api.github.com/x", &redirect, NOW),
        ApiError::Other("GET https://api.github.com/x: 301 location https://x/y".into())
    );
}

#[test]
fn a_bad_block_names_the_field() {
    let (case, _) = golden().into_iter().next().unwrap();
    let n = notification(&case["config"], &json!({"github": {"status": {"state": 5}}}));
    let config: Config = n.config_as().unwrap();
    let err = deliver(&n, &config, NOW, |_| panic!("no request")).unwrap_err().0;
    assert!(err.starts_with("invalid template: github: status.state: invalid type: integer `5`"), "{err}");
}
