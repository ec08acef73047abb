//! The `openframe` binary: parse the command line and the config file, start logging, run the command, turn
//! any failure into one line and exit code 1.

use std::process::ExitCode;

use openframe_server::cli::{Invocation, run};
use openframe_server::logging;

mod allocator;

fn main() -> ExitCode {
    allocator::configure();
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
