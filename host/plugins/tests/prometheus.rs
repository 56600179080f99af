//! The first-party prometheus provider against a real Prometheus server (Debian's `prometheus`
//! package), started here on a loopback port and scraping a loopback target.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aviary_plugins::{CallContext, Measurement, Phase, PluginHost};
use serde_json::json;

/// Exposition text the target serves; Prometheus scrapes it every second.
const METRICS: &str = "\
# TYPE aviary_test_ratio gauge
aviary_test_ratio 0.97
# TYPE aviary_test_nan gauge
aviary_test_nan NaN
# TYPE aviary_test_inf gauge
aviary_test_inf +Inf
# TYPE aviary_test_requests counter
aviary_test_requests{code=\"200\"} 10
aviary_test_requests{code=\"500\"} 2
";

struct Prometheus {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_prometheus() -> Prometheus {
    let target =
        common::serve("127.0.0.1", axum::Router::new().route("/metrics", axum::routing::get(|| async { METRICS })))
            .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!("global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n- job_name: target\n  static_configs: [{{targets: ['{target}']}}]\n"),
    )
    .unwrap();
    let port = free_port();
    let binary = std::env::var("AVIARY_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    let child = Command::new(&binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {binary:?} ({e}): install Debian's `prometheus` package (.ci/run does)")
        });
    Prometheus { child, address: format!("http://127.0.0.1:{port}"), _dir: dir }
}

async fn query(host: &PluginHost, prom: &Prometheus, q: &str) -> Measurement {
    host.measure("prometheus", &CallContext::default(), &json!({"address": prom.address, "query": q}).to_string()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scalar_vector_nan_inf_and_empty_results() {
    let host = common::host();
    let prom = start_prometheus().await;
    // Wait for the first scrape to land (Prometheus starts in a few seconds).
    let started = Instant::now();
    loop {
        let m = query(&host, &prom, "aviary_test_ratio").await;
        if m.phase == Phase::Measured && m.value.as_deref() == Some("[0.97]") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "prometheus never answered: {m:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cases = [
        ("scalar(aviary_test_ratio)", "0.97"),
        ("sort(aviary_test_requests)", "[2,10]"),
        ("sum(aviary_test_requests)", "[12]"),
        ("scalar(aviary_test_nan)", "NaN"),
        ("aviary_test_inf", "[Infinity]"),
        ("-aviary_test_inf", "[-Infinity]"),
        ("aviary_test_does_not_exist", "[]"),
    ];
    for (q, want) in cases {
        let m = query(&host, &prom, q).await;
        assert_eq!(m.phase, Phase::Measured, "{q}: {}", m.message);
        assert_eq!(m.value.as_deref(), Some(want), "{q}");
        assert_eq!(m.metadata.get("query").map(String::as_str), Some(q));
    }
    let m = query(&host, &prom, "sum(").await;
    assert_eq!(m.phase, Phase::Error);
    assert!(m.message.starts_with("prometheus query failed: bad_data: "), "{}", m.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_range_query_gives_every_value_of_the_matrix() {
    let host = common::host();
    let prom = start_prometheus().await;
    let config = json!({"address": prom.address, "query": "aviary_test_ratio",
        "rangeQuery": {"start": "now() - duration(\"1m\")", "end": "now()", "step": "1s"}, "timeout": 10})
    .to_string();
    // Scraped every second: wait until the range holds a few points.
    let started = Instant::now();
    let values = loop {
        let m = host.measure("prometheus", &CallContext::default(), &config).await;
        let values: Vec<f64> = m.value.as_deref().and_then(|v| serde_json::from_str(v).ok()).unwrap_or_default();
        if m.phase == Phase::Measured && values.len() >= 3 {
            break values;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no range data: {m:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(values.iter().all(|v| *v == 0.97), "{values:?}");
}
