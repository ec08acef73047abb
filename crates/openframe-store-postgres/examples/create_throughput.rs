//! Create throughput through [`openframe_core::Service`]: concurrent tasks creating the reference's POST
//! example (three phone logs, two related records, two context variables) for a few seconds, first on the
//! in-memory store, then on PostgreSQL in a fresh schema (dropped afterwards) with the pool the server uses.
//!
//! ```sh
//! export OPENFRAME_TEST_POSTGRES_URL=$(scripts/postgres-test-db.sh)
//! cargo run --release -p openframe-store-postgres --example create_throughput -- [seconds] [tasks] [connections] [stores]
//! ```
//!
//! Defaults: 5 seconds, 64 tasks, the store's default pool ([`PostgresOptions::default`]), both stores
//! (`memory,postgres`; name one to run only it). Commits wait for
//! the disk as in production (`synchronous_commit` is the server's setting). Prints creates per second for
//! each store, their ratio, and the mean and 99th-percentile latency of one create. On Linux, with the server
//! on the same machine, it also prints the CPU time one create costs this process and the server's backends
//! (from `/proc`): on a machine busy with other work, throughput says little, but CPU time per create stays
//! comparable between two versions of the store.

use std::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openframe_core::{
    Caller, MemoryRepository, Mode, Repository, Service, SysId, VoiceInteractionRequest,
};
use openframe_store_postgres::{PostgresOptions, PostgresRepository};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

const CREATE_JSON: &[u8] = include_bytes!("../../../docs/examples/create.json");

/// What one run measured.
struct Run {
    creates: u64,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

impl Run {
    fn per_second(&self) -> f64 {
        self.creates as f64 / self.elapsed.as_secs_f64()
    }

    fn report(&mut self, store: &str) {
        self.latencies.sort();
        let mean = self.latencies.iter().sum::<Duration>() / self.latencies.len().max(1) as u32;
        let p99 = self
            .latencies
            .get(self.latencies.len() * 99 / 100)
            .copied()
            .unwrap_or_default();
        println!(
            "{store:>8}: {:>9.0} creates/s ({} in {:.1} s), mean {:.2} ms, p99 {:.2} ms",
            self.per_second(),
            self.creates,
            self.elapsed.as_secs_f64(),
            mean.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );
    }
}

/// `tasks` tasks creating through one service until `duration` has passed.
async fn run(
    repo: Arc<dyn Repository>,
    request: &VoiceInteractionRequest,
    tasks: usize,
    duration: Duration,
) -> Result<Run, Box<dyn Error>> {
    let service = Service::new(repo);
    let caller = Caller {
        sys_id: SysId::random(),
        user_name: "bench".to_owned(),
    };
    let started = Instant::now();
    let deadline = started + duration;
    let mut handles = Vec::with_capacity(tasks);
    for _ in 0..tasks {
        let (service, caller, request) = (service.clone(), caller.clone(), request.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let start = Instant::now();
                service.create(&caller, request.clone()).await?;
                latencies.push(start.elapsed());
            }
            Ok::<_, openframe_core::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await??);
    }
    Ok(Run {
        creates: latencies.len() as u64,
        elapsed: started.elapsed(),
        latencies,
    })
}

/// CPU time (user + system) process `pid` has used, from `/proc/<pid>/stat`; `None` where there is none.
fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; the fields after it are plain numbers.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // USER_HZ is 100 on Linux.
    Some(Duration::from_millis(ticks * 10))
}

/// CPU time used by the server processes serving connections named `application_name`.
async fn backend_cpu_time(url: &str, application_name: &str) -> Option<Duration> {
    let mut admin = PgConnection::connect(url).await.ok()?;
    let pids: Vec<i32> =
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity WHERE application_name = $1")
            .bind(application_name)
            .fetch_all(&mut admin)
            .await
            .ok()?;
    let _ = admin.close().await;
    pids.iter().map(|pid| cpu_time(&pid.to_string())).sum()
}

async fn drop_schema(url: &str, schema: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(url).await?;
    // The name is ours: a prefix and digits.
    admin
        .execute(AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE"
        )))
        .await?;
    admin.close().await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(5), |s| s.parse())?;
    let tasks: usize = args.next().map_or(Ok(64), |s| s.parse())?;
    let mut options = PostgresOptions::default();
    if let Some(connections) = args.next() {
        options.max_connections = connections.parse()?;
    }
    let stores = args.next().unwrap_or_else(|| "memory,postgres".to_owned());
    let url = std::env::var("OPENFRAME_TEST_POSTGRES_URL")
        .map_err(|_| "set OPENFRAME_TEST_POSTGRES_URL (scripts/postgres-test-db.sh prints one)")?;
    let value: serde_json::Value = serde_json::from_slice(CREATE_JSON)?;
    let request = VoiceInteractionRequest::parse(&value, Mode::Create)?;
    let duration = Duration::from_secs(seconds);
    println!(
        "{tasks} tasks creating for {seconds} s; PostgreSQL pool of {} connections",
        options.max_connections
    );

    let mut memory = None;
    if stores.contains("memory") {
        let mut run = run(Arc::new(MemoryRepository::new()), &request, tasks, duration).await?;
        run.report("memory");
        memory = Some(run.per_second());
    }
    if !stores.contains("postgres") {
        return Ok(());
    }

    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let schema = format!("ofbench_{now}");
    let separator = if url.contains('?') { '&' } else { '?' };
    let store_url = format!("{url}{separator}application_name={schema}");
    let store: Arc<dyn Repository> =
        Arc::new(PostgresRepository::connect_in_schema(&store_url, &schema, options).await?);
    // Connections the pool opened for the migrations are counted before, so only the run is measured.
    let server_before = backend_cpu_time(&url, &schema).await;
    let client_before = cpu_time("self");
    let result = run(Arc::clone(&store), &request, tasks, duration).await;
    let client = client_before.zip(cpu_time("self")).map(|(a, b)| b - a);
    let server = server_before
        .zip(backend_cpu_time(&url, &schema).await)
        .map(|(a, b)| b.saturating_sub(a));
    drop(store);
    drop_schema(&url, &schema).await?;
    let mut postgres = result?;
    postgres.report("postgres");
    let per_create = |cpu: Option<Duration>| match cpu {
        Some(cpu) => format!(
            "{:.3} ms",
            cpu.as_secs_f64() * 1e3 / postgres.creates.max(1) as f64
        ),
        None => "n/a".to_owned(),
    };
    println!(
        "CPU per create: this process {}, server backends {}",
        per_create(client),
        per_create(server)
    );
    if let Some(memory) = memory {
        println!(
            "postgres / memory: {:.1}%",
            100.0 * postgres.per_second() / memory
        );
    }
    Ok(())
}
