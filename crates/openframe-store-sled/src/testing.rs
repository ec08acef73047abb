//! Test helpers, shared by the crate's unit tests and `tests/store.rs` (which compiles this file itself), so
//! they use nothing from the crate.

/// Runs `open` until it succeeds, for up to 10 s: after a store is dropped, sled's own threads may hold its
/// directory's lock for a moment (more so on a loaded machine), and an open fails meanwhile.
pub(crate) fn when_unlocked<T, E: std::fmt::Debug>(mut open: impl FnMut() -> Result<T, E>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match open() {
            Ok(opened) => return opened,
            Err(e) if std::time::Instant::now() >= deadline => panic!("cannot open: {e:?}"),
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}
