//! The service's tests: requests and answers, and what Argo's Go code gave for the same input
//! (`testdata/`, recorded from notifications-engine at the version Argo Rollouts v1.10.1 uses).

use super::*;
use serde_json::json;

const HOST: &str = "https://chat.googleapis.com";

/// `sigs.k8s.io/yaml.YAMLToJSON` of each input of `testdata/yaml.json`, by this crate's reader.
fn yaml_to_json(text: &str) -> Result<String, String> {
    let node = yaml::parse(text)?;
    let value = cards::jsonable(&cards::Schema::load(), &node, None)?;
    if let Some(bad) = cards::first_unsupported(&value) {
        return Err(format!("json: unsupported value: {bad}"));
    }
    let mut out = String::new();
    write_verbatim(&mut out, &value);
    Ok(out)
}

/// A go-yaml error without its `line N: `.
fn without_line(error: &str) -> String {
    match error.strip_prefix("yaml: line ").and_then(|rest| rest.split_once(": ")) {
        Some((line, rest)) if line.chars().all(|c| c.is_ascii_digit()) => format!("yaml: {rest}"),
        _ => error.to_string(),
    }
}

/// An error that quotes a go-yaml error, without the go-yaml error's `line N: `.
fn without_line_in(error: &str) -> String {
    match error.split_once("yaml: ") {
        Some((before, yaml)) => format!("{before}{}", without_line(&format!("yaml: {yaml}"))),
        None => error.to_string(),
    }
}

/// JSON as `json.Marshal` writes what sigs.k8s.io/yaml hands it: numbers as converted
/// (integers exact), strings as Go escapes them, keys sorted (as they come).
fn write_verbatim(out: &mut String, value: &gojson::Value) {
    match value {
        gojson::Value::Number(text) => out.push_str(text),
        gojson::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_verbatim(out, item);
            }
            out.push(']');
        }
        gojson::Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gojson::write_string(out, key);
                out.push(':');
                write_verbatim(out, item);
            }
            out.push('}');
        }
        other => gojson::write(out, other),
    }
}

#[test]
fn yaml_reads_as_sigs_yaml_reads_it() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/yaml.json")).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let input = case["in"].as_str().unwrap();
        let got = yaml_to_json(input);
        let ok = match (&got, case.get("out").and_then(Value::as_str), case.get("err").and_then(Value::as_str)) {
            (Ok(out), Some(expected), _) => out == expected,
            // The same error, but for the line number go-yaml names (its own parser's mark).
            (Err(e), _, Some(expected)) => without_line(e) == without_line(expected),
            _ => false,
        };
        if !ok {
            failures
                .push(format!("{input:?}\n  go:   {}\n  ours: {got:?}", case.get("out").or(case.get("err")).unwrap()));
        }
    }
    assert!(failures.is_empty(), "{} of {} differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn notification(url: &str, template: Value) -> Notification {
    Notification::new("googlechat", "googlechat")
        .with_config(json!({"webhooks": {"t": url}}))
        .with_recipient("t")
        .with_template(template)
}

fn plan(url: &str, template: Value) -> Result<Plan, Error> {
    let n = notification(url, template);
    let mut ids = 0;
    Plan::new(&n, &n.config_as().unwrap(), || {
        ids += 1;
        format!("id-{ids}")
    })
}

fn response(status: u16, body: &str) -> Response {
    Response { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
}

/// The request URI of a URL of [`HOST`], as a Go server sees it.
fn request_uri(url: &str) -> String {
    let rest = url.strip_prefix(HOST).unwrap();
    if rest.is_empty() || rest.starts_with('?') { format!("/{rest}") } else { rest.to_string() }
}

#[test]
fn requests_are_argos() {
    // Each case of testdata/requests.json: what Argo's googlechat service sent to a test server
    // for the template (its cardIds replaced by CARD-ID), or the error it gave before sending,
    // and what it made of the answer.
    let cases: Vec<Value> = serde_json::from_str(include_str!("testdata/requests.json")).unwrap();
    assert!(cases.len() > 70);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let url = format!("{HOST}{}", case["webhook"].as_str().unwrap());
        let n = notification(&url, case["template"].clone());
        let plan = Plan::new(&n, &n.config_as().unwrap(), || "CARD-ID".to_string());
        let go_error = case.get("err").and_then(Value::as_str);
        let Some(body) = case.get("body").and_then(Value::as_str) else {
            // The same error (go-yaml's line numbers aside).
            assert_eq!(
                without_line_in(&plan.map(|p| p.body).unwrap_err().0),
                without_line_in(go_error.unwrap()),
                "{name}"
            );
            continue;
        };
        let plan = plan.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(plan.body, body, "{name}");
        assert_eq!(request_uri(&plan.url), case["uri"].as_str().unwrap(), "{name}");
        assert_eq!(
            plan.request(),
            Request::post(&plan.url).header("Content-Type", "application/json").body(body),
            "{name}"
        );
        let status = case["status"].as_u64().unwrap() as u16;
        let verdict = verdict(&plan.url, Ok(response(status, case["answer"].as_str().unwrap())));
        if (200..300).contains(&status) {
            assert_eq!(verdict.err().map(|e| e.0), go_error.map(str::to_string), "{name}");
        } else {
            // Argo takes an answer without an `error` as delivered, whatever its status: not here.
            assert!(verdict.is_err(), "{name}");
        }
    }
}

#[test]
fn a_message_is_sent_as_text() {
    // TestTextMessage_GoogleChat, TestSendMessage_NoError.
    let p =
        plan("https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t%3D", json!({"message": "message value"}))
            .unwrap();
    assert_eq!(
        p.request(),
        Request::post("https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t%3D")
            .header("Content-Type", "application/json")
            .body(r#"{"text":"message value"}"#)
    );
    assert_eq!(plan(HOST, json!({})).unwrap().body, r#"{"text":""}"#);
    // A block without cards keeps the text.
    assert_eq!(plan(HOST, json!({"message": "m", "googlechat": {"cards": ""}})).unwrap().body, r#"{"text":"m"}"#);
}

#[test]
fn a_thread_key_goes_in_the_query() {
    // TestTextMessageWithThreadKey_GoogleChat, TestSendMessageWithThreadKey_NoError.
    let p = plan(
        "https://chat.googleapis.com/v1/spaces/S/messages?token=t%3D&key=k+1",
        json!({"message": "m", "googlechat": {"threadKey": "test Thread/Key&"}}),
    )
    .unwrap();
    assert_eq!(
        p.url,
        "https://chat.googleapis.com/v1/spaces/S/messages?key=k+1&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD\
         &threadKey=test+Thread%2FKey%26&token=t%3D"
    );
    assert_eq!(p.body, r#"{"text":"m"}"#);
    assert_eq!(
        thread_url("https://h/hook", "k"),
        "https://h/hook?messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD&threadKey=k"
    );
    // Go's ParseQuery drops a pair with a `;` or a bad escape; values of one key keep their order.
    assert_eq!(
        thread_url("https://h/p?b=2&a=%zz&c=1;2&b=1&&d#frag", "k"),
        "https://h/p?b=2&b=1&d=&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD&threadKey=k#frag"
    );
    assert_eq!(thread_url("https://h/p?x=1", ""), "https://h/p?x=1");
}

#[test]
fn cards_are_read_as_argo_reads_them() {
    // TestCardMessage_GoogleChat.
    let cards = "- sections:\n  - widgets:\n    - textParagraph:\n        text: text\n    - keyValue:\n        topLabel: topLabel\n    - image:\n        imageUrl: imageUrl\n    - buttons:\n      - textButton:\n          text: button";
    assert_eq!(
        plan(HOST, json!({"message": "ignored", "googlechat": {"cards": cards}})).unwrap().body,
        r#"{"text":"","cards":[{"sections":[{"widgets":[{"textParagraph":{"text":"text"}},{"keyValue":{"topLabel":"topLabel"}},{"image":{"imageUrl":"imageUrl"}},{"buttons":[{"textButton":{"text":"button"}}]}]}]}]}"#
    );
    // TestCardV2Message_GoogleChat: each card gets an id.
    let cards_v2 = "- header:\n    title: Action test as been completed\n  sections:\n    - collapsible: false\n      uncollapsibleWidgetsCount: 1\n      widgets:\n        - decoratedText:\n            startIcon:\n                knownIcon: BOOKMARK\n            text: text\n- header: {title: two}";
    assert_eq!(
        plan(HOST, json!({"googlechat": {"cardsV2": cards_v2}})).unwrap().body,
        r#"{"text":"","cardsV2":[{"card":{"header":{"title":"Action test as been completed"},"sections":[{"uncollapsibleWidgetsCount":1,"widgets":[{"decoratedText":{"startIcon":{"knownIcon":"BOOKMARK"},"text":"text"}}]}]},"cardId":"id-1"},{"card":{"header":{"title":"two"}},"cardId":"id-2"}]}"#
    );
}

#[test]
fn bad_cards_fail_with_gos_messages() {
    let err = |cards: &str| plan(HOST, json!({"googlechat": {"cards": cards}})).unwrap_err().0;
    assert_eq!(
        err("header:\n  title: t"),
        "cannot create message: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal object into Go value of type []chat.Card"
    );
    let yaml = err("- a: [\n");
    assert!(yaml.starts_with("cannot create message: error converting YAML to JSON: yaml: line "), "{yaml}");
    assert!(yaml.ends_with(": did not find expected node content"), "{yaml}");
    assert_eq!(
        err("- header:\n    title: [1]"),
        "cannot create message: error unmarshaling JSON: while decoding JSON: json: cannot unmarshal array into Go struct field CardHeader.header.title of type string"
    );
    assert_eq!(
        plan(HOST, json!({"googlechat": {"cards": [{"header": {}}]}})).unwrap_err().0,
        "invalid template: googlechat.cards: expected a string, found an array (write the cards as YAML text: `cards: |`)"
    );
    assert_eq!(plan(HOST, json!({"googlechat": 1})).unwrap_err().0, "invalid template: googlechat: expected an object");
}

#[test]
fn the_recipient_must_have_a_webhook_url() {
    // TestCreateClient_Error.
    let n = notification("https://h", json!({})).with_recipient("another");
    assert_eq!(
        Plan::new(&n, &n.config_as().unwrap(), random_uuid).unwrap_err().0,
        r#"googlechat: no webhook URL for recipient "another" in webhooks"#
    );
    let n = n.with_config(json!({"webhooks": {"another": " "}}));
    assert_eq!(
        Plan::new(&n, &n.config_as().unwrap(), random_uuid).unwrap_err().0,
        r#"googlechat: empty webhook URL for recipient "another" in webhooks"#
    );
    let n = n.with_config(Value::Null);
    assert!(
        Plan::new(&n, &n.config_as().unwrap(), random_uuid).unwrap_err().0.starts_with("googlechat: no webhook URL")
    );
    let wrong = n.with_config(json!({"webhooks": "https://h"})).config_as::<Config>().unwrap_err().0;
    assert!(wrong.starts_with("invalid config: webhooks: invalid type: string"), "{wrong}");
    let config: Config = notification("https://h", json!({}))
        .with_config(json!({"webhooks": {"t": "https://h"}, "insecureSkipVerify": true, "maxIdleConns": 1}))
        .config_as()
        .unwrap();
    assert_eq!((config.webhook_url("t").unwrap(), config.insecure_skip_verify), ("https://h", Some(true)));
}

#[test]
fn answers_are_judged_as_argo_does_and_by_status() {
    let url = "https://chat.googleapis.com/v1/spaces/S/messages?key=k&token=t";
    assert_eq!(verdict(url, Ok(response(200, "{}"))), Ok(()));
    assert_eq!(verdict(url, Ok(response(200, r#"{"name":"spaces/S/messages/M","error":null}"#))), Ok(()));
    assert_eq!(
        verdict(
            url,
            Ok(response(400, r#"{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}"#))
        )
        .unwrap_err()
        .0,
        "error with message: code=400 status=INVALID_ARGUMENT message=Invalid JSON payload"
    );
    assert_eq!(
        verdict(url, Ok(response(200, "ok"))).unwrap_err().0,
        "cannot send message: invalid character 'o' looking for beginning of value"
    );
    assert_eq!(
        verdict(url, Ok(response(200, "[]"))).unwrap_err().0,
        "cannot send message: json: cannot unmarshal array into Go value of type services.webhookReturn"
    );
    assert_eq!(
        verdict(url, Ok(response(502, "<html>bad gateway</html>"))).unwrap_err().0,
        "cannot send message: request to POST https://chat.googleapis.com/v1/spaces/S/messages?... has failed with error code 502 : <html>bad gateway</html>"
    );
    assert_eq!(
        verdict(url, Ok(response(500, "{}"))).unwrap_err().0,
        "cannot send message: request to POST https://chat.googleapis.com/v1/spaces/S/messages?... has failed with error code 500 : {}"
    );
    let long = verdict(url, Ok(response(503, &"x".repeat(3000)))).unwrap_err().0;
    assert!(long.ends_with(&format!(" : {}", "x".repeat(1024))), "{long}");
    assert_eq!(
        verdict(url, Err(http::Error::Transport("connection refused".into()))).unwrap_err().0,
        "cannot send message: Post \"https://chat.googleapis.com/v1/spaces/S/messages?...\": transport error: connection refused"
    );
}

#[test]
fn card_ids_are_uuid_v4s() {
    let a = random_uuid();
    let b = random_uuid();
    assert_ne!(a, b);
    for id in [&a, &b] {
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(id.as_bytes()[14], b'4', "{id}");
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
    }
    assert_eq!(format_uuid([0xff; 16]), "ffffffff-ffff-4fff-bfff-ffffffffffff");
    assert_eq!(format_uuid([0; 16]), "00000000-0000-4000-8000-000000000000");
}

#[test]
fn query_escaping_is_gos() {
    assert_eq!(query_escape("a b/é~*".as_bytes()), "a+b%2F%C3%A9~%2A");
    assert_eq!(query_unescape("a+b%2F%c3%a9").unwrap(), "a b/é".as_bytes());
    assert_eq!(query_unescape("%zz"), None);
    assert_eq!(query_unescape("%4"), None);
}

#[test]
fn nesting_is_bounded() {
    let flow = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(yaml::parse(&flow(150)).is_ok());
    assert_eq!(yaml::parse(&flow(300)).unwrap_err(), "yaml: exceeded max depth of 200");
    let block = |n: usize| (0..n).map(|i| format!("{}a:", "  ".repeat(i))).collect::<Vec<_>>().join("\n");
    assert!(yaml::parse(&block(150)).is_ok());
    assert!(yaml::parse(&block(300)).unwrap_err().ends_with("exceeded max depth of 200"));
    // Cards as deep as the reader allows are decoded and written (they nest through onClick.card).
    let mut card = String::from("{}");
    for _ in 0..45 {
        card = format!("{{cardActions: [{{onClick: {{card: {card}}}}}]}}");
    }
    let p = plan(HOST, json!({"googlechat": {"cardsV2": format!("[{card}]")}})).unwrap();
    assert!(p.body.starts_with(r#"{"text":"","cardsV2":[{"card":{"cardActions":[{"onClick":{"card":{"cardActions""#));
}
