//! Criterion benchmark of one canary reconcile decision (`cargo bench -p aviary-engine --bench
//! reconcile`).

use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn bench(c: &mut Criterion) {
    let (ro, observed) = common::basic_case();
    c.bench_function("reconcile/basic-canary", |b| b.iter(|| common::reconcile(&ro, &observed, common::now())));
    let (ro, observed) = common::reference_case();
    c.bench_function("reconcile/reference-canary", |b| b.iter(|| common::reconcile(&ro, &observed, common::now())));
    let (ro, observed) = common::traffic_case();
    c.bench_function("reconcile/traffic-routed-dynamic", |b| {
        b.iter(|| common::reconcile(&ro, &observed, common::now()))
    });
    let (ro, observed) = common::blue_green_case();
    c.bench_function("reconcile/blue-green", |b| b.iter(|| common::reconcile(&ro, &observed, common::now())));
}

criterion_group!(benches, bench);
criterion_main!(benches);
