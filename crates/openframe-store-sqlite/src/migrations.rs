//! The schema's migrations: SQL files under `migrations/`, embedded in the binary and applied in order on
//! open. `PRAGMA user_version` counts the ones applied.

use openframe_core::{Error, Result};
use rusqlite::{Connection, TransactionBehavior};

use crate::error::sqlite;

/// One schema change.
struct Migration {
    name: &'static str,
    sql: &'static str,
}

/// Every migration, oldest first. Append only: a database records how many of these it has.
const MIGRATIONS: &[Migration] = &[
    Migration {
        name: "0001_initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        name: "0002_events",
        sql: include_str!("../migrations/0002_events.sql"),
    },
    Migration {
        name: "0003_oauth",
        sql: include_str!("../migrations/0003_oauth.sql"),
    },
    Migration {
        name: "0004_client_session_nocase",
        sql: include_str!("../migrations/0004_client_session_nocase.sql"),
    },
    Migration {
        name: "0005_user_full_name",
        sql: include_str!("../migrations/0005_user_full_name.sql"),
    },
];

/// Brings the database up to the newest schema. Safe to race with another process doing the same: the
/// version is read again under the write lock.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite("locking the database to migrate it"))?;
    let applied: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sqlite("reading the schema version"))?;
    let applied = usize::try_from(applied).unwrap_or(usize::MAX);
    if applied > MIGRATIONS.len() {
        return Err(Error::internal(format!(
            "the database has schema version {applied}, newer than this openframe knows ({}); \
             upgrade openframe",
            MIGRATIONS.len()
        )));
    }
    for (version, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(migration.sql).map_err(|e| {
            crate::error::fault(e, format!("applying migration {}", migration.name))
        })?;
        let version = i64::try_from(version + 1)
            .map_err(|_| Error::internal("too many migrations for user_version"))?;
        tx.pragma_update(None, "user_version", version)
            .map_err(sqlite("recording the schema version"))?;
    }
    tx.commit().map_err(sqlite("committing the migrations"))
}

#[cfg(test)]
mod tests {
    use openframe_core::number::FIRST_NUMBER;
    use openframe_core::schema::TABLES;

    use super::*;

    fn migrated() -> Connection {
        let mut conn = Connection::open_in_memory().expect("in-memory database");
        migrate(&mut conn).expect("migrations apply");
        conn
    }

    fn columns(conn: &Connection, table: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")
            .expect("prepare");
        stmt.query_map([table], |row| row.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows")
    }

    #[test]
    fn record_tables_have_one_column_per_field_in_schema_order() {
        let conn = migrated();
        for table in TABLES {
            let mut expected = vec!["seq".to_owned()];
            expected.extend(table.field_names().map(str::to_owned));
            assert_eq!(columns(&conn, table.name), expected, "{}", table.name);
        }
    }

    #[test]
    fn reads_by_key_use_indexes() {
        let conn = migrated();
        for (table, column) in [
            ("interaction", "sys_id"),
            ("interaction", "number"),
            ("interaction", "client_session_id"),
            ("sn_openframe_phone_log", "sys_id"),
            ("sn_openframe_phone_log", "interaction"),
            ("interaction_related_record", "sys_id"),
            ("interaction_related_record", "interaction"),
            ("sys_cs_provider_application", "sys_id"),
            ("sys_cs_provider_application", "inbound_id"),
            ("users", "user_name"),
        ] {
            // The Table API compares client session ids with ASCII case folded: their index is in NOCASE.
            let collation = if column == "client_session_id" {
                " COLLATE NOCASE"
            } else {
                ""
            };
            let plan: String = conn
                .query_row(
                    &format!(
                        "EXPLAIN QUERY PLAN SELECT * FROM {table} WHERE \"{column}\" = 'x'{collation}"
                    ),
                    [],
                    |row| row.get(3),
                )
                .expect("plan");
            assert!(plan.contains("USING INDEX"), "{table}.{column}: {plan}");
        }
    }

    #[test]
    fn the_counter_starts_at_the_first_number() {
        let conn = migrated();
        let next: i64 = conn
            .query_row(crate::queries::NEXT_NUMBER, [], |row| row.get(0))
            .expect("counter");
        assert_eq!(u64::try_from(next).ok(), Some(FIRST_NUMBER));
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let mut conn = migrated();
        migrate(&mut conn).expect("second run");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .expect("version");
        assert_eq!(usize::try_from(version).ok(), Some(MIGRATIONS.len()));
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let mut conn = migrated();
        let newer = i64::try_from(MIGRATIONS.len() + 1).expect("small");
        conn.pragma_update(None, "user_version", newer)
            .expect("set version");
        assert!(matches!(migrate(&mut conn), Err(Error::Internal { .. })));
    }
}
