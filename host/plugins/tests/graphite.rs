//! The first-party Graphite provider against a real graphite-web (Debian's package, served by
//! Django's development server on loopback over a whisper store written by the test), and against
//! a loopback server that answers the render API (`GET /render?target=..&from=..&format=json`,
//! graphite-web's JSON with `target`, `tags` and `datapoints`) for the cases a real store cannot
//! stage, checking the query string it receives; the values are judged with Argo's conditions.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aviary_api::AnalysisPhase;
use aviary_plugins::{Measurement, Phase, PluginHost};
use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// What the fake Graphite saw: the raw query strings and whether any credentials came along.
#[derive(Default)]
struct Seen {
    queries: Vec<String>,
    authorization: Vec<String>,
}

type Shared = Arc<Mutex<Seen>>;

fn params(raw: &str) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        out.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    out
}

fn series(target: &str, points: Value) -> Value {
    json!({"target": target, "tags": {"name": target, "aggregatedBy": "sum"}, "datapoints": points})
}

async fn render(State(seen): State<Shared>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    {
        let mut s = seen.lock().unwrap();
        s.queries.push(raw.clone());
        if let Some(a) = headers.get("authorization") {
            s.authorization.push(a.to_str().unwrap_or_default().to_string());
        }
    }
    let p = params(&raw);
    if p.get("format").map(Vec::as_slice) != Some(&["json".to_string()][..]) {
        return (StatusCode::BAD_REQUEST, "only format=json is served here").into_response();
    }
    let targets = p.get("target").cloned().unwrap_or_default();
    let body = match targets.first().map(String::as_str) {
        // 5xx per 10 s over the last two minutes, newest last, with the current bucket not yet
        // written (graphite-web answers null for it).
        Some("sumSeries(app.http.*.5xx.count)") => json!([series(
            "sumSeries(app.http.*.5xx.count)",
            json!([[3.0, 1_700_000_000], [1.0, 1_700_000_010], [0.0, 1_700_000_020], [null, 1_700_000_030]])
        )]),
        Some("asPercent(app.http.5xx.count,app.http.total.count)") => json!([
            series(
                "asPercent(app.http.5xx.count,app.http.total.count)",
                json!([[12.5, 1_700_000_000], [7.5, 1_700_000_010]])
            ),
            series("second series is ignored", json!([[99.0, 1_700_000_000]])),
        ]),
        Some("app.http.silent.count") => json!([series("app.http.silent.count", json!([[null, 1_700_000_000]]))]),
        Some("app.http.unknown.count") => json!([]),
        Some(t) if t.starts_with("nosuchfunction(") => {
            return (StatusCode::BAD_REQUEST, "Unknown function nosuchfunction").into_response();
        }
        _ => return (StatusCode::INTERNAL_SERVER_ERROR, "unexpected target").into_response(),
    };
    Json(body).into_response()
}

/// A Graphite served under `/graphite`, as graphite-web often is behind a proxy.
async fn graphite() -> (String, Shared) {
    let routes = axum::Router::new().route("/graphite/render", get(render));
    let (addr, seen) = common::serve_seen(routes).await;
    (format!("http://{addr}/graphite"), seen)
}

async fn measure(host: &PluginHost, address: &str, query: &str) -> Measurement {
    let config = json!({"address": address, "query": query}).to_string();
    common::measure(host, "graphite", &config).await
}

#[tokio::test]
async fn argos_documented_query_reads_the_first_series_and_gates_on_its_values() {
    let (address, seen) = graphite().await;
    let host = common::host();
    // Argo's docs write the query over several lines; whitespace is removed before sending.
    let query = "target=sumSeries(app.http.*.5xx.count)\n    &from=-2min";
    let m = measure(&host, &address, query).await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[3,1,0]")), "{}", m.message);
    assert_eq!(common::verdict(&host, &m, "all(result, {# < 5})", "").await, AnalysisPhase::Successful);
    assert_eq!(common::verdict(&host, &m, "result[0] < 1", "").await, AnalysisPhase::Failed);
    assert_eq!(common::verdict(&host, &m, "3 in result", "").await, AnalysisPhase::Successful);

    let s = seen.lock().unwrap();
    assert_eq!(
        s.queries,
        vec!["format=json&from=-2min&target=sumSeries%28app.http.%2A.5xx.count%29".to_string()],
        "sorted and escaped as Go's url.Values.Encode does"
    );
    assert!(s.authorization.is_empty(), "Graphite is queried without credentials");
}

#[tokio::test]
async fn only_the_first_series_counts_and_a_requested_format_is_replaced_by_json() {
    let (address, seen) = graphite().await;
    let host = common::host();
    let query = "target=asPercent(app.http.5xx.count,app.http.total.count)&from=-5min&format=raw";
    let m = measure(&host, &address, query).await;
    assert_eq!(m.value.as_deref(), Some("[12.5,7.5]"), "{}", m.message);
    assert_eq!(common::verdict(&host, &m, "result[len(result)-1] < 10", "").await, AnalysisPhase::Successful);
    assert_eq!(params(&seen.lock().unwrap().queries[0])["format"], vec!["json".to_string()]);
}

#[tokio::test]
async fn no_series_is_an_error_and_only_null_points_an_empty_list() {
    let (address, _) = graphite().await;
    let host = common::host();
    let m = measure(&host, &address, "target=app.http.unknown.count&from=-1min").await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no values found"));
    let m = measure(&host, &address, "target=app.http.silent.count&from=-1min").await;
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[]")), "{}", m.message);
    assert_eq!(common::verdict(&host, &m, "len(result) == 0 || result[0] < 1", "").await, AnalysisPhase::Successful);
}

#[tokio::test]
async fn a_graphite_error_status_is_an_error_with_its_body() {
    let (address, _) = graphite().await;
    let host = common::host();
    let m = measure(&host, &address, "target=nosuchfunction(a.b)&from=-1min").await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "error response: Unknown function nosuchfunction"));
    let m = measure(&host, ":::", "target=a").await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "Graphite address ::: is not a valid URL"));
}

#[tokio::test]
async fn the_recorded_exchange_replays() {
    let host = common::host();
    let replay = common::replay_of(json!({
        "at": "2025-01-01T00:00:00Z",
        "exchanges": [{
            "request": {"method": "GET",
                        "url": "http://graphite.monitoring:8080/render?format=json&from=-2min&target=sumSeries%28app.http.%2A.5xx.count%29"},
            "response": {"status": 200, "headers": {"content-type": "application/json"},
                         "json": [series("sumSeries(app.http.*.5xx.count)", json!([[2.0, 1_735_689_590], [4.0, 1_735_689_600]]))]},
        }],
    }));
    let config = json!({"address": "http://graphite.monitoring:8080",
                        "query": "target=sumSeries(app.http.*.5xx.count)&from=-2min"})
    .to_string();
    let m = common::measure_replayed(&host, &replay, "graphite", &config).await;
    assert_eq!(m.value.as_deref(), Some("[2,4]"), "{}", m.message);
}

/// The Python Debian's graphite-web is installed for (not a virtualenv's or pyenv's).
const PYTHON: &str = "/usr/bin/python3";

/// Settings for graphite-web over the test's own directory (`AVIARY_GRAPHITE_DIR`), loaded through
/// graphite-web's `GRAPHITE_SETTINGS_MODULE` instead of the system's `/etc/graphite`.
const SETTINGS: &str = r#"
import os
_root = os.environ["AVIARY_GRAPHITE_DIR"]
SECRET_KEY = "aviary-test"
GRAPHITE_ROOT = "/usr/share/graphite-web"
STORAGE_DIR = _root
WHISPER_DIR = os.path.join(_root, "whisper")
LOG_DIR = os.path.join(_root, "log")
INDEX_FILE = os.path.join(_root, "index")
DATABASES = {"default": {"NAME": os.path.join(_root, "graphite.db"), "ENGINE": "django.db.backends.sqlite3"}}
"#;

/// Writes whisper files (10 s resolution, one hour) with points `offset` seconds from now.
const WRITE_SERIES: &str = r#"
import json, os, sys, time, whisper
root, series = sys.argv[1], json.loads(sys.argv[2])
now = int(time.time())
for name, points in series.items():
    path = os.path.join(root, "whisper", *name.split(".")) + ".wsp"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    whisper.create(path, [(10, 360)])
    whisper.update_many(path, [(now + offset, value) for offset, value in points])
"#;

/// A running graphite-web, stopped when dropped.
struct GraphiteWeb {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
}

impl Drop for GraphiteWeb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts graphite-web on a free loopback port over whisper files holding `series`.
async fn graphite_web(series: Value) -> GraphiteWeb {
    let installed = Command::new(PYTHON).args(["-c", "import django, graphite, whisper"]).status();
    assert!(
        installed.is_ok_and(|s| s.success()),
        "graphite-web is not installed for {PYTHON}: scripts/prerequisites.sh installs Debian's graphite-web"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("log")).unwrap();
    std::fs::write(dir.path().join("aviary_graphite_settings.py"), SETTINGS).unwrap();
    let root = dir.path().to_str().unwrap().to_string();
    let written = Command::new(PYTHON).args(["-c", WRITE_SERIES, &root, &series.to_string()]).output().unwrap();
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(PYTHON)
        .args(["-m", "django", "runserver", &format!("127.0.0.1:{port}"), "--noreload"])
        .env("AVIARY_GRAPHITE_DIR", &root)
        .env("GRAPHITE_SETTINGS_MODULE", "aviary_graphite_settings")
        .env("DJANGO_SETTINGS_MODULE", "graphite.settings")
        .env("PYTHONPATH", &root)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start graphite-web");
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return GraphiteWeb { child, address: format!("http://127.0.0.1:{port}"), dir };
        }
        if let Ok(Some(status)) = child.try_wait() {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!("graphite-web exited with {status}: {log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("graphite-web did not listen on 127.0.0.1:{port} within 30 s");
}

#[tokio::test]
async fn a_real_graphite_web_sums_the_series_and_the_canary_gate_reads_them() {
    let server = graphite_web(json!({
        "app.http.web-1.5xx.count": [[-30, 3.0], [-20, 1.0], [-10, 0.0]],
        "app.http.web-2.5xx.count": [[-30, 2.0], [-20, 2.0], [-10, 1.0]],
    }))
    .await;
    let host = common::host();
    let query = "target=sumSeries(app.http.*.5xx.count)\n    &from=-2min";
    let m = measure(&host, &server.address, query).await;
    let log = || std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default();
    assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("[5,3,1]")), "{}\n{}", m.message, log());
    assert_eq!(common::verdict(&host, &m, "all(result, {# < 6})", "").await, AnalysisPhase::Successful);
    assert_eq!(common::verdict(&host, &m, "result[len(result)-1] < 1", "").await, AnalysisPhase::Failed);
    assert!(
        log().contains("GET /render?format=json&from=-2min&target=sumSeries%28app.http.%2A.5xx.count%29"),
        "{}",
        log()
    );

    let m = measure(&host, &server.address, "target=app.none.count&from=-2min").await;
    assert_eq!((m.phase, m.message.as_str()), (Phase::Error, "no values found"));
    let m = measure(&host, &server.address, "target=nosuch(app.http.*.5xx.count)&from=-2min").await;
    assert_eq!(m.phase, Phase::Error);
    assert!(
        m.message.starts_with("error response: Invalid parameters (Received request for unknown function: nosuch)"),
        "{}",
        m.message
    );
}
