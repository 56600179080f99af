//! Scale benchmark on a real control plane (tests/cluster): many one-replica Rollouts with a
//! two-step canary gated by a web analysis against a loopback server, all updated at once.
//!
//! Measures the controller process (peak resident memory, CPU seconds from /proc), the time until
//! every Rollout is Healthy on the new image, reconcile latency p50/p99 (from the controller's
//! `aviary_reconcile_seconds` histogram), and how long each Rollout waited for its first step
//! action after the update (a Rollout waiting on another's analysis would show here). Then an idle
//! phase: optionally more Rollouts, and the controller's memory sampled for a while.
//!
//! ```sh
//! cargo bench -p aviary-controller --bench scale
//! AVIARY_SCALE_ROLLOUTS=1000 AVIARY_SCALE_IDLE_ROLLOUTS=10000 AVIARY_SCALE_IDLE_MINUTES=30 \
//!     cargo bench -p aviary-controller --bench scale
//! AVIARY_SCALE_CONTROLLER_ARGS="--qps 1000 --burst 2000" cargo bench -p aviary-controller --bench scale
//! ```
#![allow(missing_docs)]

use std::time::{Duration, Instant};

use aviary_api::{AnalysisTemplate, Rollout};
use aviary_test_support::bench;
use aviary_test_support::e2e::{self, Metrics, web_template};
use aviary_test_support::namespace;
use k8s_openapi::api::apps::v1::ReplicaSet;
use kube::api::{ListParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn var(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// (resident KiB now, peak resident KiB, CPU seconds) of a process.
fn usage(pid: u32) -> (u64, u64, f64) {
    let u = bench::usage(pid);
    (u.rss_kib, u.hwm_kib, u.cpu_s)
}

async fn metrics_text(port: u16) -> String {
    e2e::http_get(port, "/metrics").await.1
}

/// Cumulative buckets (upper bound, count) of `aviary_reconcile_seconds`.
fn buckets(text: &str) -> Vec<(f64, f64)> {
    text.lines()
        .filter(|l| l.starts_with("aviary_reconcile_seconds_bucket{"))
        .filter_map(|l| {
            let le = l.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().ok()? };
            Some((le, l.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// The q-quantile of the difference of two cumulative histograms, interpolated in its bucket.
fn quantile(after: &[(f64, f64)], before: &[(f64, f64)], q: f64) -> f64 {
    let diff: Vec<(f64, f64)> =
        after.iter().map(|(le, c)| (*le, c - before.iter().find(|(l, _)| l == le).map_or(0.0, |(_, c)| *c))).collect();
    let total = diff.last().map_or(0.0, |(_, c)| *c);
    let target = q * total;
    let mut lower = (0.0, 0.0);
    for (le, c) in diff {
        if c >= target {
            if le.is_infinite() {
                return lower.0;
            }
            let span = (c - lower.1).max(1.0);
            return lower.0 + (le - lower.0) * ((target - lower.1) / span);
        }
        lower = (le, c);
    }
    lower.0
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn manifest(name: &str, image: &str) -> Rollout {
    let steps = json!([{"setWeight": 50}, {"analysis": {"templates": [{"templateName": "ok"}]}}]);
    serde_json::from_value(e2e::rollout(name, 1, image, steps, json!({}))).expect("rollout")
}

async fn create_rollouts(api: &Api<Rollout>, names: impl Iterator<Item = String>, image: &str) -> Result<()> {
    bench::create_all(api, names, |name| Ok(manifest(name, image))).await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let n = var("AVIARY_SCALE_ROLLOUTS", 1000) as usize;
    let idle_n = var("AVIARY_SCALE_IDLE_ROLLOUTS", n as u64) as usize;
    let idle_minutes = var("AVIARY_SCALE_IDLE_MINUTES", 0);
    let timeout = Duration::from_secs(var("AVIARY_SCALE_TIMEOUT_SECONDS", 1800));

    let env = e2e::env_with(std::path::Path::new(env!("CARGO_BIN_EXE_aviary-controller"))).await;
    // Info-level logs: the debug level the tests use would measure the logger. Extra flags (e.g.
    // `--qps 1000 --burst 2000`, to take the client-side throttle out of the times) come from
    // AVIARY_SCALE_CONTROLLER_ARGS.
    let extra = std::env::var("AVIARY_SCALE_CONTROLLER_ARGS").unwrap_or_default();
    let mut args = vec!["--loglevel", "info"];
    args.extend(extra.split_whitespace());
    env.restart_controller_with(&args);
    let pid = env.controller_pid().ok_or("no controller process")?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (base_rss, _, base_cpu) = usage(pid);
    println!("controller pid {pid}: {base_rss} KiB resident at start, {base_cpu:.2} CPU s");

    let ns = namespace("scale").await?;
    let metrics = Metrics::start(1.0).await;
    let templates: Api<AnalysisTemplate> = ns.api();
    let template: AnalysisTemplate = serde_json::from_value(web_template("ok", &metrics.url(), "1s", 2))?;
    templates.create(&PostParams::default(), &template).await?;
    let rollouts: Api<Rollout> = ns.api();
    let resource = kube::api::ApiResource::erase::<Rollout>(&());
    let raw: Api<kube::api::DynamicObject> = Api::namespaced_with(ns.client().clone(), ns.name(), &resource);
    let wait_healthy = |image: &'static str, n: usize| bench::wait_healthy(&raw, image, n, timeout);

    let t = Instant::now();
    create_rollouts(&rollouts, (0..n).map(|i| format!("r{i:05}")), "nginx:1.0").await?;
    let created = t.elapsed();
    let first = wait_healthy("nginx:1.0", n).await?;
    let (rss_initial, _, cpu_initial) = usage(pid);
    println!(
        "{n} Rollouts created in {:.1}s, all Healthy {:.1}s after creation began; controller {rss_initial} KiB, {:.1} CPU s",
        created.as_secs_f64(),
        (created + first).as_secs_f64(),
        cpu_initial - base_cpu
    );

    // Every image at once.
    let before = buckets(&metrics_text(env.ports.0).await);
    let (_, _, cpu_before) = usage(pid);
    let update_started = chrono::Utc::now().timestamp_millis();
    let t = Instant::now();
    // When each Rollout's update was accepted, to time its first step action from that moment.
    let sent = bench::set_images(&rollouts, (0..n).map(|i| format!("r{i:05}")), "nginx:1.1").await?;
    let patched = t.elapsed();
    let all_healthy = wait_healthy("nginx:1.1", n).await? + patched;
    let (rss_after, hwm, cpu_after) = usage(pid);
    let after = buckets(&metrics_text(env.ports.0).await);

    // Time from the update to each Rollout's first step action (its canary ReplicaSet created).
    let rs: Api<ReplicaSet> = ns.api();
    // Creation times have a one-second resolution: a wait is known to within a second.
    let mut waits: Vec<f64> = rs
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(|r| {
            let created = r.creation_timestamp()?.0.as_millisecond();
            let owner = r.owner_references().first()?.name.clone();
            let at = *sent.get(&owner)?;
            (created >= update_started - 999).then(|| (created - at).max(0) as f64 / 1000.0)
        })
        .collect();
    waits.sort_by(f64::total_cmp);

    println!("\n## {n} Rollouts, all images updated at once");
    println!(
        "updates sent in {:.1}s; all Healthy on the new image after {:.1}s",
        patched.as_secs_f64(),
        all_healthy.as_secs_f64()
    );
    println!(
        "controller peak resident memory {hwm} KiB ({:.1} KiB per Rollout above the {base_rss} KiB empty controller)",
        (hwm.saturating_sub(base_rss)) as f64 / n as f64
    );
    println!(
        "controller resident after the update {rss_after} KiB; CPU for the update {:.1} s",
        cpu_after - cpu_before
    );
    println!(
        "reconcile latency p50 {:.1} ms, p99 {:.1} ms (histogram over the update)",
        quantile(&after, &before, 0.5) * 1000.0,
        quantile(&after, &before, 0.99) * 1000.0
    );
    println!(
        "its update accepted → its canary ReplicaSet created (1 s resolution): p50 {:.1}s, p99 {:.1}s, max {:.1}s over {} Rollouts",
        percentile(&waits, 0.5),
        percentile(&waits, 0.99),
        waits.last().copied().unwrap_or(0.0),
        waits.len()
    );
    println!("web analysis endpoint queried {} times", metrics.hits.load(std::sync::atomic::Ordering::SeqCst));

    if idle_n > n {
        let t = Instant::now();
        create_rollouts(&rollouts, (n..idle_n).map(|i| format!("r{i:05}")), "nginx:1.1").await?;
        let created = t.elapsed();
        let ready = wait_healthy("nginx:1.1", idle_n).await?;
        // One reading, so that the split below adds up to the total printed with it.
        let u = bench::usage(pid);
        let (rss, hwm, cpu) = (u.rss_kib, u.hwm_kib, u.cpu_s);
        println!("\n## {idle_n} Rollouts");
        println!(
            "{} more created in {:.1}s, all Healthy {:.1}s later; controller {rss} KiB resident ({:.1} KiB per Rollout), peak {hwm} KiB, {:.1} CPU s in total",
            idle_n - n,
            created.as_secs_f64(),
            ready.as_secs_f64(),
            rss.saturating_sub(base_rss) as f64 / idle_n as f64,
            cpu - base_cpu
        );
        println!(
            "of which anonymous (the data) {} KiB, the program and libraries mapped {} KiB",
            u.anon_kib, u.file_kib
        );
    }
    if idle_minutes > 0 {
        println!("\n## idle for {idle_minutes} minutes with {} Rollouts (resident KiB, CPU s)", idle_n.max(n));
        let started = Instant::now();
        let (rss0, _, cpu0) = usage(pid);
        let mut samples = vec![rss0];
        while started.elapsed() < Duration::from_secs(idle_minutes * 60) {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let (rss, _, cpu) = usage(pid);
            samples.push(rss);
            println!("{:>3} min: {rss} KiB, {:.1} CPU s", started.elapsed().as_secs() / 60, cpu - cpu0);
        }
        let (min, max) = (samples.iter().min().unwrap_or(&0), samples.iter().max().unwrap_or(&0));
        let last = samples.last().unwrap_or(&0);
        println!("idle: start {rss0} KiB, end {last} KiB, min {min} KiB, max {max} KiB");
    }
    Ok(())
}
