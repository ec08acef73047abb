//! The `openframe` binary: parse the command line and the config file, start logging, run the command, turn
//! any failure into one line and exit code 1.

use std::process::ExitCode;

use openframe_http::cli::{Invocation, run};
use openframe_http::logging;

fn main() -> ExitCode {
    keep_large_blocks_mapped();
    let invocation = match Invocation::from_env() {
        Ok(invocation) => invocation,
        Err(message) => {
            eprintln!("openframe: error: {message}");
            return ExitCode::FAILURE;
        }
    };
    logging::init(invocation.log_format());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openframe: error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(invocation)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("openframe: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// glibc raises its mmap threshold to the size of any large block that is freed, so after the first argon2
/// check (19 MiB) the next ones are carved from the heap of whichever thread runs them, and each of those heaps
/// (up to 8 per core) keeps its 19 MiB once freed: a soak run grew in 19 MiB steps, one per credential-cache
/// expiry, to about 280 MiB. A fixed threshold keeps every block of 1 MiB or more in a mapping of its own,
/// returned to the OS when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_large_blocks_mapped() {
    // SAFETY: mallopt only sets an allocator parameter; this runs first in main, before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_large_blocks_mapped() {}
