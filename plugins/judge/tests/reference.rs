//! The judge's statistics held to reference implementations:
//!
//! - SciPy: `tests/judge/reference.py` computes, for the sample pairs of `tests/judge/cases.json`,
//!   SciPy's Mann–Whitney U and two-sided asymptotic p-value (tie and continuity corrected), the
//!   confidence interval of the shift by inverting SciPy's test, the range the estimate must lie
//!   in, Kayenta's labels where they are decided, and Kayenta's weighted score of a set of them.
//!   The script creates its own virtualenv with pinned SciPy (python3-venv, which
//!   scripts/prerequisites.sh installs); this test runs it and fails, saying why, when the
//!   reference cannot be computed.
//! - R: the values of R's `wilcox.test` that Kayenta's own MannWhitneySuite ties out with.

use std::path::PathBuf;
use std::process::Command;

use aviary_plugin_judge::classify::{Label, TestParams, classify};
use aviary_plugin_judge::input::Series;
use aviary_plugin_judge::settings::Settings;
use aviary_plugin_judge::stats::brent::TOLERANCE;
use aviary_plugin_judge::stats::mannwhitney::{shift_interval, u_test};
use aviary_plugin_judge::{Value, judge};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    scipy: String,
    tolerance: f64,
    cases: Vec<Case>,
    scoring: Scoring,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    u: f64,
    p_value: f64,
    confidence: f64,
    lower: f64,
    upper: f64,
    estimate_range: [f64; 2],
    labels: std::collections::BTreeMap<String, Option<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Scoring {
    pass: f64,
    marginal: f64,
    group_weights: serde_json::Value,
    metrics: std::collections::BTreeMap<String, ScoredMetric>,
    labels: std::collections::BTreeMap<String, String>,
    score: f64,
}

#[derive(Deserialize)]
struct ScoredMetric {
    case: String,
    direction: String,
    groups: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Samples {
    cases: Vec<SampleCase>,
}

#[derive(Deserialize)]
struct SampleCase {
    name: String,
    canary: Vec<f64>,
    baseline: Vec<f64>,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs the reference script; any failure fails the test with the script's own words.
fn reference() -> (Reference, Samples) {
    let cases = repo().join("tests/judge/cases.json");
    // One file per process, so that two test runs at once do not read each other's half-written output.
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("judge-reference-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let script = repo().join("tests/judge/reference.py");
    let run = Command::new("python3").arg(&script).arg(&cases).arg(&out).output().unwrap_or_else(|e| {
        panic!(
            "cannot run python3 ({e}): the judge's reference values are computed by {} with SciPy; install \
             python3 and python3-venv (scripts/prerequisites.sh does)",
            script.display()
        )
    });
    assert!(
        run.status.success(),
        "{} could not compute the reference ({}):\n{}{}",
        script.display(),
        run.status,
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&out).expect("the reference script wrote its output");
    let _ = std::fs::remove_file(&out);
    // Python writes NaN for a mean ratio of a zero mean: the extended JSON of the boundary.
    let reference: Reference = serde_json::from_str(&text.replace("NaN", "null")).expect("reference JSON");
    let samples: Samples = serde_json::from_str(&std::fs::read_to_string(&cases).unwrap()).expect("cases JSON");
    assert_eq!(reference.cases.len(), samples.cases.len());
    (reference, samples)
}

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= abs.max(rel * a.abs().max(b.abs()))
}

#[test]
fn statistics_agree_with_scipy_and_labels_and_score_with_kayentas_rules() {
    let (reference, samples) = reference();
    eprintln!("reference: SciPy {}", reference.scipy);
    let mut decided = 0;
    for (r, s) in reference.cases.iter().zip(&samples.cases) {
        assert_eq!(r.name, s.name);
        let name = &r.name;

        // U and the p-value.
        let t = u_test(&s.canary, &s.baseline).unwrap();
        assert!(close(t.u, r.u, 1e-12, 1e-9), "{name}: U {} != SciPy's {}", t.u, r.u);
        assert!(close(t.p_value, r.p_value, 1e-9, 1e-300), "{name}: p {} != SciPy's {}", t.p_value, r.p_value);

        // The interval: the root finder stops within its tolerance of the test's jump.
        let i = shift_interval(&s.canary, &s.baseline, r.confidence).unwrap();
        let slack = 2.0 * TOLERANCE;
        assert!((i.lower - r.lower).abs() <= slack, "{name}: lower {} != {} (inverted SciPy test)", i.lower, r.lower);
        assert!((i.upper - r.upper).abs() <= slack, "{name}: upper {} != {} (inverted SciPy test)", i.upper, r.upper);
        let [lo, hi] = r.estimate_range;
        assert!(
            i.estimate >= lo - slack && i.estimate <= hi + slack,
            "{name}: estimate {} outside [{lo}, {hi}] where SciPy's p-value is 1",
            i.estimate
        );

        // Kayenta's labels, where the reference could decide them.
        for (direction, want) in &r.labels {
            let Some(want) = want else { continue };
            let settings = Settings::parse(&format!(
                r#"{{"is": "pass", "pass": 95, "marginal": 75, "direction": "{direction}"}}"#
            ))
            .unwrap();
            let params = TestParams { confidence: r.confidence, tolerance: reference.tolerance };
            let series = Series { canary: s.canary.clone(), baseline: s.baseline.clone() };
            let got = classify(name, &series, &settings.metric(name), params);
            assert_eq!(got.label.to_string(), *want, "{name}, direction {direction}");
            decided += 1;
        }
    }
    assert!(decided >= 30, "only {decided} labels were decided by the reference: the table says too little");
    let labels: Vec<&str> =
        reference.cases.iter().flat_map(|c| c.labels.values().flatten()).map(|s| s.as_str()).collect();
    for l in ["High", "Low", "Pass"] {
        assert!(labels.contains(&l), "no case of the table is {l}");
    }

    // The weighted score of several metrics, through the whole judge.
    let sc = &reference.scoring;
    let by_name = |case: &str| samples.cases.iter().find(|c| c.name == case).unwrap();
    let mut value = serde_json::Map::new();
    let mut settings = serde_json::Map::new();
    for (metric, m) in &sc.metrics {
        let c = by_name(&m.case);
        value.insert(metric.clone(), serde_json::json!({"canary": c.canary, "baseline": c.baseline}));
        let mut s = serde_json::json!({"direction": m.direction});
        if let Some(g) = &m.groups {
            s["groups"] = serde_json::json!(g);
        }
        settings.insert(metric.clone(), s);
    }
    let expression = serde_json::json!({
        "is": "pass", "pass": sc.pass, "marginal": sc.marginal,
        "groupWeights": sc.group_weights, "metrics": settings,
    })
    .to_string();
    let value = Value::from_json(serde_json::json!({ "metrics": value }));
    let j = judge(&expression, &value).unwrap();
    for m in &j.metrics {
        assert_eq!(m.label.to_string(), sc.labels[&m.name], "{}", m.name);
    }
    assert_eq!(j.score.score, sc.score, "score of {:?}", sc.labels);
    assert!(sc.score < sc.marginal && !j.holds(), "the table's score is a Fail: pass must not hold");
}

/// R's `wilcox.test(experiment, control, conf.int = TRUE)` as Kayenta's MannWhitneySuite ties
/// out with it (its "Tie out with R Version" cases, whose samples are copied here).
#[test]
fn the_interval_ties_out_with_r_as_kayentas_does() {
    let control = [
        1.5, 6.0, 5.0, 2.5, 2.5, 2.0, 2.0, 3.5, 3.0, 3.0, 3.0, 2.0, 3.0, 8.0, 4.0, 2.5, 3.0, 2.5, 2.5, 2.0, 2.5, 2.0,
        2.0, 2.5, 3.5, 3.0, 1.5, 5.0, 2.5, 5.5, 2.0, 2.5, 3.5, 2.0, 2.5, 4.0, 2.0, 2.0, 2.0, 2.0, 5.5, 4.5, 4.0, 3.0,
        3.0, 3.5, 2.5, 3.0, 2.5, 4.0, 6.0, 2.0, 5.0, 6.0, 3.5, 3.0, 54.5, 3.0, 5.0, 6.0, 3.5, 4.5, 2.5, 2.0, 6.0, 5.0,
        2.5, 3.5, 2.0, 3.0, 2.5, 3.5, 3.5, 2.5, 3.0, 4.5, 3.0, 15.5, 5.0, 2.5, 3.0, 4.0, 3.5, 4.0, 4.0, 2.0, 4.5, 2.5,
        4.0, 3.0,
    ];
    let experiment = [
        2.5, 2.5, 2.0, 2.5, 3.5, 2.0, 3.5, 1.5, 3.0, 3.0, 2.5, 3.5, 2.0, 2.5, 2.0, 2.0, 5.0, 3.0, 2.0, 1.5, 2.0, 4.0,
        3.0, 2.5, 3.0, 2.0, 2.0, 2.0, 2.5, 3.5, 1.5, 1.5, 3.5, 2.0, 2.5, 2.5, 3.0, 3.5, 2.5, 6.5, 2.5, 4.0, 2.5, 3.0,
        2.5, 6.5, 2.5, 3.0, 1.5, 2.0, 2.5, 3.0, 7.5, 1.5, 2.0, 4.0, 2.5, 2.0, 2.5, 3.5, 4.0, 2.5, 3.0, 2.5, 2.0, 3.5,
        3.0, 16.5, 3.0, 3.0, 7.0, 4.5, 5.0, 2.0, 3.5, 6.0, 1.5, 3.0, 2.5, 4.0, 3.0, 1.5, 5.0, 3.0, 2.5, 5.5, 3.0, 1.5,
        2.5, 6.0,
    ];
    let i = shift_interval(&experiment, &control, 0.95).unwrap();
    assert!((i.lower - -0.500002521696696).abs() < 1e-6, "{i:?}");
    assert!((i.upper - -3.486287505871302e-5).abs() < 1e-6, "{i:?}");
    assert!((i.estimate - -0.4999393907180323).abs() < 1e-4, "{i:?}");

    let experiment = [
        1.5, 2.0, 5.0, 1.5, 1.5, 8.5, 1.0, 1.0, 2.0, 1.0, 1.5, 0.5, 2.0, 1.5, 2.0, 1.5, 1.0, 2.5, 1.5, 1.5, 2.0, 1.5,
        1.5, 1.5, 2.0, 2.0, 1.0, 5.5, 1.5, 2.0, 1.5, 1.5, 1.0, 2.5, 1.0, 2.0, 1.5, 1.5, 2.0, 2.0, 1.5, 1.5, 1.0, 1.0,
        2.0, 0.5, 1.5, 0.5, 3.5, 1.5, 3.0, 19.0, 0.5, 1.5, 0.5, 1.5, 2.0, 1.5, 1.5, 1.5, 1.5, 2.0, 1.5, 2.0, 2.0, 1.5,
        1.0, 1.5, 1.0, 2.0, 1.0, 2.0, 1.5, 1.5, 3.0, 2.0, 1.5, 1.5, 0.5, 2.0, 1.5, 1.0, 2.0, 1.0, 1.0, 2.0, 1.0, 2.0,
        1.5, 1.0, 1.0, 2.0, 1.5, 1.5, 1.5, 0.5, 1.5, 1.5, 0.5, 1.0, 1.5, 1.5, 1.5, 1.0, 2.0, 2.0, 2.0, 1.5, 1.0, 1.5,
        1.0, 1.0, 1.5, 3.5, 2.0, 1.5, 1.0, 2.0, 1.5, 5.5, 0.5, 2.0, 3.5, 1.5, 1.0, 2.0, 0.5, 2.5, 1.0, 1.5, 0.5, 2.0,
        2.0, 1.0, 0.5, 1.5, 1.0, 1.5, 0.5, 0.5, 1.0, 1.5, 1.0, 1.5, 0.5, 1.5, 1.0, 1.0, 0.5, 1.0, 0.5, 4.0, 1.0, 1.5,
        2.0, 5.5, 1.5, 0.5, 2.0, 1.0, 1.5, 1.0, 1.5, 1.5, 1.0, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5, 2.0, 0.5, 1.5, 1.0, 2.0,
        1.0, 1.0, 0.5, 1.0,
    ];
    let control = [
        1.5, 1.5, 1.0, 2.0, 1.5, 1.5, 1.5, 2.0, 1.0, 1.0, 2.0, 1.5, 1.5, 1.0, 1.5, 1.5, 1.5, 1.5, 1.5, 2.0, 1.0, 1.5,
        3.0, 2.0, 1.0, 1.5, 1.5, 1.5, 2.0, 1.5, 1.0, 1.0, 1.5, 2.5, 2.0, 0.0, 1.0, 2.0, 2.0, 1.5, 3.0, 2.0, 1.0, 2.5,
        0.5, 1.5, 0.5, 2.5, 2.0, 1.5, 1.5, 2.0, 1.0, 4.5, 2.5, 0.5, 2.5, 1.5, 1.5, 1.0, 2.0, 1.0, 2.5, 1.5, 2.0, 1.5,
        3.0, 1.5, 1.5, 1.5, 1.5, 2.0, 1.0, 2.5, 1.0, 1.5, 2.5, 1.5, 2.5, 2.0, 1.5, 1.5, 1.5, 2.5, 1.0, 7.5, 1.5, 3.0,
        5.5, 1.0, 1.5, 2.0, 1.0, 1.5, 2.5, 2.5, 1.0, 1.0, 2.5, 1.5, 1.5, 3.0, 4.0, 1.0, 1.5, 2.0, 1.5, 1.5, 1.5, 2.5,
        1.5, 3.5, 2.5, 1.5, 2.0, 1.0, 4.0, 1.5, 1.0, 1.5, 2.5, 2.5, 2.0, 2.5, 1.5, 1.5, 2.0, 1.0, 1.5, 2.0, 1.5, 1.0,
        2.5, 1.5, 1.5, 2.0, 2.0, 1.0, 1.5, 2.5, 0.5, 2.0, 2.5, 2.0, 1.0, 2.0, 0.5, 1.5, 1.0, 2.5, 1.0, 1.5, 1.0, 7.0,
        1.0, 3.5, 1.5, 2.0, 1.5, 1.5, 2.0, 3.0, 1.5, 1.5, 2.0, 1.5, 2.0, 1.5, 4.0, 2.0, 1.5, 1.5, 1.5, 1.5, 1.5, 0.5,
        2.0, 1.0, 1.5, 0.5,
    ];
    let i = shift_interval(&experiment, &control, 0.98).unwrap();
    assert!((i.lower - -0.4999173250549087).abs() < 1e-6, "{i:?}");
    assert!((i.upper - -6.912685789769486e-6).abs() < 1e-6, "{i:?}");
    assert!((i.estimate - -3.45044082729315e-5).abs() < 1e-4, "{i:?}");
}

/// A judgement on constant samples (Kayenta's noise) is the same every time.
#[test]
fn a_verdict_is_reproducible() {
    let v = Value::parse(r#"{"canary": [10, 10, 10, 10, 10], "baseline": [8, 8, 8, 8, 8]}"#).unwrap();
    let first = judge(r#"{"is": "fail", "pass": 95, "marginal": 75}"#, &v).unwrap();
    for _ in 0..5 {
        assert_eq!(judge(r#"{"is": "fail", "pass": 95, "marginal": 75}"#, &v).unwrap(), first);
    }
    assert_eq!(first.metrics[0].label, Label::High);
}
