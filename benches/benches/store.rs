//! Each store through `openframe_core::Service`: create with the reference POST body, update with the
//! reference PATCH body, read by sys_id; then read by sys_id and a Table API query by `client_session_id`,
//! with few and with many interactions stored.
//!
//! `cargo bench -p openframe-benches --bench store` runs it on memory, SQLite and sled, and on PostgreSQL
//! when `OPENFRAME_TEST_POSTGRES_URL` is set. Environment:
//!
//! - `OPENFRAME_BENCH_STORES`: a comma-separated subset of `memory,sqlite,sled,postgres`.
//! - `OPENFRAME_BENCH_FEW` / `OPENFRAME_BENCH_MANY`: the two sizes (1,000 and 100,000).
//! - `OPENFRAME_BENCH_SEED_SECS`: the most seeding may take per store (60); a store that cannot seed
//!   `MANY` in that time is benched at the size it reached, which the bench id and a line on stderr say.
//!
//! Under `cargo test` (criterion's test mode, no `--bench` argument) the sizes are tiny and every bench runs
//! once, so the targets stay cheap to check.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use openframe_benches::bodies::{caller, create_request, session_id, update_request};
use openframe_benches::seeding::{Seeded, seed};
use openframe_benches::stores::StoreKind;
use openframe_core::query::TableQuery;
use openframe_core::schema::INTERACTION;
use openframe_core::{Service, SysId};
use tokio::runtime::Runtime;

/// How many interactions the update and read benches rotate over.
const WORKING_SET: usize = 100;

/// The sizes and seeding budget of one run.
struct Scale {
    few: usize,
    many: usize,
    seed_budget: Duration,
}

impl Scale {
    fn from_env() -> Self {
        // cargo bench passes `--bench`; cargo test does not, and then criterion runs each bench once.
        let benching = std::env::args().any(|a| a == "--bench");
        let var = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(default)
        };
        if benching {
            Scale {
                few: var("OPENFRAME_BENCH_FEW", 1_000) as usize,
                many: var("OPENFRAME_BENCH_MANY", 100_000) as usize,
                seed_budget: Duration::from_secs(var("OPENFRAME_BENCH_SEED_SECS", 60)),
            }
        } else {
            Scale {
                few: 10,
                many: 50,
                seed_budget: Duration::from_secs(30),
            }
        }
    }
}

fn selected_stores() -> Vec<StoreKind> {
    let wanted = std::env::var("OPENFRAME_BENCH_STORES").ok();
    StoreKind::available()
        .into_iter()
        .filter(|k| {
            wanted
                .as_deref()
                .is_none_or(|w| w.split(',').any(|n| n.trim() == k.name()))
        })
        .collect()
}

fn runtime() -> Runtime {
    // Two workers, as many as the reference machine has cores.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn stores(c: &mut Criterion) {
    let scale = Scale::from_env();
    for kind in selected_stores() {
        let rt = runtime();
        operations(c, &rt, kind);
        by_size(c, &rt, kind, &scale);
    }
}

/// create, update and read on a fresh store.
fn operations(c: &mut Criterion, rt: &Runtime, kind: StoreKind) {
    let store = rt.block_on(kind.open());
    let service = Service::new(store.repo.clone());
    let caller = caller();
    let (create, update) = (create_request(), update_request());
    let ids: Vec<SysId> = rt.block_on(async {
        let mut ids = Vec::with_capacity(WORKING_SET);
        for _ in 0..WORKING_SET {
            let created = service
                .create(&caller, create.clone())
                .await
                .expect("create");
            ids.push(created.sys_id);
        }
        ids
    });

    let mut group = c.benchmark_group(format!("store/{kind}"));
    let (service, caller) = (&service, &caller);
    group.bench_function("create", |b| {
        b.to_async(rt).iter_batched(
            || create.clone(),
            |req| async move { service.create(caller, req).await.expect("create") },
            BatchSize::SmallInput,
        )
    });
    let mut next = 0;
    group.bench_function("update", |b| {
        b.to_async(rt).iter_batched(
            || {
                next = (next + 1) % ids.len();
                (ids[next].clone(), update.clone())
            },
            |(id, req)| async move { service.update(caller, &id, req).await.expect("update") },
            BatchSize::SmallInput,
        )
    });
    let mut next = 0;
    group.bench_function("read_by_sys_id", |b| {
        b.to_async(rt).iter_batched(
            || {
                next = (next + 1) % ids.len();
                ids[next].clone()
            },
            |id| async move { black_box(service.read(&id).await.expect("read")) },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    close(rt, store);
}

/// Read by sys_id and query by `client_session_id`, with few and with many interactions stored.
fn by_size(c: &mut Criterion, rt: &Runtime, kind: StoreKind, scale: &Scale) {
    let store = rt.block_on(kind.open());
    let service = Service::new(store.repo.clone());
    let template = create_request();
    let mut seeded = Seeded::default();
    let mut group = c.benchmark_group(format!("store/{kind}/by_size"));
    for target in [scale.few, scale.many] {
        let started = Instant::now();
        rt.block_on(seed(
            &service,
            &template,
            &mut seeded,
            target,
            scale.seed_budget,
        ));
        let n = seeded.len();
        eprintln!(
            "bench: {kind}: {n} interactions stored (seeded up to {target} in {:.1} s{})",
            started.elapsed().as_secs_f64(),
            if n < target {
                ", the budget ran out"
            } else {
                ""
            }
        );
        let ids: Vec<SysId> = seeded.sessions.iter().map(|(_, id)| id.clone()).collect();
        let service = &service;
        // A large prime stride visits the stored interactions in a scattered order, so that reads are not
        // all of one hot page.
        let mut next = 0;
        group.bench_with_input(BenchmarkId::new("read_by_sys_id", n), &ids, |b, ids| {
            b.to_async(rt).iter_batched(
                || {
                    next = (next + 7_919) % ids.len();
                    ids[next].clone()
                },
                |id| async move { black_box(service.read(&id).await.expect("read")) },
                BatchSize::SmallInput,
            )
        });
        // A Table API query by `client_session_id`: every seeded interaction has a session of its own, so
        // each query finds exactly one.
        let queries: Vec<TableQuery> = seeded
            .sessions
            .iter()
            .map(|(i, _)| session_query(&session_id(*i)))
            .collect();
        let page = rt
            .block_on(service.repository().query_records(&queries[0]))
            .expect("query by client_session_id");
        assert_eq!(
            page.total, 1,
            "{kind}: a seeded session names one interaction"
        );
        let mut next = 0;
        group.bench_with_input(
            BenchmarkId::new("query_by_client_session_id", n),
            &queries,
            |b, queries| {
                b.to_async(rt).iter_batched(
                    || {
                        next = (next + 7_919) % queries.len();
                        queries[next].clone()
                    },
                    |query| async move {
                        black_box(
                            service
                                .repository()
                                .query_records(&query)
                                .await
                                .expect("query"),
                        )
                    },
                    BatchSize::SmallInput,
                )
            },
        );
    }
    group.finish();
    close(rt, store);
}

/// `client_session_id=<session>` on the interaction table, as `GET /api/now/table/interaction?sysparm_query=…`
/// asks it.
fn session_query(session: &str) -> TableQuery {
    TableQuery::parse(
        &INTERACTION,
        Some(&format!("client_session_id={session}")),
        None,
        None,
    )
    .expect("a valid encoded query")
}

/// Drops a store inside the runtime, so that a pool or writer thread shuts down where it was started.
fn close(rt: &Runtime, store: openframe_benches::stores::BenchStore) {
    rt.block_on(async move { drop(store) });
}

criterion_group! {
    name = benches;
    // Fewer, shorter samples than criterion's default: a durable create takes milliseconds, and every
    // create bench leaves its interactions behind.
    config = Criterion::default().sample_size(30).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = stores
}
criterion_main!(benches);
