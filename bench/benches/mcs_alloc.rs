//! MCS allocator benchmarks (issue 2; DESIGN.md target: all 523,776 pairs in under 1 s).
//!
//! Cases:
//! - `mcs/fill_all_then_exhaust`: a fresh allocator over `c0.c1023` hands out every pair one by one,
//!   then one more allocation must fail with the exhaustion error;
//! - `mcs/allocate_release/{0,50,99}pct`: one allocation (and the release that keeps the fill level
//!   steady) with the space 0%, 50% and 99% full;
//! - `mcs/reserve_release_static`: reserving and releasing a static label `s0:c5,c9,c13` next to
//!   50% fill (blocks its three sub-pairs, then rebuilds the blocked set on release).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rand::rngs::StdRng;
use rand::SeedableRng;
use seclabel::{Level, McsAllocator, McsError, McsSpan};

fn filled(percent: usize, rng: &mut StdRng) -> McsAllocator {
    let mut alloc = McsAllocator::new(McsSpan::full());
    let target = McsSpan::full().pair_count() * percent / 100;
    for _ in 0..target {
        alloc.allocate(rng).expect("space left");
    }
    alloc
}

fn fill_all(c: &mut Criterion) {
    let mut group = c.benchmark_group("mcs");
    group.sample_size(10);
    group.bench_function("fill_all_then_exhaust", |b| {
        let mut rng = StdRng::seed_from_u64(1);
        b.iter_batched(
            || McsAllocator::new(McsSpan::full()),
            |mut alloc| {
                for _ in 0..McsSpan::full().pair_count() {
                    alloc.allocate(&mut rng).expect("space left");
                }
                match alloc.allocate(&mut rng) {
                    Err(McsError::Exhausted { .. }) => alloc,
                    other => panic!("expected exhaustion, got {other:?}"),
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

fn at_fill_levels(c: &mut Criterion) {
    let mut group = c.benchmark_group("mcs/allocate_release");
    for (name, fraction) in [("0pct", 0), ("50pct", 50), ("99pct", 99)] {
        let mut rng = StdRng::seed_from_u64(2);
        let mut alloc = filled(fraction, &mut rng);
        group.bench_function(name, |b| {
            b.iter(|| {
                let level = alloc.allocate(&mut rng).expect("space left");
                alloc.release(&level).expect("just allocated");
                level
            });
        });
    }
    group.finish();
}

fn reserve_static(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(3);
    let mut alloc = filled(50, &mut rng);
    // Pick a static label whose sub-pairs are free.
    let label: Level = (0..1000)
        .map(|i| {
            format!("s0:c{},c{},c{}", i, i + 1, i + 2)
                .parse::<Level>()
                .expect("valid")
        })
        .find(|l| alloc.reserve(l).and_then(|()| alloc.release(l)).is_ok())
        .expect("some triple is free at 50%");
    c.bench_function("mcs/reserve_release_static", |b| {
        b.iter(|| {
            alloc.reserve(&label).expect("free");
            alloc.release(&label).expect("reserved");
        });
    });
}

criterion_group!(benches, fill_all, at_fill_levels, reserve_static);
criterion_main!(benches);
