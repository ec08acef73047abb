//! The binary's memory allocator: mimalloc, set up to hand freed memory back to the OS at once.
//!
//! Why not glibc's malloc: a request's values are allocated on one thread and freed on another (a store's
//! writer thread drops what a tokio worker built, and the other way round), and glibc's per-thread arenas
//! then take each other's locks on every such free. With the SQLite store at 64 connections that contention
//! (futex wake-ups inside `realloc` and `free`, `malloc_consolidate`) was about a third of the server's CPU;
//! mimalloc's cross-thread frees are lock-free (docs/PERFORMANCE.md has the runs). glibc also kept each
//! argon2 check's 19 MiB in whichever heap ran it, which made a soak run's RSS climb in 19 MiB steps.
//!
//! Why these options: by default mimalloc commits its arenas eagerly and purges freed pages after a delay,
//! which doubled the stores' peak RSS under load; with lazy commit, immediate purging and no transparent huge
//! pages they stay near glibc's, at the same throughput (docs/PERFORMANCE.md).
//!
//! Only the binary chooses its allocator: a service that embeds the router keeps its own (and may well want
//! the same choice, for the same reason).

use std::ffi::c_long;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc 3.3's `mi_option_e` values (`include/mimalloc.h`), which the `libmimalloc-sys` bindings do not
/// name; the crates are pinned to an exact version in Cargo.toml so that these cannot drift.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the allocator's options; call it first in `main`. Options are read when mimalloc next needs them,
/// so the few allocations made before `main` only keep the defaults for the memory they already took.
pub fn configure() {
    set(ARENA_EAGER_COMMIT, 0);
    set(PURGE_DELAY, 0);
    no_transparent_huge_pages();
}

/// With transparent huge pages the kernel backs mimalloc's arenas in 2 MiB pages, which a purge of a few
/// freed 64 KiB pages does not give back: the sled server peaked at 80-87 MiB with them, 43 MiB without.
/// mimalloc's own `allow_thp` option is read when it starts, before `main`, so the process turns THP off
/// itself; the memory mimalloc takes from here on is in ordinary pages.
#[cfg(target_os = "linux")]
fn no_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag of this process; a kernel without it returns an error,
    // which leaves THP as it was.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

#[cfg(not(target_os = "linux"))]
fn no_transparent_huge_pages() {}

fn set(option: libmimalloc_sys::mi_option_t, value: c_long) {
    // SAFETY: mi_option_set only stores an integer in mimalloc's option table (atomically); any option
    // number and value are accepted.
    unsafe { libmimalloc_sys::mi_option_set(option, value) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_options_are_the_ones_meant() {
        configure();
        // SAFETY: mi_option_get only reads mimalloc's option table.
        let get = |option| unsafe { libmimalloc_sys::mi_option_get(option) };
        assert_eq!(get(ARENA_EAGER_COMMIT), 0);
        assert_eq!(get(PURGE_DELAY), 0);
        // Their neighbours still have the defaults the header gives them, so the numbers did not shift:
        // purge_decommits (after arena_eager_commit) is 1, use_numa_nodes (after purge_delay) is 0.
        assert_eq!(get(ARENA_EAGER_COMMIT + 1), 1, "purge_decommits");
        assert_eq!(get(PURGE_DELAY + 1), 0, "use_numa_nodes");
    }

    #[test]
    fn freed_memory_goes_back_to_the_os_at_once() {
        configure();
        let resident = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
            statm
                .split_whitespace()
                .nth(1)
                .and_then(|pages| pages.parse::<u64>().ok())
                .unwrap_or(0)
                * 4096
        };
        let before = resident();
        // An argon2 check's worth, touched so that it is resident.
        let block = vec![1u8; 32 << 20];
        std::hint::black_box(&block);
        let held = resident();
        drop(block);
        let after = resident();
        assert!(held >= before + (24 << 20), "{before} -> {held}");
        assert!(
            after + (24 << 20) <= held,
            "{held} -> {after} after the free"
        );
    }
}
