//! A plugin that lies costs one run, never the controller: each hostile answer of a registered
//! provider (`acme/liar`, the hostile test component) is used by an AnalysisRun beside an honest
//! one, on the real control plane; the controller stays up and healthy, the honest run succeeds,
//! every hostile run reaches a final phase that names the reason, and the controller's CPU and
//! memory stay bounded. A reconcile that panics (the test-only fault hook) is caught, reported
//! and retried while other Rollouts progress.

mod common;

use std::time::{Duration, Instant};

use aviary_api::{AnalysisPhase, AnalysisRun, Rollout};
use aviary_test_support::{TestNamespace, namespace};
use common::*;
use serde_json::json;

const T: Duration = Duration::from_secs(150);

/// The Rollout whose every reconcile panics (the fault hook matches the name in any namespace).
const PANICKING: &str = "boom";

/// How long a measurement may stay Running here (6 h in production).
const MAX_RUNNING: &str = "15s";

async fn env() -> &'static Env {
    let options = Options {
        // A status budget above etcd's 1.5 MiB limit, so that writes are refused as too large and
        // the controller must fit the status into less on its own.
        args: vec![
            "--max-measurement-running".into(),
            MAX_RUNNING.into(),
            "--analysis-run-budget".into(),
            (4 << 20).to_string(),
        ],
        env: vec![("AVIARY_TEST_PANIC_IN_RECONCILE".into(), PANICKING.into())],
    };
    env_with_options(std::path::Path::new(env!("CARGO_BIN_EXE_aviary-controller")), options).await
}

/// An AnalysisRun with one metric measured by `plugin` with `config`.
fn run(name: &str, plugin: &str, config: serde_json::Value, metric: serde_json::Value) -> serde_json::Value {
    let mut m = json!({"name": "m", "provider": {"plugin": {plugin: config}}, "consecutiveErrorLimit": 0});
    if let (Some(m), Some(extra)) = (m.as_object_mut(), metric.as_object()) {
        for (k, v) in extra {
            m.insert(k.clone(), v.clone());
        }
    }
    json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": name},
           "spec": {"metrics": [m]}})
}

async fn final_run(ns: &TestNamespace, name: &str) -> Result<AnalysisRun, String> {
    eventually_ok(&format!("AnalysisRun {name} to complete"), T, || async {
        let r = ns.api::<AnalysisRun>().get(name).await.ok()?;
        r.status.as_ref().is_some_and(|s| s.phase.is_completed()).then_some(r)
    })
    .await
}

/// CPU seconds (user + system) and resident memory in KiB of a process, from /proc.
fn usage(pid: u32) -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some((ticks as f64 / 100.0, rss))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lie_costs_one_run_and_never_the_controller() -> TestResult {
    let env = env().await;
    let ns = namespace("lying").await?;
    let pid = env.controller_pid().expect("the controller runs");
    let (cpu_before, _) = usage(pid).expect("/proc of the controller");
    let started = Instant::now();

    // (run name, liar mode, what the final measurement must say)
    let refused = [
        ("resume-far", "resume-far", format!("measurement still Running after {MAX_RUNNING}")),
        ("resume-max", "resume-max", format!("measurement still Running after {MAX_RUNNING}")),
        ("resume-now", "resume-now", format!("measurement still Running after {MAX_RUNNING}")),
        ("huge-metadata", "huge-metadata", "metadata of 1048577 bytes exceeds 16384".to_string()),
        ("wide-metadata", "wide-metadata", "metadata of 100000 entries exceeds 64".to_string()),
        ("huge-message", "huge-message", "message of 1048576 bytes exceeds 4096".to_string()),
        ("deep-value", "deep-value", "nesting too deep".to_string()),
        ("float-overflow", "float-overflow", "does not fit a 64-bit float".to_string()),
        ("garbage", "garbage", "the value is not JSON".to_string()),
    ];
    for (name, mode, _) in &refused {
        let _: AnalysisRun =
            create(&ns, run(name, "acme/liar", json!({"mode": mode}), json!({"successCondition": "true"}))).await;
    }
    // Values at the limits of a float are legal and judged.
    let _: AnalysisRun = create(
        &ns,
        run("float-limits", "acme/liar", json!({"mode": "float-limits"}), json!({"successCondition": "result[0] > 0"})),
    )
    .await;
    // Answers just inside every bound, 40 of them, kept (retention 100) in one status: about
    // 2 MB, more than etcd takes. The controller's budget here is 4 MiB, so the API server
    // refuses the write as too large; the controller halves the budget and drops the oldest
    // measurements until the write is accepted.
    let _: AnalysisRun = create(
        &ns,
        json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun", "metadata": {"name": "fat"},
               "spec": {"metrics": [{"name": "m", "provider": {"plugin": {"acme/liar": {"mode": "fat"}}},
                                     "count": 40, "interval": "1s", "successCondition": "true"}],
                        "measurementRetention": [{"metricName": "m", "limit": 100}]}}),
    )
    .await;
    let _: AnalysisRun = create(
        &ns,
        run("honest", "acme/steady", json!({"mode": "ok", "value": 0.97}), json!({"successCondition": "result > 0.9"})),
    )
    .await;

    // While the liars run, the controller stays healthy.
    let health = tokio::spawn({
        let port = env.ports.1;
        async move {
            let mut worst = 200;
            for _ in 0..40 {
                let (code, _) = http_get(port, "/healthz").await;
                if code != 200 {
                    worst = code;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            worst
        }
    });

    let honest = final_run(&ns, "honest").await?;
    assert_eq!(honest.status.as_ref().map(|s| s.phase), Some(AnalysisPhase::Successful));

    for (name, _, reason) in &refused {
        let r = final_run(&ns, name).await?;
        let status = r.status.unwrap();
        assert_eq!(status.phase, AnalysisPhase::Error, "{name}: {}", status.message);
        let m = &status.metric_results[0];
        let last = m.measurements.last().expect("a measurement");
        assert_eq!(last.phase, AnalysisPhase::Error, "{name}");
        assert!(last.message.contains(reason.as_str()), "{name}: {:?} lacks {reason:?}", last.message);
        assert!(
            status.message.contains("consecutiveErrors (1) > consecutiveErrorLimit (0)"),
            "{name}: {}",
            status.message
        );
        // A refused answer leaves nothing of itself in the status.
        assert!(last.value.is_empty() && last.metadata.keys().all(|k| k == "aviary.dev/plugin"), "{name}: {last:?}");
        assert!(last.resume_at.is_none() && last.finished_at.is_some(), "{name}: {last:?}");
    }

    let limits = final_run(&ns, "float-limits").await?.status.unwrap();
    assert_eq!(limits.phase, AnalysisPhase::Successful, "{}", limits.message);
    assert_eq!(
        limits.metric_results[0].measurements[0].value,
        "[1.7976931348623157e+308,-1.7976931348623157e+308,5e-324,-0,9007199254740992]"
    );

    let fat = final_run(&ns, "fat").await?.status.unwrap();
    assert_eq!(fat.phase, AnalysisPhase::Successful, "{}", fat.message);
    let m = &fat.metric_results[0];
    assert_eq!((m.count, m.successful), (40, 40), "every measurement counted");
    assert!(m.measurements.len() < 40, "the oldest measurements were dropped: {} kept", m.measurements.len());
    assert!(m.measurements.len() >= 10, "no more than the status needed: {} kept", m.measurements.len());
    let size = serde_json::to_vec(&fat).map(|v| v.len()).unwrap_or(usize::MAX);
    // Whatever the budget, what was written is what etcd takes (1.5 MiB by default).
    assert!(size <= 3 << 19, "status of {size} bytes");
    let log = std::fs::read_to_string(&env.log)?;
    assert!(
        log.lines().any(|l| l.contains("status refused as too large; fitting it into half") && l.contains("run=fat")),
        "the API server never refused a write as too large:\n{}",
        env.log_tail(30)
    );

    assert_eq!(health.await?, 200, "/healthz answered something else while the liars ran");
    assert_eq!(env.controller_pid(), Some(pid), "the controller was not restarted");
    let (cpu_after, rss_kib) = usage(pid).expect("the controller is still running");
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_after - cpu_before;
    assert!(cpu < wall * 0.75, "the controller used {cpu:.1} s of CPU in {wall:.1} s");
    assert!(rss_kib < 400 * 1024, "the controller's resident memory is {rss_kib} KiB");
    eprintln!("lying plugins: {wall:.1} s, controller CPU {cpu:.1} s, RSS {} MiB", rss_kib / 1024);

    // The plugin metrics name the liar's refused answers.
    let (_, metrics) = http_get(env.ports.0, "/metrics").await;
    assert!(
        metrics.lines().any(|l| l.starts_with(
            "aviary_plugin_calls_total{plugin=\"acme/liar\",operation=\"measure\",outcome=\"invalid_value\"}"
        )),
        "{metrics}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_reconcile_is_caught_reported_and_retried_while_others_progress() -> TestResult {
    let env = env().await;
    let ns = namespace("panic").await?;
    let pid = env.controller_pid().expect("the controller runs");
    let steps = json!([{"setWeight": 50}, {"setWeight": 100}]);
    let _: Rollout = create(&ns, rollout(PANICKING, 1, "nginx:1.19", steps.clone(), json!({}))).await;
    let _: Rollout = create(&ns, rollout("calm", 2, "nginx:1.19", steps, json!({}))).await;
    let v1 = wait_phase(&ns, "calm", "Healthy", T).await.status.unwrap().stable_rs;
    set_image(&ns, "calm", "nginx:1.20").await;
    let calm = wait_phase(&ns, "calm", "Healthy", T).await;
    assert_ne!(calm.status.unwrap().stable_rs, v1, "the other rollout completed an update");

    let panics = eventually_ok("the panic counted", T, || async {
        let (_, body) = http_get(env.ports.0, "/metrics").await;
        let line = body.lines().find(|l| l.starts_with("aviary_reconcile_panics_total{kind=\"Rollout\"}"))?;
        let n: f64 = line.rsplit(' ').next()?.parse().ok()?;
        (n >= 2.0).then_some(n)
    })
    .await?;
    assert!(panics >= 2.0, "retried after the first panic");
    let log = std::fs::read_to_string(&env.log)?;
    assert!(
        log.lines()
            .any(|l| l.contains("reconcile panicked") && l.contains(&format!("Rollout {}/{PANICKING}", ns.name()))),
        "{}",
        env.log_tail(40)
    );
    // Retried with back-off, not in a hot loop: a handful of panics, not hundreds.
    assert!(panics < 20.0, "{panics} panics");
    let (code, _) = http_get(env.ports.1, "/healthz").await;
    assert_eq!(code, 200);
    assert_eq!(env.controller_pid(), Some(pid), "the controller was not restarted");
    // The panicking Rollout got no status from this controller.
    let boom = ns.api::<Rollout>().get(PANICKING).await?;
    assert!(boom.status.as_ref().and_then(|s| s.phase).is_none(), "{:?}", boom.status);
    Ok(())
}
