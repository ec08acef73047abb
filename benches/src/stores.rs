//! The stores the benches run on, each fresh and private to one bench: memory, a SQLite file, a sled
//! directory (both in a temporary directory), and PostgreSQL in a schema of its own when
//! `OPENFRAME_TEST_POSTGRES_URL` names a database.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use openframe_core::{MemoryRepository, Repository};
use openframe_store_postgres::{PostgresOptions, PostgresRepository};
use openframe_store_sled::SledRepository;
use openframe_store_sqlite::SqliteRepository;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

/// The environment variable naming the PostgreSQL database the benches may use (as the tests do).
pub const POSTGRES_URL_VAR: &str = "OPENFRAME_TEST_POSTGRES_URL";

/// A kind of store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    /// The in-memory reference store.
    Memory,
    /// A SQLite file.
    Sqlite,
    /// A sled directory.
    Sled,
    /// A PostgreSQL schema.
    Postgres,
}

impl StoreKind {
    /// The kinds this machine can bench: PostgreSQL only when [`POSTGRES_URL_VAR`] is set.
    pub fn available() -> Vec<StoreKind> {
        let mut kinds = vec![StoreKind::Memory, StoreKind::Sqlite, StoreKind::Sled];
        if postgres_url().is_some() {
            kinds.push(StoreKind::Postgres);
        }
        kinds
    }

    /// Its name in bench ids.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Memory => "memory",
            StoreKind::Sqlite => "sqlite",
            StoreKind::Sled => "sled",
            StoreKind::Postgres => "postgres",
        }
    }

    /// Opens a fresh, empty store of this kind. Must run inside a tokio runtime (PostgreSQL needs one).
    pub async fn open(self) -> BenchStore {
        match self {
            StoreKind::Memory => BenchStore {
                repo: Arc::new(MemoryRepository::new()),
                _dir: None,
                _schema: None,
            },
            StoreKind::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let repo = SqliteRepository::open(&dir.path().join("bench.db"))
                    .expect("a SQLite store in a temporary directory");
                BenchStore {
                    repo: Arc::new(repo),
                    _dir: Some(dir),
                    _schema: None,
                }
            }
            StoreKind::Sled => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let repo = SledRepository::open(&dir.path().join("bench.sled"))
                    .expect("a sled store in a temporary directory");
                BenchStore {
                    repo: Arc::new(repo),
                    _dir: Some(dir),
                    _schema: None,
                }
            }
            StoreKind::Postgres => {
                let url =
                    postgres_url().expect("StoreKind::available offers PostgreSQL only with a URL");
                let schema = fresh_schema_name();
                let repo = PostgresRepository::connect_in_schema(
                    &url,
                    &schema,
                    PostgresOptions::default(),
                )
                .await
                .unwrap_or_else(|e| panic!("cannot open PostgreSQL schema {schema}: {e}"));
                BenchStore {
                    repo: Arc::new(repo),
                    _dir: None,
                    _schema: Some(Schema { url, name: schema }),
                }
            }
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A store opened for one bench; dropping it removes its files or its schema.
///
/// Fields drop in order: the store first (files closed, pool released), then what it lived in.
#[derive(Debug)]
pub struct BenchStore {
    /// The store.
    pub repo: Arc<dyn Repository>,
    _dir: Option<TempDir>,
    _schema: Option<Schema>,
}

/// A PostgreSQL schema the benches made, dropped with everything in it when this is dropped.
#[derive(Debug)]
struct Schema {
    url: String,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Drop may run inside a runtime, which cannot be blocked on: a thread with a runtime of its own
        // works inside one and outside.
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(drop_schema(&url, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!(
                "bench: could not drop PostgreSQL schema {}: {dropped:?}",
                self.name
            );
        }
    }
}

fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.is_empty())
}

/// `openframe_bench_<unix seconds>_<pid>_<n>`: unique on this machine, and plainly ours.
fn fresh_schema_name() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!(
        "openframe_bench_{secs}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn drop_schema(url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(url).await?;
    // The name is ours (letters, digits, underscores), so it needs no escaping.
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
        )))
        .await?;
    admin.close().await
}
