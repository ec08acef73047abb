//! What makes a flushed group safe on disk, beyond what sled 0.34's own flush does.
//!
//! On Linux, `Db::flush` writes the log with `pwrite` and waits with `sync_file_range`, and never calls
//! `fsync` or `fdatasync` (`pagecache/iobuf.rs`). `sync_file_range` waits for the written pages to reach the
//! device but flushes neither the device's volatile write cache nor the file's metadata: after a power loss
//! the log may be shorter than what was acknowledged, and the log grows as the store does. A page too large
//! for a log buffer (a quarter of a segment, 128 KiB by default: a leaf of big interaction rows) goes into a
//! file of its own under `blobs/`, written with no sync at all, before the log entry that points to it.
//!
//! So after each group's flush the writer also syncs, in this order, every blob file it has not synced yet
//! and the `blobs` directory that names them (only when there are new ones), then the log file with
//! `fdatasync`: only then is the group answered. A process crash (SIGKILL, a panic) never needed this: the
//! kernel keeps what was written. A temporary store (tests) has nothing to sync.

use std::collections::HashSet;
use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The files of one store directory to sync after each flush.
pub(crate) struct DiskSync {
    /// sled's log, the `db` file of the store's directory.
    log: File,
    blobs: PathBuf,
    /// Blob files synced already (sled never rewrites one; it removes them when they are no longer needed).
    synced_blobs: HashSet<OsString>,
}

impl DiskSync {
    /// For the store in `dir`, once sled has opened it (so its files exist).
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        Ok(DiskSync {
            log: File::open(dir.join("db"))?,
            blobs: dir.join("blobs"),
            synced_blobs: HashSet::new(),
        })
    }

    /// Makes what sled flushed durable: new blob files and their directory, then the log.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        self.sync_new_blobs()?;
        self.log.sync_data()
    }

    fn sync_new_blobs(&mut self) -> io::Result<()> {
        let entries = match std::fs::read_dir(&self.blobs) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let mut present = HashSet::new();
        let mut new = false;
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !self.synced_blobs.contains(&name) {
                match File::open(entry.path()) {
                    Ok(file) => file.sync_all()?,
                    // Removed by sled's garbage collection meanwhile: nothing left to keep.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                }
                new = true;
            }
            present.insert(name);
        }
        if new {
            File::open(&self.blobs)?.sync_all()?;
        }
        self.synced_blobs = present;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syncs_a_store_directory_with_and_without_blobs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("db"), b"log").unwrap();
        let mut sync = DiskSync::open(dir.path()).unwrap();
        sync.sync().unwrap(); // no blobs directory yet
        std::fs::create_dir(dir.path().join("blobs")).unwrap();
        std::fs::write(dir.path().join("blobs").join("17"), b"blob").unwrap();
        sync.sync().unwrap();
        assert!(sync.synced_blobs.contains(&OsString::from("17")));
        std::fs::remove_file(dir.path().join("blobs").join("17")).unwrap();
        sync.sync().unwrap();
        assert!(sync.synced_blobs.is_empty(), "removed blobs are forgotten");
    }

    #[test]
    fn a_store_without_its_log_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(DiskSync::open(dir.path()).is_err());
    }
}
