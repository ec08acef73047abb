//! Online backup (`openframe backup --store sqlite://PATH DEST`): a consistent copy of a database that a
//! server may be writing at the same time.
//!
//! The copy is made with `VACUUM INTO`, which reads the whole database inside one read transaction: in WAL
//! mode that is one snapshot, taken without blocking the writer (which keeps committing to the WAL
//! meanwhile), so the copy holds exactly the transactions committed when it began. Chosen over the online
//! backup API because that API, stepped in pieces, restarts whenever another connection writes (under
//! steady load it may never finish), and in one step it is the same single read transaction `VACUUM INTO`
//! is, without compacting the copy; `VACUUM INTO` needs no extra rusqlite feature either.
//!
//! SQLite does not fsync what `VACUUM INTO` writes, and a crash midway leaves a partial file, so the copy
//! is written to a hidden temporary file beside `DEST`, fsynced, checked (`PRAGMA quick_check`), then
//! linked to `DEST` — which fails if `DEST` appeared meanwhile: a backup never overwrites a file.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use openframe_core::{Conflict, Error, Result};
use rusqlite::{Connection, OpenFlags};

use crate::connection::BUSY_TIMEOUT;
use crate::error::fault;

/// What a backup wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackupReport {
    /// The size of the copy in bytes.
    pub bytes: u64,
    /// How many interactions it holds.
    pub interactions: u64,
}

/// Copies the openframe database at `source` to the new file `dest`, consistently, while other connections
/// (a running `openframe serve`) keep writing to it. See the [module docs](self) for how.
///
/// # Errors
/// - [`Error::Conflict`] when `dest` exists (it is left alone);
/// - [`Error::Invalid`] naming `source` when it is not an openframe database, or `destination` when
///   `dest` is not a UTF-8 path (SQLite takes the name as text);
/// - [`Error::Unavailable`] when `source` cannot be opened or read, or `dest` cannot be written.
pub fn backup(source: &Path, dest: &Path) -> Result<BackupReport> {
    if fs::symlink_metadata(dest).is_ok() {
        return Err(exists(dest));
    }
    let partial = partial_path(dest);
    let partial_text = partial
        .to_str()
        .ok_or_else(|| Error::invalid("destination", "must be a UTF-8 path"))?;
    let conn = open_source(source)?;
    // A stale partial file of an earlier, killed backup with our pid would make VACUUM INTO fail.
    remove_if_present(&partial)?;
    let result = (|| {
        conn.execute("VACUUM INTO ?1", [partial_text])
            .map_err(|e| {
                sqlite_error(e, format!("copying {} to {partial_text}", source.display()))
            })?;
        File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_error(e, &partial))?;
        let report = check_copy(&partial)?;
        publish(&partial, dest)?;
        Ok(report)
    })();
    // Whatever happened, the partial file goes (after a successful link it is a second name of DEST).
    let _ = fs::remove_file(&partial);
    result
}

/// The hidden temporary file beside `dest`.
fn partial_path(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".to_owned());
    dest.with_file_name(format!(".{name}.partial-{}", std::process::id()))
}

fn open_source(source: &Path) -> Result<Connection> {
    // Read-write without CREATE: a missing file is an error, not a new empty database; the connection only
    // reads, but may need to create the WAL index when no server has the file open.
    if !source.is_file() {
        return Err(Error::invalid(
            "source",
            format!("{} does not exist", source.display()),
        ));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let doing = || format!("opening SQLite database {}", source.display());
    let conn = Connection::open_with_flags(source, flags).map_err(|e| sqlite_error(e, doing()))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| sqlite_error(e, doing()))?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| sqlite_error(e, doing()))?;
    if version == 0 {
        return Err(Error::invalid(
            "source",
            format!("{} is not an openframe database", source.display()),
        ));
    }
    Ok(conn)
}

/// Opens the copy and checks it before it gets its name: a copy that does not read back whole is an error.
fn check_copy(path: &Path) -> Result<BackupReport> {
    let doing = || format!("checking the copy {}", path.display());
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_error(e, doing()))?;
    let check: String = conn
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .map_err(|e| sqlite_error(e, doing()))?;
    if check != "ok" {
        return Err(Error::internal(format!(
            "the copy {} fails its check: {check}",
            path.display()
        )));
    }
    let interactions: i64 = conn
        .query_row("SELECT count(*) FROM interaction", [], |row| row.get(0))
        .map_err(|e| sqlite_error(e, doing()))?;
    let bytes = fs::metadata(path).map_err(|e| io_error(e, path))?.len();
    Ok(BackupReport {
        bytes,
        interactions: u64::try_from(interactions).unwrap_or(0),
    })
}

/// Gives the finished copy its name without ever replacing a file, and makes the name durable.
fn publish(partial: &Path, dest: &Path) -> Result<()> {
    match fs::hard_link(partial, dest) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(exists(dest)),
        // A file system without hard links: rename, having checked again that DEST is still free.
        Err(_) => {
            if fs::symlink_metadata(dest).is_ok() {
                return Err(exists(dest));
            }
            fs::rename(partial, dest).map_err(|e| io_error(e, dest))?;
        }
    }
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // Directories can be fsynced on Unix; elsewhere opening one may fail, and there is nothing to do.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(e, path)),
    }
}

fn exists(dest: &Path) -> Error {
    Error::Conflict(Conflict::BackupDestination {
        path: dest.display().to_string(),
    })
}

fn sqlite_error(e: rusqlite::Error, doing: String) -> Error {
    fault(e, doing)
}

fn io_error(e: std::io::Error, path: &Path) -> Error {
    Error::unavailable(std::io::Error::new(
        e.kind(),
        format!("{}: {e}", path.display()),
    ))
}
