//! Opening connections and the settings each one runs with.

use std::path::Path;
use std::time::Duration;

use openframe_core::{Error, Result};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use crate::checkpoint;
use crate::error::{fault, sqlite};

/// How long a statement waits for another process's lock before failing with `SQLITE_BUSY`
/// (`Error::Unavailable`).
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements kept per connection: more than the store has, so none is ever re-prepared.
const STATEMENT_CACHE: usize = 64;

/// Opens (creating it if missing) the database file for the writer and sets it up for durable writes.
pub(crate) fn open_writer(path: &Path) -> Result<Connection> {
    open_writer_with(path, true)
}

/// Opens the database file for the writer, which must already be an openframe database: nothing is created,
/// and a file without openframe's schema (`user_version` 0) is refused before anything is written to it.
pub(crate) fn open_existing_writer(path: &Path) -> Result<Connection> {
    open_writer_with(path, false)
}

fn open_writer_with(path: &Path, create: bool) -> Result<Connection> {
    // No SQLITE_OPEN_URI: a path is a path, even one that starts with `file:`.
    let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    if create {
        flags |= OpenFlags::SQLITE_OPEN_CREATE;
    } else if !path.is_file() {
        return Err(Error::invalid(
            "store",
            format!("{} does not exist", path.display()),
        ));
    }
    let conn = Connection::open_with_flags(path, flags).map_err(|e| opening(e, path))?;
    if !create {
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(|e| opening(e, path))?;
        if version == 0 {
            return Err(Error::invalid(
                "store",
                format!("{} is not an openframe database", path.display()),
            ));
        }
    }
    configure_writer(&conn, path)?;
    // WAL must be on before the first write transaction, so before migrations run.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| opening(e, path))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::internal(format!(
            "SQLite database {} cannot use WAL journaling (journal_mode is {mode})",
            path.display()
        )));
    }
    // Checkpoints run on the checkpointer's thread, not inside the writer's commits.
    checkpoint::track_wal(&conn);
    Ok(conn)
}

/// Opens the checkpointer's connection to a database the writer has already set up: read-write, since a
/// checkpoint writes the database file.
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| opening(e, path))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| opening(e, path))?;
    Ok(conn)
}

/// Opens a read-only connection to a database the writer has already set up.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| opening(e, path))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| opening(e, path))?;
    plan_once(&conn, path)?;
    conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)
        .map_err(|e| opening(e, path))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// How much of the database file a read connection maps into memory (SQLite caps it at its compile-time
/// limit, 2 GiB in the bundled build). A lookup in a large store touches a few pages per index that its
/// 2 MiB page cache no longer holds; mapped, such a page that the OS has cached costs a memory access
/// instead of a `pread` and a copy. The mapping is the OS's file cache, shared by the readers, not memory
/// the process allocates. The writer keeps plain I/O, so a write never goes through a mapping.
const READER_MMAP_BYTES: i64 = 1 << 31;

/// A private in-memory database: one connection, which serves reads and writes alike.
pub(crate) fn open_memory() -> Result<Connection> {
    let conn =
        Connection::open_in_memory().map_err(sqlite("opening an in-memory SQLite database"))?;
    configure_writer(&conn, Path::new(":memory:"))?;
    Ok(conn)
}

/// Settings of the connection that writes.
fn configure_writer(conn: &Connection, path: &Path) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| opening(e, path))?;
    // FULL: a commit fsyncs the WAL before it returns, so a successful write survives a power cut.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| opening(e, path))?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| opening(e, path))?;
    // A batch run again in savepoints (see the writer), and a statement SQLite may have to undo halfway,
    // save the pages they change to a sub-journal first; in memory, that is a copy. On disk (the default
    // past 64 KiB), it was a good part of the writer's time. Each sub-journal is emptied when its write or
    // statement ends, so this holds one write's pages at most.
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(|e| opening(e, path))?;
    plan_once(conn, path)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Turns on the query planner stability guarantee, so that a cached statement keeps its plan whatever values
/// are bound to it. Without it SQLite may plan around a bound value (a Table API query's `LIMIT ?`, for
/// one) and then prepares the statement again every time that parameter is bound: a cached statement would
/// cost as much as a new one.
fn plan_once(conn: &Connection, path: &Path) -> Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map_err(|e| opening(e, path))?;
    Ok(())
}

fn opening(e: rusqlite::Error, path: &Path) -> Error {
    fault(e, format!("opening SQLite database {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_keeps_savepoint_journals_in_memory_and_readers_plan_once_and_map_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.db");
        let writer = open_writer(&path).expect("writer");
        let temp_store: i64 = writer
            .pragma_query_value(None, "temp_store", |row| row.get(0))
            .expect("temp_store");
        assert_eq!(temp_store, 2, "MEMORY");
        let synchronous: i64 = writer
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .expect("synchronous");
        assert_eq!(synchronous, 2, "FULL");
        let reader = open_reader(&path).expect("reader");
        for conn in [&writer, &reader] {
            assert!(
                conn.db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG)
                    .expect("db_config")
            );
        }
        let mapped = |conn: &Connection| -> i64 {
            conn.pragma_query_value(None, "mmap_size", |row| row.get(0))
                .expect("mmap_size")
        };
        assert_eq!(mapped(&writer), 0, "the writer does plain I/O");
        assert!(mapped(&reader) > 0, "readers map the file");
    }
}
