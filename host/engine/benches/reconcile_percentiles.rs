//! p50/p99 of one canary reconcile decision, each call timed on its own
//! (`cargo bench -p aviary-engine --bench reconcile_percentiles`). Criterion reports means and
//! medians of batches; a controller cares about the tail of single calls.

use std::hint::black_box;
use std::time::Instant;

mod common;

const WARMUP: usize = 20_000;
const SAMPLES: usize = 200_000;

fn percentile(sorted: &[u64], p: f64) -> u64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn measure(name: &str, f: &dyn Fn() -> usize) {
    for _ in 0..WARMUP {
        black_box(f());
    }
    let mut ns = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let t = Instant::now();
        black_box(f());
        ns.push(t.elapsed().as_nanos() as u64);
    }
    ns.sort_unstable();
    let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64;
    println!(
        "{name:<36} samples {SAMPLES}  mean {mean:>7.0} ns  p50 {:>6} ns  p90 {:>6} ns  p99 {:>6} ns  p99.9 {:>6} ns  max {:>7} ns",
        percentile(&ns, 0.50),
        percentile(&ns, 0.90),
        percentile(&ns, 0.99),
        percentile(&ns, 0.999),
        ns[ns.len() - 1]
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and expects speed.
    let quick = !std::env::args().any(|a| a == "--bench");
    if quick {
        let (ro, observed) = common::basic_case();
        black_box(common::reconcile(&ro, &observed, common::now()));
        let (ro, observed) = common::blue_green_case();
        black_box(common::reconcile(&ro, &observed, common::now()));
        return;
    }
    measure("timer overhead (empty)", &|| 0);
    let (ro, observed) = common::basic_case();
    measure("reconcile/basic-canary", &|| common::reconcile(&ro, &observed, common::now()));
    let (ro, observed) = common::reference_case();
    measure("reconcile/reference-canary", &|| common::reconcile(&ro, &observed, common::now()));
    let (ro, observed) = common::traffic_case();
    measure("reconcile/traffic-routed-dynamic", &|| common::reconcile(&ro, &observed, common::now()));
    let (ro, observed) = common::blue_green_case();
    measure("reconcile/blue-green", &|| common::reconcile(&ro, &observed, common::now()));
}
