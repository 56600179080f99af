//! Drop-in, proven against the real thing: every scenario of `tests/argo/scenarios` runs under the
//! real Argo Rollouts controller and under Aviary's, each on its own control plane, driven by the
//! real `kubectl argo rollouts` plugin; after every step the objects of both are compared field by
//! field, and any difference not listed in `tests/argo/deliberate.yaml` fails the test. See
//! `aviary_test_support::oracle` and tests/argo/README.md.
//!
//! `AVIARY_ORACLE_SCENARIOS=a,b` runs only those scenarios; the report of every run is written to
//! `$CARGO_TARGET_TMPDIR/argo-oracle-report.txt`, and what each side recorded after every step to
//! `$CARGO_TARGET_TMPDIR/argo-oracle/<scenario>.<side>.json`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use aviary_test_support::e2e::repo;
use aviary_test_support::oracle::{self, Controller, Crds, Scenario, Side};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Scenarios running at once (each runs on both sides at the same time).
const PARALLEL: usize = 8;

/// Serves `/value/<x>`: `{"value": <x>}`, the metric both controllers' analyses read.
async fn metrics_server() -> String {
    use axum::extract::Path as UrlPath;
    let app = axum::Router::new().route(
        "/value/{v}",
        axum::routing::get(|UrlPath(v): UrlPath<String>| async move {
            let n: f64 = v.parse().unwrap_or(f64::NAN);
            axum::Json(serde_json::json!({ "value": n }))
        }),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    format!("http://{addr}")
}

fn substitute(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, from, to)),
        Value::Object(m) => m.values_mut().for_each(|x| substitute(x, from, to)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_scenario_behaves_as_under_argo() -> TestResult {
    let dir = repo().join("tests/argo");
    let mut scenarios = oracle::load_scenarios(&dir.join("scenarios"))?;
    let deliberate = Arc::new(oracle::load_deliberate(&dir.join("deliberate.yaml"))?);
    if let Ok(only) = std::env::var("AVIARY_ORACLE_SCENARIOS") {
        let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
        scenarios.retain(|s| wanted.contains(&s.name.as_str()));
    }
    assert!(!scenarios.is_empty(), "no scenario selected");
    let metrics = metrics_server().await;
    for s in &mut scenarios {
        s.objects.iter_mut().for_each(|o| substitute(o, "{{metrics}}", &metrics));
    }
    let argo_dir = oracle::argo_dir()?;
    let aviary_bin = Path::new(env!("CARGO_BIN_EXE_aviary-controller")).to_path_buf();

    // One pair of control planes per CRD set in use, started in parallel.
    let mut sets: Vec<Crds> = scenarios.iter().map(|s| s.crds).collect();
    sets.sort();
    sets.dedup();
    let mut sides: BTreeMap<Crds, Arc<(Side, Side)>> = BTreeMap::new();
    let started = Instant::now();
    let starts = sets.iter().map(|&crds| {
        let (argo_dir, aviary_bin) = (argo_dir.clone(), aviary_bin.clone());
        async move {
            let (a, b) = tokio::join!(
                Side::start("argo", crds, Controller::Argo, &argo_dir, &aviary_bin),
                Side::start("aviary", crds, Controller::Aviary, &argo_dir, &aviary_bin),
            );
            Ok::<_, oracle::OracleError>((crds, (a?, b?)))
        }
    });
    for pair in futures::future::join_all(starts).await {
        let (crds, pair) = pair?;
        sides.insert(crds, Arc::new(pair));
    }
    eprintln!("oracle: {} control plane pair(s) up in {:.0?}", sides.len(), started.elapsed());

    let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let count = scenarios.len();
    let by_name: BTreeMap<String, Scenario> = scenarios.iter().map(|s| (s.name.clone(), s.clone())).collect();
    let mut tasks = Vec::new();
    for (i, scenario) in scenarios.into_iter().enumerate() {
        let pair = sides.get(&scenario.crds).cloned().ok_or("no control planes for the scenario's CRDs")?;
        let (limit, deliberate) = (limit.clone(), deliberate.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = limit.acquire().await;
            let started = Instant::now();
            let outcome = run(&pair, &scenario, i, &deliberate).await;
            (scenario.name.clone(), started.elapsed(), outcome)
        }));
    }
    let mut report = String::new();
    let mut differed = Vec::new();
    for t in tasks {
        let (name, took, outcome) = t.await?;
        match outcome {
            Ok(diffs) if diffs.is_empty() => report.push_str(&format!("scenario {name}: same as Argo ({took:.0?})\n")),
            Ok(diffs) => {
                report.push_str(&oracle::report(&name, &diffs));
                differed.push(name);
            }
            Err(e) => {
                report.push_str(&format!("scenario {name}: could not run: {e}\n"));
                differed.push(name);
            }
        }
    }
    // Eight scenarios at once on a loaded machine (the whole suite, the fuzz build) stretch both
    // controllers unevenly, and a snapshot can then catch one side between two writes that the
    // other made together: a scenario that differed runs once more, alone, and fails only if it
    // differs again. Both runs are in the report, so a difference that comes and goes is seen.
    let mut failed = Vec::new();
    for (j, name) in differed.into_iter().enumerate() {
        let scenario = by_name.get(&name).ok_or("a scenario that ran is known")?;
        let pair = sides.get(&scenario.crds).cloned().ok_or("no control planes for the scenario's CRDs")?;
        let started = Instant::now();
        match run(&pair, scenario, count + j, &deliberate).await {
            Ok(diffs) if diffs.is_empty() => report.push_str(&format!(
                "scenario {name}: same as Argo on a second run, alone ({:.0?}); the run above was under load\n",
                started.elapsed()
            )),
            Ok(diffs) => {
                report.push_str(&format!("scenario {name}: differs again on a second run, alone:\n"));
                report.push_str(&oracle::report(&name, &diffs));
                failed.push(name);
            }
            Err(e) => {
                report.push_str(&format!("scenario {name}: could not run a second time: {e}\n"));
                failed.push(name);
            }
        }
    }
    let file = Path::new(env!("CARGO_TARGET_TMPDIR")).join("argo-oracle-report.txt");
    std::fs::write(&file, &report)?;
    eprintln!("{report}\noracle report: {}", file.display());
    assert!(failed.is_empty(), "{} scenario(s) differ from Argo: {failed:?}\n{report}", failed.len());
    Ok(())
}

async fn run(
    pair: &(Side, Side),
    scenario: &Scenario,
    index: usize,
    deliberate: &[oracle::Deliberate],
) -> Result<Vec<oracle::Difference>, oracle::OracleError> {
    let namespace = format!("s{index}-{}", scenario.name).chars().take(63).collect::<String>();
    // The reference side runs Argo throughout; the compared side Aviary, or, when migrating, the
    // `migrate` controller first and the other one after the switch.
    let (reference, compared) = match scenario.migrate {
        None => ((None, None), (None, None)),
        Some(first) => {
            let second = match first {
                Controller::Argo => Controller::Aviary,
                Controller::Aviary => Controller::Argo,
            };
            ((Some(Controller::Argo), Some(Controller::Argo)), (Some(first), Some(second)))
        }
    };
    let (a, b) = tokio::join!(
        oracle::run_side(&pair.0, scenario, &namespace, reference),
        oracle::run_side(&pair.1, scenario, &namespace, compared),
    );
    let (a, b) = match (a, b) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) => return Err(format!("on Argo's side: {e}").into()),
        (_, Err(e)) => return Err(format!("on Aviary's side: {e}\n{}", oracle::logs(&pair.0, &pair.1)).into()),
    };
    // Both sides' records, for reading a difference in its context.
    let dumps = Path::new(env!("CARGO_TARGET_TMPDIR")).join("argo-oracle");
    std::fs::create_dir_all(&dumps)?;
    for (side, records) in [("argo", &a), ("aviary", &b)] {
        let steps: Vec<Value> =
            records.iter().map(|r| serde_json::json!({"step": r.step, "snapshot": r.snapshot})).collect();
        std::fs::write(dumps.join(format!("{}.{side}.json", scenario.name)), serde_json::to_string_pretty(&steps)?)?;
    }
    Ok(oracle::compare(&scenario.name, &a, &b, deliberate))
}
