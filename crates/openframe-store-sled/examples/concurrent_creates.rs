//! Create throughput under concurrency, sled against the in-memory store: `TASKS` tasks each create
//! interactions through `openframe_core::Service` (the reference POST body) for `SECONDS` seconds, on a
//! multi-thread runtime with two workers (the reference machine's cores).
//!
//! ```text
//! cargo run --release -p openframe-store-sled --example concurrent_creates [SECONDS] [TASKS] [STORE…]
//! ```
//!
//! STORE is `memory` or `sled` (default: both). The sled store lives in a fresh temporary directory, on the
//! same disk as `TMPDIR`, so its flushes are real fsyncs. Prints one line per store: creates per second, the
//! mean and the 99th-percentile latency. Not a test: timings depend on the machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openframe_core::{
    Caller, MemoryRepository, Mode, Repository, Service, SysId, VoiceInteractionRequest,
};
use openframe_store_sled::SledRepository;
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds: u64 = args.first().and_then(|s| s.parse().ok()).unwrap_or(5);
    let tasks: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(64);
    let stores: Vec<&str> = match args.get(2..) {
        Some(names) if !names.is_empty() => names.iter().map(String::as_str).collect(),
        _ => vec!["memory", "sled"],
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    for store in stores {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let repo: Arc<dyn Repository> = match store {
            "memory" => Arc::new(MemoryRepository::new()),
            "sled" => Arc::new(SledRepository::open(dir.path()).expect("a sled store")),
            other => panic!("unknown store {other}: memory or sled"),
        };
        let (count, mut latencies) =
            runtime.block_on(run(repo, tasks, Duration::from_secs(seconds)));
        latencies.sort_unstable();
        let p99 = latencies
            .get(latencies.len() * 99 / 100)
            .copied()
            .unwrap_or_default();
        let mean = latencies.iter().sum::<Duration>() / u32::try_from(count.max(1)).unwrap_or(1);
        println!(
            "{store:>6}: {:>8.0} creates/s with {tasks} tasks over {seconds} s; mean {:.2} ms, p99 {:.2} ms",
            count as f64 / seconds as f64,
            mean.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );
    }
}

/// Creates from `tasks` tasks until `length` has passed; how many, and each one's latency.
async fn run(repo: Arc<dyn Repository>, tasks: usize, length: Duration) -> (usize, Vec<Duration>) {
    let service = Service::new(repo);
    let caller = Caller {
        sys_id: SysId::random(),
        user_name: "agent".into(),
    };
    let body = json!({
        "interaction": {
            "userPhoneNumber": "+1303506536",
            "clientSessionId": "a545t65678",
            "callbackPhoneNumber": "+14089965744",
            "additionalParams": {"direction": "inbound", "short_description": "New outbound call"}
        },
        "interactionContext": {"devicetype": "genesys", "requester_session_language": "en-US"},
        "phoneLogs": [
            {"call_id": "2323223", "start_time": "2024-11-04 21:45:00"},
            {"call_id": "33535353", "start_time": "2024-11-04 21:45:00"},
            {"call_id": "1997654", "start_time": "2024-11-04 21:45:00"}
        ],
        "relatedRecords": [
            {"documentTable": "csm_consumer", "documentId": "59e788fbdb1b1200b6075200cf9619d2"},
            {"documentTable": "sys_user", "documentId": "62826bf03710200044e0bfc8bcbe5df1"}
        ]
    });
    let request = VoiceInteractionRequest::parse(&body, Mode::Create).expect("a valid request");
    let deadline = Instant::now() + length;
    let workers: Vec<_> = (0..tasks)
        .map(|_| {
            let (service, caller, request) = (service.clone(), caller.clone(), request.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let start = Instant::now();
                    service
                        .create(&caller, request.clone())
                        .await
                        .expect("a create");
                    latencies.push(start.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.expect("a worker"));
    }
    (all.len(), all)
}
