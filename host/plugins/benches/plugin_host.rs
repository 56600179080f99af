//! Plugin host benchmark: the numbers of docs/benchmarks.md ("Plugin host").
//!
//! `cargo bench -p aviary-plugins --bench plugin_host` prints, for comparison with the anchor of a
//! go-plugin RPC call (about 50 µs, and one OS process of tens of MB per plugin):
//! - p50/p99 of one condition evaluation through `aviary/expr`, each in a fresh instance;
//! - p50/p99 of one provider call that does no network I/O, each in a fresh instance;
//! - resident memory added per loaded plugin;
//! - compile time versus cached load time of each first-party plugin.
//!
//! Each timed call is measured on its own (no batching), so the percentiles are real per-call
//! latencies including Store creation, instantiation, the call and teardown.

use std::time::{Duration, Instant};

use aviary_plugins::builtin::BUILTINS;
use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::{CallContext, HostConfig, Phase, PluginHost};

const WARMUP: usize = 200;
const SAMPLES: usize = 20_000;

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99), at(0.999))
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let wasm_dir = std::path::PathBuf::from(env!("AVIARY_WASM_DIR"));
    println!("## Plugin host (aviary-plugins)\n");

    // Compile versus cached load, per first-party plugin.
    let cache = tempfile::tempdir().unwrap();
    println!("| plugin | size | compile | cached load (from disk) |");
    println!("|---|---|---|---|");
    for b in BUILTINS {
        let cold =
            PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
        let t = Instant::now();
        let info = cold.load_bytes(b.name, b.bytes, AllowedHosts::none()).unwrap();
        let compile = t.elapsed();
        assert!(!info.cached);
        let warm =
            PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
        let t = Instant::now();
        let info = warm.load_bytes(b.name, b.bytes, AllowedHosts::none()).unwrap();
        let load = t.elapsed();
        assert!(info.cached);
        println!("| {} | {} KiB | {:.1} ms | {:.2} ms |", b.name, b.bytes.len() / 1024, ms(compile), ms(load));
    }

    // Resident memory added per loaded plugin: distinct components, loaded from the cache.
    let host =
        PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
    let extra = [
        ("test/hostile", std::fs::read(wasm_dir.join("aviary_test_hostile.wasm")).unwrap()),
        ("test/hostile-condition", std::fs::read(wasm_dir.join("aviary_test_hostile_condition.wasm")).unwrap()),
    ];
    // Warm the cache for the extra components so that every load below is a cached load.
    let warmup =
        PluginHost::new(HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() }).unwrap();
    for (name, bytes) in &extra {
        warmup.load_bytes(name, bytes, AllowedHosts::none()).unwrap();
    }
    drop(warmup);
    let before = rss_kib();
    let mut loaded = 0;
    for b in BUILTINS {
        host.load_bytes(b.name, b.bytes, AllowedHosts::none()).unwrap();
        loaded += 1;
    }
    for (name, bytes) in &extra {
        host.load_bytes(name, bytes, AllowedHosts::none()).unwrap();
        loaded += 1;
    }
    let after = rss_kib();
    println!(
        "\nresident memory: {loaded} distinct plugins loaded (cached) added {} KiB, {:.0} KiB per plugin\n",
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / loaded as f64
    );

    // One condition evaluation through aviary/expr, fresh instance each time.
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let t = Instant::now();
        let r = host.evaluate("aviary/expr", "result[0] >= 0.95", "[0.97]").await;
        let d = t.elapsed();
        assert_eq!(r, Ok(true));
        if i >= WARMUP {
            samples.push(d);
        }
    }
    let (p50, p99, p999) = percentiles(samples);
    println!(
        "condition `result[0] >= 0.95` via aviary/expr: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({SAMPLES} calls)",
        us(p50),
        us(p99),
        us(p999)
    );

    // A trivial guest for comparison: built for wasm32-wasip2, so it imports WASI (three core
    // instances and the deny-all WASI context), unlike aviary/expr.
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let t = Instant::now();
        let r = host.evaluate("test/hostile-condition", "ok", "true").await;
        let d = t.elapsed();
        assert_eq!(r, Ok(true));
        if i >= WARMUP {
            samples.push(d);
        }
    }
    let (p50, p99, p999) = percentiles(samples);
    println!(
        "trivial condition guest, wasip2 (imports WASI): p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({SAMPLES} calls)",
        us(p50),
        us(p99),
        us(p999)
    );

    // One provider call without network I/O (the hostile test provider in its honest mode).
    let ctx = CallContext {
        namespace: "bench".into(),
        run_name: "run".into(),
        metric_name: "m".into(),
        ..Default::default()
    };
    let mut samples = Vec::with_capacity(SAMPLES);
    for i in 0..WARMUP + SAMPLES {
        let t = Instant::now();
        let m = host.measure("test/hostile", &ctx, r#"{"mode": "ok", "value": 0.97}"#).await;
        let d = t.elapsed();
        assert_eq!(m.phase, Phase::Measured);
        if i >= WARMUP {
            samples.push(d);
        }
    }
    let (p50, p99, p999) = percentiles(samples);
    println!(
        "provider call (no network) via test/hostile: p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs ({SAMPLES} calls)",
        us(p50),
        us(p99),
        us(p999)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
