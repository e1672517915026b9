//! Moat's benchmarks. The micro benchmarks are the `benches/` targets of this package
//! (`cargo bench -p moat-bench`); each file lists the cases it measures at its top. Results are
//! recorded under `bench/runs/`.
