//! A quick load run of creates through `Service`, to see what group commit buys: closed-loop throughput at
//! a given concurrency, then (optionally) latency at a fixed, open-loop rate.
//!
//! ```text
//! cargo run --release -p openframe-store-sqlite --example create_load -- [sqlite|memory] [TASKS] [SECONDS] [RATE]
//! ```
//!
//! `sqlite` (the default) creates in a file database in a temporary directory on the current disk
//! (`TMPDIR` chooses which), WAL with `synchronous=FULL`; `memory` runs the in-memory store for comparison.
//! With `RATE` (creates per second) a second phase issues creates at that pace regardless of how fast they
//! finish, and reports their latency. Peak RSS is the whole process's (`VmHWM`).

use std::env;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openframe_core::{
    Caller, MemoryRepository, Mode, Repository, Service, SysId, VoiceInteractionRequest,
};
use openframe_store_sqlite::SqliteRepository;

const CREATE_JSON: &[u8] = include_bytes!("../../../docs/examples/create.json");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = env::args().skip(1).collect();
    let store = args.first().map_or("sqlite", String::as_str).to_owned();
    let tasks: usize = args.get(1).map_or(Ok(64), |s| s.parse())?;
    let seconds: u64 = args.get(2).map_or(Ok(5), |s| s.parse())?;
    let rate: Option<u64> = args.get(3).map(|s| s.parse()).transpose()?;

    let dir = tempfile::tempdir()?;
    let sqlite = match store.as_str() {
        "memory" => None,
        "sqlite" => Some(Arc::new(SqliteRepository::open(
            &dir.path().join("load.db"),
        )?)),
        other => return Err(format!("unknown store {other:?}: sqlite or memory").into()),
    };
    let repo: Arc<dyn Repository> = match &sqlite {
        Some(sqlite) => Arc::clone(sqlite) as Arc<dyn Repository>,
        None => Arc::new(MemoryRepository::new()),
    };
    let value: serde_json::Value = serde_json::from_slice(CREATE_JSON)?;
    let request = VoiceInteractionRequest::parse(&value, Mode::Create)?;
    let service = Service::new(Arc::clone(&repo));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let duration = Duration::from_secs(seconds);
        let (count, mut latencies) = closed_loop(&service, &request, tasks, duration).await;
        let per_second = count as f64 / duration.as_secs_f64();
        println!(
            "{store}: {tasks} tasks for {seconds} s: {count} creates, {per_second:.0}/s; {}",
            summary(&mut latencies)
        );
        if let Some(rate) = rate {
            let mut latencies = open_loop(&service, &request, rate, duration).await;
            println!(
                "{store}: {rate}/s paced for {seconds} s: {}",
                summary(&mut latencies)
            );
        }
    });
    if let Some(sqlite) = sqlite {
        println!("{sqlite:?}");
    }
    println!("peak RSS: {}", peak_rss());
    Ok(())
}

fn caller() -> Caller {
    Caller {
        sys_id: SysId::random(),
        user_name: "load".to_owned(),
    }
}

/// `tasks` tasks each creating one interaction after another until `duration` is up.
async fn closed_loop(
    service: &Service,
    request: &VoiceInteractionRequest,
    tasks: usize,
    duration: Duration,
) -> (usize, Vec<Duration>) {
    let deadline = Instant::now() + duration;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (service, request) = (service.clone(), request.clone());
            tokio::spawn(async move {
                let caller = caller();
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    if let Err(e) = service.create(&caller, request.clone()).await {
                        eprintln!("create failed: {e}");
                        break;
                    }
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap_or_default());
    }
    (all.len(), all)
}

/// Creates started at `rate` per second for `duration`, each on its own task, however long they take.
async fn open_loop(
    service: &Service,
    request: &VoiceInteractionRequest,
    rate: u64,
    duration: Duration,
) -> Vec<Duration> {
    let start = Instant::now();
    let mut started = 0_u64;
    let mut handles = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    while start.elapsed() < duration {
        tick.tick().await;
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while started < due {
            started += 1;
            let (service, request) = (service.clone(), request.clone());
            handles.push(tokio::spawn(async move {
                let begun = Instant::now();
                service
                    .create(&caller(), request)
                    .await
                    .map(|_| begun.elapsed())
            }));
        }
    }
    let mut latencies = Vec::with_capacity(handles.len());
    for handle in handles {
        match handle.await {
            Ok(Ok(latency)) => latencies.push(latency),
            Ok(Err(e)) => eprintln!("create failed: {e}"),
            Err(e) => eprintln!("create task failed: {e}"),
        }
    }
    latencies
}

fn summary(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "no latencies".to_owned();
    }
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    format!(
        "latency p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// The process's peak resident set, from `/proc/self/status` (Linux only).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
