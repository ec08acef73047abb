//! Fixtures for openframe's criterion benches (`benches/`): the reference request bodies, the stores under
//! test, and seeding a store with many interactions. The load benchmark is `scripts/load-bench.sh`; what both
//! measure, and the figures, are in `docs/PERFORMANCE.md`.

pub mod bodies;
pub mod seeding;
pub mod stores;
