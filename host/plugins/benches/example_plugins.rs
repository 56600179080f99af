//! The price of a plugin's language: the json-number provider of plugins/examples, written in
//! Rust, Python (componentize-py) and JavaScript (jco + componentize-js), measured the same way
//! (docs/benchmarks.md, "Example plugins").
//!
//! `cargo bench -p aviary-plugins --bench example_plugins` prints, per language: the component's
//! size, the time to compile it to native code (the first load of a new component), the time to
//! load it again from the compile cache (a restart or a hot reload), and the per-call time of
//! one measurement in a fresh instance (as the controller takes every measurement) against a
//! loopback JSON endpoint, each call timed on its own. It also prints the time the language's
//! toolchain took to build the Python and JavaScript components when plugins/examples/build.sh
//! built them (`build-times.txt`).
//!
//! The Python and JavaScript components come from `$AVIARY_EXAMPLES_DIR`, else from running
//! plugins/examples/build.sh (which installs its tools under ~/.cache on first use).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use aviary_plugins::capability::AllowedHosts;
use aviary_plugins::{CallContext, HostConfig, Phase, PluginHost};

const WARMUP: usize = 20;
const SAMPLES: usize = 300;

fn examples_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("AVIARY_EXAMPLES_DIR") {
        return PathBuf::from(dir);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/examples/build.sh");
    let out = Command::new(&script).output().expect("run plugins/examples/build.sh");
    assert!(out.status.success(), "{} failed:\n{}", script.display(), String::from_utf8_lossy(&out.stderr));
    PathBuf::from(String::from_utf8_lossy(&out.stdout).lines().last().expect("the output directory").trim())
}

fn percentiles(mut samples: Vec<Duration>) -> (Duration, Duration) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    (at(0.50), at(0.99))
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let examples = examples_dir();
    let components = [
        ("rust", PathBuf::from(env!("AVIARY_WASM_DIR")).join("aviary_example_json_number.wasm")),
        ("python", examples.join("json_number_python.wasm")),
        ("js", examples.join("json_number_js.wasm")),
    ];
    if let Ok(times) = std::fs::read_to_string(examples.join("build-times.txt")) {
        println!("toolchain build times (plugins/examples/build.sh, seconds): {}", times.replace('\n', "; "));
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/stats",
        axum::routing::get(|| async { axum::Json(serde_json::json!({"data": {"hits": [12, {"rate": "0.37"}]}})) }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let config = serde_json::json!({"url": format!("http://{addr}/stats"), "path": "data.hits.1.rate"}).to_string();
    let allowed = || AllowedHosts::parse(&[addr.to_string()]).unwrap();
    let ctx = CallContext {
        namespace: "bench".into(),
        run_name: "run".into(),
        metric_name: "m".into(),
        ..Default::default()
    };

    println!("\n| language | component size | compile | cached load | per call p50 | per call p99 |");
    println!("|---|---|---|---|---|---|");
    for (lang, path) in components {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let cache = tempfile::tempdir().unwrap();
        let host_config = || HostConfig { cache_dir: Some(cache.path().to_path_buf()), ..Default::default() };

        let cold = PluginHost::new(host_config()).unwrap();
        let t = Instant::now();
        let info = cold.load_bytes(lang, &bytes, allowed()).unwrap();
        let compile = t.elapsed();
        assert!(!info.cached);
        drop(cold);

        let host = PluginHost::new(host_config()).unwrap();
        let t = Instant::now();
        let info = host.load_bytes(lang, &bytes, allowed()).unwrap();
        let load = t.elapsed();
        assert!(info.cached);

        let mut samples = Vec::with_capacity(SAMPLES);
        for i in 0..WARMUP + SAMPLES {
            let t = Instant::now();
            let m = host.measure(lang, &ctx, &config).await;
            let d = t.elapsed();
            assert_eq!((m.phase, m.value.as_deref()), (Phase::Measured, Some("0.37")), "{lang}: {}", m.message);
            if i >= WARMUP {
                samples.push(d);
            }
        }
        let (p50, p99) = percentiles(samples);
        println!(
            "| {lang} | {:.1} MiB ({} bytes) | {:.2} s | {:.1} ms | {:.2} ms | {:.2} ms |",
            bytes.len() as f64 / f64::from(1 << 20),
            bytes.len(),
            compile.as_secs_f64(),
            load.as_secs_f64() * 1e3,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );
    }
    println!("\n({SAMPLES} calls per language after {WARMUP} warm-up calls, each in a fresh instance)");
}
