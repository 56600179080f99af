//! Aviary and the real Argo Rollouts controller (built by tests/argo), side by side on the same
//! workload, each on a fresh control plane of tests/cluster: N one-replica canaries
//! (`setWeight: 50`, a 5 s pause) created, then every image patched at once, then idle.
//!
//! Read from /proc (resident memory, CPU) and from each controller's own
//! `controller_clientset_k8s_request_total`: CPU, resident memory after creation, after the
//! update and at its peak (sampled every second, outside the bench's own scrapes of /metrics),
//! API requests by resource and verb, the time from the first patch to all Healthy, idle CPU.
//! Each controller runs with its defaults (Argo's `--qps 40 --burst 80`, Aviary's own).
//!
//! ```sh
//! cargo bench -p aviary-controller --bench vs-argo                      # N = 1,000 and 3,000
//! AVIARY_VS_ARGO_SIZES=200 AVIARY_VS_ARGO_IDLE_SECONDS=30 cargo bench -p aviary-controller --bench vs-argo
//! AVIARY_VS_ARGO_CONTROLLERS=aviary AVIARY_VS_ARGO_AVIARY_ARGS="--qps 100" \
//!     AVIARY_VS_ARGO_AVIARY_ENV="MALLOC_ARENA_MAX=2" cargo bench -p aviary-controller --bench vs-argo
//! # a heap profile of Aviary (the table's figures are then the profiler's process):
//! AVIARY_VS_ARGO_CONTROLLERS=aviary AVIARY_VS_ARGO_AVIARY_WRAPPER="heaptrack -o /tmp/aviary" \
//!     cargo bench -p aviary-controller --bench vs-argo
//! ```
#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aviary_api::Rollout;
use aviary_test_support::Cluster;
use aviary_test_support::bench::{self, BenchError, Requests, Usage, usage};
use aviary_test_support::e2e;
use aviary_test_support::oracle::{self, Crds};
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::json;

type Result<T> = std::result::Result<T, BenchError>;

const CONTROLLER_NS: &str = "argo-rollouts";
const NS: &str = "bench";

fn var(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Argo,
    Aviary,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Which::Argo => "Argo",
            Which::Aviary => "Aviary",
        }
    }
}

/// What one run measured.
#[derive(Debug, Default, Clone)]
struct Run {
    created_healthy_s: f64,
    rss_created_kib: u64,
    cpu_create_s: f64,
    update_healthy_s: f64,
    cpu_update_s: f64,
    rss_updated_kib: u64,
    /// Of `rss_updated_kib`: anonymous (the data) and file-backed (the program mapped in).
    anon_updated_kib: u64,
    file_updated_kib: u64,
    peak_update_kib: u64,
    hwm_kib: u64,
    idle_cpu_s: f64,
    idle_s: u64,
    rss_idle_kib: u64,
    requests_create: Requests,
    requests_update: Requests,
    requests_idle: Requests,
    /// Events in the Rollouts' namespace after the update, by reason.
    events: BTreeMap<String, usize>,
    /// Events in the Rollouts' namespace after idling (those a controller deferred included).
    events_after_idle: usize,
    /// Events the controller counted as dropped (Aviary's `aviary_events_dropped_total`;
    /// client-go drops without counting).
    events_dropped: Option<f64>,
}

/// The controller process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Samples a process's resident memory every second; samples taken while the bench scrapes
/// the controller's /metrics (and for two seconds after) are left out of the peak, since a scrape
/// of Argo's per-object counters costs it memory the workload does not.
struct Sampler {
    peak: Arc<AtomicU64>,
    quiet: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let (peak, quiet, stop) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
        let (p, q, s) = (peak.clone(), quiet.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::SeqCst) {
                if !q.load(Ordering::SeqCst) {
                    p.fetch_max(usage(pid).rss_kib, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        Sampler { peak, quiet, stop }
    }

    fn reset(&self) -> u64 {
        self.peak.swap(0, Ordering::SeqCst)
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

async fn scrape(port: u16, sampler: &Sampler) -> Requests {
    bench::requests(&scrape_text(port, sampler).await)
}

/// The controller's /metrics, read outside the memory sampler's peak.
async fn scrape_text(port: u16, sampler: &Sampler) -> String {
    sampler.quiet.store(true, Ordering::SeqCst);
    let text = e2e::http_get(port, "/metrics").await.1;
    tokio::time::sleep(Duration::from_secs(2)).await;
    sampler.quiet.store(false, Ordering::SeqCst);
    text
}

fn spawn(which: Which, cluster: &Cluster, argo_dir: &std::path::Path, log: &std::path::Path) -> Result<(Process, u16)> {
    let (metrics, health) = (e2e::free_port(), e2e::free_port());
    let out = std::fs::File::create(log)?;
    let kubeconfig = cluster.kubeconfig_path();
    let mut cmd = match which {
        Which::Argo => {
            let mut c = Command::new(argo_dir.join("argo-rollouts-controller"));
            c.arg("--kubeconfig").arg(kubeconfig);
            c.args(["--metricsPort", &metrics.to_string(), "--healthzPort", &health.to_string()]);
            c.args(["--loglevel", &var("AVIARY_VS_ARGO_ARGO_LOGLEVEL", "info")]);
            c.args(var("AVIARY_VS_ARGO_ARGO_ARGS", "").split_whitespace());
            c.env("POD_NAMESPACE", CONTROLLER_NS);
            c
        }
        Which::Aviary => {
            // A command to run Aviary under (a profiler: `heaptrack -o /tmp/aviary`), whose own
            // process is then the one measured.
            let wrapper = var("AVIARY_VS_ARGO_AVIARY_WRAPPER", "");
            let mut words = wrapper.split_whitespace();
            let mut c = match words.next() {
                Some(program) => {
                    let mut c = Command::new(program);
                    c.args(words).arg(env!("CARGO_BIN_EXE_aviary-controller"));
                    c
                }
                None => Command::new(env!("CARGO_BIN_EXE_aviary-controller")),
            };
            c.arg("--kubeconfig").arg(kubeconfig);
            c.args(["--namespace", CONTROLLER_NS, "--bind-address", "127.0.0.1"]);
            c.args(["--metrics-port", &metrics.to_string(), "--healthz-port", &health.to_string()]);
            c.args(["--loglevel", &var("AVIARY_VS_ARGO_AVIARY_LOGLEVEL", "info")]);
            c.args(var("AVIARY_VS_ARGO_AVIARY_ARGS", "").split_whitespace());
            c.env("AVIARY_CACHE_DIR", e2e::plugin_cache());
            // Environment for Aviary alone (e.g. `MALLOC_ARENA_MAX=2`, an allocator preloaded).
            for pair in var("AVIARY_VS_ARGO_AVIARY_ENV", "").split_whitespace() {
                if let Some((k, v)) = pair.split_once('=') {
                    c.env(k, v);
                }
            }
            c
        }
    };
    let child = cmd.stdin(Stdio::null()).stdout(out.try_clone()?).stderr(out).spawn()?;
    Ok((Process(child), metrics))
}

fn manifest(name: &str, image: &str) -> Result<Rollout> {
    let steps = json!([{"setWeight": 50}, {"pause": {"duration": "5s"}}]);
    Ok(serde_json::from_value(e2e::rollout(name, 1, image, steps, json!({})))?)
}

async fn run(which: Which, n: usize, idle: Duration, timeout: Duration) -> Result<Run> {
    let argo_dir = oracle::argo_dir()?;
    let cluster = Cluster::start().await?;
    let client: Client = cluster.client().await?;
    let crds = if which == Which::Argo { Crds::Argo } else { Crds::Aviary };
    oracle::install_crds(&client, crds, &argo_dir).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in [CONTROLLER_NS, NS] {
        let object: Namespace = serde_json::from_value(json!({"metadata": {"name": ns}}))?;
        namespaces.create(&PostParams::default(), &object).await?;
    }
    e2e::eventually_ok("the bench namespace's default ServiceAccount", Duration::from_secs(60), || {
        let api: Api<k8s_openapi::api::core::v1::ServiceAccount> = Api::namespaced(client.clone(), NS);
        async move { api.get_opt("default").await.ok().flatten().map(|_| ()) }
    })
    .await?;

    let log = cluster.dir().join(format!("{}.log", which.name().to_lowercase()));
    let (process, port) = spawn(which, &cluster, &argo_dir, &log)?;
    let pid = process.0.id();
    e2e::eventually_ok("the controller's metrics endpoint", Duration::from_secs(60), || async move {
        (e2e::http_get(port, "/metrics").await.0 == 200).then_some(())
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let sampler = Sampler::start(pid);
    let rollouts: Api<Rollout> = Api::namespaced(client.clone(), NS);
    let resource = ApiResource::erase::<Rollout>(&());
    let raw: Api<DynamicObject> = Api::namespaced_with(client.clone(), NS, &resource);
    let names = || (0..n).map(|i| format!("r{i:05}"));
    let mut out = Run::default();

    // Creation.
    let r0 = scrape(port, &sampler).await;
    let u0 = usage(pid);
    let t = Instant::now();
    bench::create_all(&rollouts, names(), |name| manifest(name, "nginx:1.0")).await?;
    bench::wait_healthy(&raw, "nginx:1.0", n, timeout).await?;
    out.created_healthy_s = t.elapsed().as_secs_f64();
    let u1 = usage(pid);
    out.rss_created_kib = u1.rss_kib;
    out.cpu_create_s = u1.cpu_s - u0.cpu_s;
    let r1 = scrape(port, &sampler).await;
    out.requests_create = bench::requests_between(&r0, &r1);
    println!(
        "{} N={n}: created, all Healthy in {:.0} s; {} KiB resident",
        which.name(),
        out.created_healthy_s,
        out.rss_created_kib
    );

    // Every image at once.
    sampler.reset();
    let u1 = usage(pid);
    let t = Instant::now();
    bench::set_images(&rollouts, names(), "nginx:1.1").await?;
    bench::wait_healthy(&raw, "nginx:1.1", n, timeout).await?;
    out.update_healthy_s = t.elapsed().as_secs_f64();
    let u2: Usage = usage(pid);
    out.peak_update_kib = sampler.reset().max(u2.rss_kib);
    out.cpu_update_s = u2.cpu_s - u1.cpu_s;
    out.rss_updated_kib = u2.rss_kib;
    out.anon_updated_kib = u2.anon_kib;
    out.file_updated_kib = u2.file_kib;
    let r2 = scrape(port, &sampler).await;
    out.requests_update = bench::requests_between(&r1, &r2);
    println!(
        "{} N={n}: updated, all Healthy {:.0} s after the first patch; {:.1} CPU s; {} KiB resident, peak {} KiB",
        which.name(),
        out.update_healthy_s,
        out.cpu_update_s,
        out.rss_updated_kib,
        out.peak_update_kib
    );

    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(client.clone(), NS);
    for e in events.list(&Default::default()).await?.items {
        *out.events.entry(e.reason.unwrap_or_default()).or_default() += 1;
    }

    // Idle.
    let u2 = usage(pid);
    tokio::time::sleep(idle).await;
    let u3 = usage(pid);
    out.idle_cpu_s = u3.cpu_s - u2.cpu_s;
    out.idle_s = idle.as_secs();
    out.rss_idle_kib = u3.rss_kib;
    out.hwm_kib = u3.hwm_kib;
    let text = scrape_text(port, &sampler).await;
    out.requests_idle = bench::requests_between(&r2, &bench::requests(&text));
    out.events_after_idle = events.list(&Default::default()).await?.items.len();
    out.events_dropped =
        text.lines().find_map(|l| l.strip_prefix("aviary_events_dropped_total ")).and_then(|v| v.trim().parse().ok());
    drop(sampler);
    drop(process);
    Ok(out)
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

fn ratio(argo: f64, aviary: f64) -> String {
    if argo > 0.0 { format!("{:.2}", aviary / argo) } else { "–".into() }
}

/// Requests summed by (resource, verb), the status codes other than 2xx shown apart.
fn by_resource(r: &Requests) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for ((resource, verb, code), v) in r {
        let key =
            if code.starts_with('2') { format!("{verb} {resource}") } else { format!("{verb} {resource} ({code})") };
        *out.entry(key).or_default() += v;
    }
    out
}

/// Requests other than Event writes.
fn without_events(r: &Requests) -> f64 {
    r.iter().filter(|((resource, _, _), _)| resource != "event").map(|(_, v)| v).sum()
}

/// A row of the table: what it shows, its figure in a run, and how the figure is written.
type Row<'a> = (&'a str, fn(&Run) -> f64, &'a dyn Fn(f64) -> String);

fn table(n: usize, argo: &Run, aviary: &Run) {
    println!("\n| N = {n} | Argo | Aviary | Aviary / Argo |");
    println!("|---|---|---|---|");
    let seconds = |v: f64| format!("{v:.0} s");
    let cpu = |v: f64| format!("{v:.1} s");
    let memory = |v: f64| mib(v as u64);
    let count = |v: f64| format!("{v:.0}");
    let idle = format!("idle CPU over {} s", aviary.idle_s.max(argo.idle_s));
    let rows: [Row; 18] = [
        ("created → all Healthy", |r| r.created_healthy_s, &seconds),
        ("controller CPU, creation", |r| r.cpu_create_s, &cpu),
        ("controller CPU, update", |r| r.cpu_update_s, &cpu),
        ("resident memory after creation", |r| r.rss_created_kib as f64, &memory),
        ("resident memory after the update", |r| r.rss_updated_kib as f64, &memory),
        ("… of which anonymous (heap, stacks)", |r| r.anon_updated_kib as f64, &memory),
        ("… of which the program and libraries, mapped", |r| r.file_updated_kib as f64, &memory),
        ("peak resident during the update (outside /metrics scrapes)", |r| r.peak_update_kib as f64, &memory),
        ("API requests, creation", |r| bench::total(&r.requests_create), &count),
        ("API requests, update", |r| bench::total(&r.requests_update), &count),
        // What a controller defers past the update (Aviary's Events wait for the reconciles)
        // is still the update's: the window and the idle time after it, together.
        (
            "API requests, update and idle together",
            |r| bench::total(&r.requests_update) + bench::total(&r.requests_idle),
            &count,
        ),
        // The same without Events, which each controller drops under load in its own way.
        ("… of them not Events", |r| without_events(&r.requests_update) + without_events(&r.requests_idle), &count),
        ("Events in the namespace after idling", |r| r.events_after_idle as f64, &count),
        ("Events counted as dropped", |r| r.events_dropped.unwrap_or(f64::NAN), &count),
        ("first patch → all Healthy", |r| r.update_healthy_s, &seconds),
        (&idle, |r| r.idle_cpu_s, &cpu),
        ("resident memory after idling", |r| r.rss_idle_kib as f64, &memory),
        ("API requests while idle", |r| bench::total(&r.requests_idle), &count),
    ];
    for (what, value, show) in rows {
        let (a, b) = (value(argo), value(aviary));
        let shown = |v: f64| if v.is_nan() { "–".to_string() } else { show(v) };
        let r = if a.is_nan() || b.is_nan() { "–".to_string() } else { ratio(a, b) };
        println!("| {what} | {} | {} | {r} |", shown(a), shown(b));
    }
    for (phase, a, b) in [
        ("the update", &argo.requests_update, &aviary.requests_update),
        ("the idle time", &argo.requests_idle, &aviary.requests_idle),
    ] {
        println!("\nAPI requests of {phase} by verb and resource (N = {n}):\n");
        println!("| request | Argo | Aviary |");
        println!("|---|---|---|");
        let (a, b) = (by_resource(a), by_resource(b));
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let show = |m: &BTreeMap<String, f64>| m.get(k).map_or("–".to_string(), |v| format!("{v:.0}"));
            println!("| {k} | {} | {} |", show(&a), show(&b));
        }
    }
    println!("\nEvents in the Rollouts' namespace after the update, by reason (N = {n}):\n");
    println!("| reason | Argo | Aviary |");
    println!("|---|---|---|");
    let keys: std::collections::BTreeSet<&String> = argo.events.keys().chain(aviary.events.keys()).collect();
    for k in keys {
        let show = |m: &BTreeMap<String, usize>| m.get(k).map_or("–".to_string(), |v| v.to_string());
        println!("| {k} | {} | {} |", show(&argo.events), show(&aviary.events));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let sizes: Vec<usize> =
        var("AVIARY_VS_ARGO_SIZES", "1000,3000").split(',').filter_map(|s| s.trim().parse().ok()).collect();
    let which: Vec<Which> = var("AVIARY_VS_ARGO_CONTROLLERS", "argo,aviary")
        .split(',')
        .filter_map(|s| match s.trim() {
            "argo" => Some(Which::Argo),
            "aviary" => Some(Which::Aviary),
            _ => None,
        })
        .collect();
    let idle = Duration::from_secs(var("AVIARY_VS_ARGO_IDLE_SECONDS", "180").parse()?);
    let timeout = Duration::from_secs(var("AVIARY_VS_ARGO_TIMEOUT_SECONDS", "3600").parse()?);
    println!("load at start: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    for n in sizes {
        let mut results = BTreeMap::new();
        for w in &which {
            let r = run(*w, n, idle, timeout).await?;
            results.insert(w.name(), r);
        }
        let (argo, aviary) =
            (results.get("Argo").cloned().unwrap_or_default(), results.get("Aviary").cloned().unwrap_or_default());
        table(n, &argo, &aviary);
        println!("\nload now: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
    }
    Ok(())
}
