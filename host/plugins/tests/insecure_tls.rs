//! Argo's `insecure: true` on `web` and `prometheus`: the host skips TLS certificate verification
//! for that call of those first-party plugins, and for nobody else. The server is HTTPS on
//! loopback with a self-signed certificate made here (rcgen), which no trust store accepts.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::{CallContext, Phase};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

/// Serves `body` as JSON over HTTPS with a fresh self-signed certificate for 127.0.0.1, to any
/// number of requests, one connection at a time, until the test process ends.
fn https_server(body: &'static str) -> SocketAddr {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .expect("server config");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut tcp) = stream else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(config.clone()) else { continue };
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            // Read up to the end of the headers (the requests here have no body worth reading
            // for the answer), then answer and close. A client that refuses the certificate
            // ends the handshake here with an error, which is the point of half the tests.
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            if request.is_empty() {
                continue;
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(response.as_bytes());
            let _ = tls.flush();
            conn.send_close_notify();
            let _ = conn.complete_io(&mut tcp);
        }
    });
    addr
}

const PROMETHEUS: &str =
    r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1735689600,"0.97"]}]}}"#;

#[tokio::test]
async fn web_with_insecure_reaches_a_self_signed_server_and_without_it_does_not() {
    let addr = https_server(r#"{"ok": true}"#);
    let host = common::host();
    let url = format!("https://{addr}/health");
    let m = host
        .measure(
            "web",
            &CallContext::default(),
            &json!({"url": url, "jsonPath": "{$.ok}", "insecure": true}).to_string(),
        )
        .await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("true")), "{}", m.message);

    let m = host.measure("web", &CallContext::default(), &json!({"url": url, "jsonPath": "{$.ok}"}).to_string()).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.contains("certificate"), "verification is on by default: {}", m.message);
}

#[tokio::test]
async fn prometheus_with_insecure_reaches_a_self_signed_server_and_without_it_does_not() {
    let addr = https_server(PROMETHEUS);
    let host = common::host();
    let address = format!("https://{addr}");
    let config = json!({"address": address, "query": "up", "insecure": true}).to_string();
    let m = host.measure("prometheus", &CallContext::default(), &config).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[0.97]")), "{}", m.message);

    let config = json!({"address": address, "query": "up", "insecure": false}).to_string();
    let m = host.measure("prometheus", &CallContext::default(), &config).await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.contains("certificate"), "{}", m.message);
}

#[tokio::test]
async fn a_plugin_that_is_not_first_party_cannot_turn_verification_off() {
    let addr = https_server(r#"{"ok": true}"#);
    let host = common::host();
    // The very same web component, loaded by path rather than as the first-party plugin.
    let bytes = std::fs::read(common::test_component("aviary_plugin_web.wasm")).expect("web component");
    let allowed = AllowedHosts::parse(&[format!("https://{addr}")]).expect("allowed hosts");
    let info = host.load_bytes("./my-web.wasm", &bytes, allowed).expect("load");
    let url = format!("https://{addr}/health");
    let config = json!({"url": url, "jsonPath": "{$.ok}", "insecure": true}).to_string();
    let m = host.measure(&info.name, &CallContext::default(), &config).await;
    assert_eq!(m.phase, Phase::Error, "{m:?}");
    assert!(m.message.contains("certificate"), "{}", m.message);
}
