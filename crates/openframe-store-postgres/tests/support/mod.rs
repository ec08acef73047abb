//! What the PostgreSQL tests share: finding the test database (or saying loudly that they were skipped), a
//! fresh schema per test that is dropped afterwards, and records to store.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::cell::Cell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openframe_core::schema::{INTERACTION, PHONE_LOG, RELATED_RECORD, field};
use openframe_core::{InteractionAggregate, Record, SysId};
use openframe_store_postgres::{PostgresOptions, PostgresRepository};
use sqlx::{Connection, Executor, PgConnection};

/// The variable that names the test database.
pub const URL_VAR: &str = "OPENFRAME_TEST_POSTGRES_URL";

/// Prefix of every test schema; the rest of the name is its creation time and a random part.
const SCHEMA_PREFIX: &str = "oft_";

/// Schemas of this age that are still there were left by a test run that crashed: the next run drops them.
const LEFTOVER_AGE: Duration = Duration::from_secs(6 * 60 * 60);

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Says that `test` did not run, straight to the process's stderr so that the test harness's capture cannot
/// hide it; in CI, where the database is required, fails the test instead.
pub fn skip(test: &str, why: &str) {
    if in_ci() {
        panic!(
            "{test}: {why}, and CI=true requires PostgreSQL (export {URL_VAR}=$(scripts/postgres-test-db.sh))"
        );
    }
    thread_local! {
        /// Whether this test (libtest gives each its own thread) already said so: the model-based
        /// conformance test asks for hundreds of stores.
        static SAID: Cell<bool> = const { Cell::new(false) };
    }
    if SAID.replace(true) {
        return;
    }
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: {why}. Run `export {URL_VAR}=$(scripts/postgres-test-db.sh)` to test PostgreSQL. ***"
    );
}

/// The test database's URL, if the variable is set.
fn database_url(test: &str) -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ => {
            skip(test, &format!("{URL_VAR} is not set"));
            None
        }
    }
}

/// `url` with query parameters added (they override what the URL says).
pub fn with_params(url: &str, params: &[(&str, &str)]) -> String {
    let mut url = url.to_owned();
    for (k, v) in params {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("{k}={v}"));
    }
    url
}

/// A schema of its own for one test: the store connects into it, and dropping this drops it with all it
/// holds. Store connections carry the schema's name as their `application_name`, so that the drop (and the
/// outage test) can end exactly this test's connections.
#[derive(Debug)]
pub struct TestSchema {
    /// The test database, as given.
    pub url: String,
    /// The schema's name.
    pub name: String,
}

impl TestSchema {
    /// A fresh schema name on the test database; `None` (after saying so) when the test is skipped.
    pub async fn new(test: &str) -> Option<TestSchema> {
        let url = database_url(test)?;
        let mut admin = match tokio::time::timeout(
            Duration::from_secs(10),
            PgConnection::connect(&url),
        )
        .await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                skip(test, &format!("cannot connect to {URL_VAR}: {e}"));
                return None;
            }
            Err(_) => {
                skip(test, &format!("{URL_VAR} did not answer within 10 s"));
                return None;
            }
        };
        drop_leftovers(&mut admin).await;
        let _ = admin.close().await;

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let random = SysId::random();
        let name = format!("{SCHEMA_PREFIX}{now}_{}", &random.as_str()[..12]);
        Some(TestSchema { url, name })
    }

    /// The URL the store uses: the test database, with this schema's name as `application_name`, and
    /// commits that do not wait for the disk (test data need not survive a crash of the server, and the
    /// model-based conformance test commits thousands of times).
    pub fn store_url(&self) -> String {
        with_params(
            &self.url,
            &[
                ("application_name", &self.name),
                ("options", "-c%20synchronous_commit%3Doff"),
            ],
        )
    }

    /// A store in this schema.
    pub async fn connect(&self, options: PostgresOptions) -> PostgresRepository {
        PostgresRepository::connect_in_schema(&self.store_url(), &self.name, options)
            .await
            .unwrap_or_else(|e| panic!("connecting into schema {}: {e:?}", self.name))
    }

    /// Ends every connection of this schema's stores, waiting until they are gone.
    pub async fn terminate_connections(&self) -> u64 {
        let mut admin = PgConnection::connect(&self.url)
            .await
            .expect("admin connection");
        let ended = terminate(&mut admin, &self.name, true)
            .await
            .expect("pg_terminate_backend");
        let _ = admin.close().await;
        ended
    }
}

/// Ends the connections whose `application_name` is `application_name`. With `wait`, returns only once
/// they are gone, which PostgreSQL checks every 100 ms; without, as soon as they were told to go.
async fn terminate(
    admin: &mut PgConnection,
    application_name: &str,
    wait: bool,
) -> Result<u64, sqlx::Error> {
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid, CASE WHEN $2 THEN 5000 ELSE 0 END) FROM pg_stat_activity \
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(application_name)
    .bind(wait)
    .fetch_all(&mut *admin)
    .await?;
    Ok(ended.into_iter().filter(|&b| b).count() as u64)
}

async fn drop_schema(url: &str, name: &str) -> Result<(), sqlx::Error> {
    let mut admin = PgConnection::connect(url).await?;
    // A connection the test left inside a transaction would hold locks the drop waits for; once told to
    // end, it releases them within milliseconds, and the drop waits for that by itself.
    terminate(&mut admin, name, false).await?;
    admin.execute("SET lock_timeout = '10s'").await?;
    // The name is ours (SCHEMA_PREFIX, digits, hex), so it needs no escaping.
    admin
        .execute(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
        )))
        .await?;
    admin.close().await
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        // Drop may run inside a runtime (which cannot be blocked on) or outside any: a thread with a runtime of
        // its own works in both cases.
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(drop_schema(&url, &name))
                .map_err(|e| e.to_string())
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test schema {}: {e}", self.name),
            Err(_) => eprintln!("dropping test schema {} panicked", self.name),
        }
    }
}

/// Drops test schemas that crashed runs left behind, once per test process. Young ones may belong to tests
/// running right now and are left alone.
async fn drop_leftovers(admin: &mut PgConnection) {
    static SWEPT: AtomicBool = AtomicBool::new(false);
    if SWEPT.swap(true, Ordering::SeqCst) {
        return;
    }
    let Ok(names) = sqlx::query_scalar::<_, String>(
        "SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)",
    )
    .bind(SCHEMA_PREFIX)
    .fetch_all(&mut *admin)
    .await
    else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    for name in names {
        let created = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        let old = created.is_some_and(|t| now.saturating_sub(t) > LEFTOVER_AGE.as_secs());
        let ours = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if old && ours {
            let _ = admin
                .execute(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                )))
                .await;
        }
    }
}

/// Pool options for test stores: small, and quick to give up.
pub fn test_options() -> PostgresOptions {
    PostgresOptions::default()
        .with_max_connections(2)
        .with_acquire_timeout(Duration::from_secs(5))
}

/// A new interaction with `logs` phone logs, two context variables and one related record, stamped as the
/// service would (its number is left for the store).
pub fn new_interaction(logs: usize) -> InteractionAggregate {
    let sys_id = SysId::random();
    let mut interaction = Record::new(&INTERACTION);
    stamp(&mut interaction, sys_id.as_str());
    interaction.set(field::TYPE, "phone");
    interaction.set(field::STATE, "new");
    interaction.set(field::USER_PHONE_NUMBER, "+14089965744");
    interaction.set(field::CLIENT_SESSION_ID, format!("session-{sys_id}"));
    interaction.set(field::CHANNEL_METADATA_TABLE, PHONE_LOG.name);
    let phone_logs = (0..logs)
        .map(|i| phone_log(&sys_id, &format!("call-{i}")))
        .collect();
    let mut related = Record::new(&RELATED_RECORD);
    stamp(&mut related, SysId::random().as_str());
    related.set(field::INTERACTION, sys_id.as_str());
    related.set(field::DOCUMENT_TABLE, "incident");
    related.set(field::DOCUMENT_ID, SysId::random().as_str());
    InteractionAggregate {
        interaction,
        context: [("queue", "support"), ("language", "en")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        phone_logs,
        related_records: vec![related],
    }
}

/// A phone log of interaction `sys_id`.
pub fn phone_log(sys_id: &SysId, call_id: &str) -> Record {
    let mut log = Record::new(&PHONE_LOG);
    stamp(&mut log, SysId::random().as_str());
    log.set(field::INTERACTION, sys_id.as_str());
    log.set(field::CALL_ID, call_id);
    log.set(field::CALL_TYPE, "INBOUND");
    log
}

fn stamp(record: &mut Record, sys_id: &str) {
    record.set(field::SYS_ID, sys_id);
    record.set(field::SYS_CREATED_ON, "2024-05-01 10:00:00");
    record.set(field::SYS_CREATED_BY, "agent");
    record.set(field::SYS_UPDATED_ON, "2024-05-01 10:00:00");
    record.set(field::SYS_UPDATED_BY, "agent");
    record.set(field::SYS_MOD_COUNT, "0");
}

/// The change an update that only bumps `sys_mod_count` makes.
#[allow(dead_code)] // not every test binary that includes this module updates
pub fn bump(
    current: &openframe_core::InteractionAggregate,
) -> openframe_core::Result<openframe_core::AggregateChange> {
    let mut interaction = current.interaction.clone();
    let count: u64 = interaction
        .get(openframe_core::schema::field::SYS_MOD_COUNT)
        .parse()
        .unwrap_or(0);
    interaction.set(
        openframe_core::schema::field::SYS_MOD_COUNT,
        (count + 1).to_string(),
    );
    Ok(openframe_core::AggregateChange {
        interaction,
        context_set: Default::default(),
        context_removed: Default::default(),
        phone_logs: Vec::new(),
        related_records: Vec::new(),
        removed: Default::default(),
    })
}
