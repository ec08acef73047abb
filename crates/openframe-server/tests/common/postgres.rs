//! PostgreSQL for the end-to-end tests: the test server's URL (`OPENFRAME_TEST_POSTGRES_URL`) and a database
//! of its own per test.

use sqlx::{AssertSqlSafe, Connection};

pub use openframe_testkit::postgres_url;

/// A database of its own for one test, dropped at the end.
pub struct TestDatabase {
    admin_url: String,
    name: String,
}

impl TestDatabase {
    pub async fn create(url: &str) -> TestDatabase {
        let name = format!(
            "openframe_e2e_{}",
            &openframe_core::SysId::random().as_str()[..12]
        );
        let mut conn = sqlx::PgConnection::connect(url)
            .await
            .expect("connect to the test server");
        // The name is ours: a fixed prefix and hex digits.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create database");
        TestDatabase {
            admin_url: url.to_owned(),
            name,
        }
    }

    /// The URL of the test database, optionally through another `host:port`.
    pub fn url(&self, via: Option<&str>) -> String {
        let (head, _db) = self.admin_url.rsplit_once('/').expect("URL has a database");
        let head = match via {
            Some(addr) => {
                let (creds, _host) = head.rsplit_once('@').expect("URL has credentials");
                format!("{creds}@{addr}")
            }
            None => head.to_owned(),
        };
        format!("{head}/{}", self.name)
    }

    /// The server's `host:port`.
    pub fn server_addr(&self) -> String {
        let (head, _) = self.admin_url.rsplit_once('/').expect("URL has a database");
        head.rsplit_once('@').map_or(head, |(_, h)| h).to_owned()
    }

    pub async fn drop_now(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.admin_url).await {
            let _ = sqlx::query(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&mut conn)
            .await;
        }
    }
}
