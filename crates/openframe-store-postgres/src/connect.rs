//! Opening the store: the pool, the optional schema, and the migrations.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use openframe_core::{Error, Result};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, Executor};

use crate::create_batch::CreateBatcher;
use crate::error::{db_error, migrate_error, unique_violation};
use crate::sequencer::Sequencer;

/// The migrations in `migrations/`, embedded at compile time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How the store's connection pool behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// Most connections the pool opens (at least one is used). Each commit waits for the server's WAL
    /// flush, and commits waiting together share one flush, so more connections than cores pay off for
    /// updates and reads: the default 32 gave about a fifth more creates per second than 16 at 64
    /// concurrent requests on a 2-core machine (`examples/create_throughput.rs`) before creates were
    /// grouped; creates now take one connection per batch (`create_batch.rs`). Two servers on one database
    /// with the default need 64 of PostgreSQL's default 100 `max_connections`.
    pub max_connections: u32,
    /// Longest an operation waits for a connection, and so the longest a call takes to report
    /// [`Error::Unavailable`] when the server cannot be reached.
    pub acquire_timeout: Duration,
    /// A pooled connection idle at least this long is pinged before it is used, and replaced if the server
    /// dropped it. One used more recently is used as is: sqlx pings every connection it takes back, so it
    /// was alive when it was released, and under load this saves a round trip (and a wake-up of the server
    /// process) per operation. [`Duration::ZERO`] pings before every use.
    pub ping_after_idle: Duration,
}

impl Default for PostgresOptions {
    /// 32 connections, 5 seconds, [`DEFAULT_PING_AFTER_IDLE`].
    fn default() -> Self {
        PostgresOptions {
            max_connections: 32,
            acquire_timeout: Duration::from_secs(5),
            ping_after_idle: DEFAULT_PING_AFTER_IDLE,
        }
    }
}

impl PostgresOptions {
    /// These options with [`PostgresOptions::max_connections`] set.
    #[must_use]
    pub fn with_max_connections(mut self, max_connections: u32) -> Self {
        self.max_connections = max_connections;
        self
    }

    /// These options with [`PostgresOptions::acquire_timeout`] set.
    #[must_use]
    pub fn with_acquire_timeout(mut self, acquire_timeout: Duration) -> Self {
        self.acquire_timeout = acquire_timeout;
        self
    }

    /// These options with [`PostgresOptions::ping_after_idle`] set.
    #[must_use]
    pub fn with_ping_after_idle(mut self, ping_after_idle: Duration) -> Self {
        self.ping_after_idle = ping_after_idle;
        self
    }
}

/// [`PostgresOptions::ping_after_idle`] by default: half a second, the window connection pools such as
/// HikariCP use for the same trade-off. A connection the server drops within that long of its last use
/// fails the one operation that takes it next, as [`Error::Unavailable`] (and is then replaced); an idle
/// pool, as after a quiet spell, is checked.
pub const DEFAULT_PING_AFTER_IDLE: Duration = Duration::from_millis(500);

/// An openframe store on PostgreSQL: a connection pool on one database (and optionally one schema of it).
///
/// `Debug` shows where it is connected, never the password.
pub struct PostgresRepository {
    pub(crate) pool: PgPool,
    /// Numbers committed events before the outbox is read (`sequencer.rs`).
    pub(crate) sequencer: Sequencer,
    /// Writes creates in batches (`create_batch.rs`).
    pub(crate) creates: CreateBatcher,
    target: Target,
}

/// Where the store is connected, as messages and `Debug` show it.
struct Target {
    user: String,
    server: String,
    database: String,
    schema: Option<String>,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "PostgreSQL {}@{}/{}",
            self.user, self.server, self.database
        )?;
        if let Some(schema) = &self.schema {
            write!(f, " (schema {schema})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PostgresRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresRepository")
            .field("user", &self.target.user)
            .field("server", &self.target.server)
            .field("database", &self.target.database)
            .field("schema", &self.target.schema)
            .field("connections", &self.pool.size())
            .finish()
    }
}

/// A bad URL or schema name, worded for the one-line error `serve` prints.
#[derive(Debug)]
struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl PostgresRepository {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`, or `postgresql://`)
    /// and brings its tables up to date with the embedded migrations.
    ///
    /// Fails with [`Error::Unavailable`] when the server does not answer within `options.acquire_timeout`,
    /// and with [`Error::Internal`] for a bad URL, refused credentials or a failed migration; the error's
    /// source says which.
    pub async fn connect(url: &str, options: PostgresOptions) -> Result<Self> {
        Self::open(url, None, options).await
    }

    /// Like [`PostgresRepository::connect`], but keeps everything in `schema`, which is created if missing:
    /// every pooled connection starts with `search_path` set to it, so the migrations and every query
    /// run there. Lets tests (or several deployments) share one database without seeing each other.
    ///
    /// `schema` must be a plain lowercase identifier: `[a-z_][a-z0-9_]*`, at most 63 characters, not
    /// starting with `pg_`; anything else is an [`Error::Invalid`].
    pub async fn connect_in_schema(
        url: &str,
        schema: &str,
        options: PostgresOptions,
    ) -> Result<Self> {
        check_schema_name(schema)?;
        Self::open(url, Some(schema), options).await
    }

    async fn open(url: &str, schema: Option<&str>, options: PostgresOptions) -> Result<Self> {
        let bad_url = |why: String| {
            Error::internal(ConfigError(format!(
                "invalid PostgreSQL URL (expected postgres://user:password@host:port/database): {why}"
            )))
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad_url(
                "the scheme must be postgres:// or postgresql://".into(),
            ));
        }
        let mut connect = PgConnectOptions::from_str(url).map_err(|e| bad_url(e.to_string()))?;
        if connect.get_application_name().is_none() {
            connect = connect.application_name("openframe");
        }
        if let Some(schema) = schema {
            // A startup parameter rather than a `SET` after connecting: it costs no round trip and holds for
            // every connection the pool ever opens, including those that replace lost ones.
            connect = connect.options([("search_path", schema)]);
        }
        let target = Target {
            user: connect.get_username().to_owned(),
            server: match connect.get_socket() {
                Some(socket) => socket.display().to_string(),
                None => format!("{}:{}", connect.get_host(), connect.get_port()),
            },
            database: connect
                .get_database()
                .unwrap_or(connect.get_username())
                .to_owned(),
            schema: schema.map(str::to_owned),
        };

        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .min_connections(0)
            .acquire_timeout(options.acquire_timeout)
            // A connection the server dropped (restart, failover, pg_terminate_backend) while it sat idle is
            // found dead here and replaced, instead of failing the next request; see ping_after_idle.
            .test_before_acquire(false)
            .before_acquire(move |conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= options.ping_after_idle {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(connect)
            .await
            .map_err(db_error(format!("connecting to {target}")))?;

        if let Some(schema) = schema {
            create_schema(&pool, schema)
                .await
                .map_err(db_error(format!("creating the schema on {target}")))?;
        }
        MIGRATOR.run(&pool).await.map_err(migrate_error)?;
        let creates = CreateBatcher::start(
            pool.clone(),
            options.acquire_timeout,
            options.max_connections,
        )?;
        Ok(PostgresRepository {
            pool,
            sequencer: Sequencer::default(),
            creates,
            target,
        })
    }
}

async fn create_schema(pool: &PgPool, schema: &str) -> Result<(), sqlx::Error> {
    // The name was checked against check_schema_name, so it cannot break out of the quotes.
    let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
    match pool.execute(AssertSqlSafe(sql)).await {
        Ok(_) => Ok(()),
        // Two stores creating the same schema at once: IF NOT EXISTS is not atomic, and the loser sees a
        // unique violation on pg_namespace. The schema is there either way.
        Err(e) if unique_violation(&e).is_some() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Checks a schema name: a plain lowercase identifier that needs no quoting and is not a system schema.
pub(crate) fn check_schema_name(schema: &str) -> Result<()> {
    let mut chars = schema.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63
        && !schema.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "schema",
            "must match [a-z_][a-z0-9_]{0,62} and not start with pg_",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["openframe", "_x", "t_1700000000_abcdef", &"a".repeat(63)] {
            assert!(check_schema_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a\"b",
            "pg_catalog",
            "a b",
            &"a".repeat(64),
        ] {
            assert!(
                matches!(check_schema_name(bad), Err(Error::Invalid { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn defaults() {
        let o = PostgresOptions::default();
        assert_eq!(o.max_connections, 32);
        assert_eq!(o.acquire_timeout, Duration::from_secs(5));
        assert_eq!(o.ping_after_idle, Duration::from_millis(500));
    }

    #[tokio::test]
    async fn a_bad_url_is_an_internal_error_that_says_so() {
        let err = PostgresRepository::connect("mysql://nope", PostgresOptions::default())
            .await
            .err();
        let Some(Error::Internal { source }) = err else {
            panic!("expected Internal, got {err:?}");
        };
        assert!(
            source.to_string().contains("invalid PostgreSQL URL"),
            "{source}"
        );
    }

    #[tokio::test]
    async fn nothing_listening_is_unavailable_within_the_acquire_timeout() {
        // Port 1 on loopback: nothing listens there, so every connect is refused and the pool retries until
        // its deadline.
        let options = PostgresOptions {
            max_connections: 1,
            acquire_timeout: Duration::from_millis(300),
            ..PostgresOptions::default()
        };
        let connect = PostgresRepository::connect("postgres://u:secret@127.0.0.1:1/db", options);
        let err = tokio::time::timeout(Duration::from_secs(10), connect)
            .await
            .expect("connect must give up at its acquire timeout")
            .err();
        let Some(Error::Unavailable { source }) = err else {
            panic!("expected Unavailable, got {err:?}");
        };
        let message = source.to_string();
        assert!(message.contains("u@127.0.0.1:1/db"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }
}
