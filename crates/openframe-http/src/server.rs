//! `openframe serve`: bind, bootstrap the first user, serve until SIGINT/SIGTERM, drain, exit.

use std::net::SocketAddr;
use std::sync::Arc;

use openframe_core::Repository;

use crate::app::{AppState, router};
use crate::cli::bootstrap_admin;
use crate::listener::{self, Drain, ServeLimits};

/// Serves the API on `listen` over `repo` within `limits` until a shutdown signal, then lets in-flight
/// requests finish and closes the store.
pub async fn serve(
    listen: SocketAddr,
    repo: Arc<dyn Repository>,
    limits: ServeLimits,
) -> Result<(), String> {
    // Bind first: a taken port must fail before anything is written to the store.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    bootstrap_admin(repo.as_ref()).await?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // One line a supervisor (or a test) can wait for.
    eprintln!("openframe: listening on http://{local}");
    let state = AppState::new(Arc::clone(&repo)).with_body_read_timeout(limits.body_read_timeout);
    let events = Arc::clone(&state.events);
    let shutdown = async move {
        shutdown_signal().await;
        // Event streams never finish by themselves: end them, or the drain would wait out its grace.
        events.close_streams();
    };
    match listener::serve(listener, router(state), limits, shutdown).await {
        Drain::Complete => {}
        Drain::TimedOut(open) => tracing::warn!(
            open,
            "shutdown grace period over: closing connections whose requests have not finished"
        ),
    }
    // After a complete drain every connection task has ended and this is the last handle: dropping it waits
    // for the store to close (SQLite's writer finishes its queue and closes, sled flushes). After a timed-out
    // drain the stragglers' handles go when the runtime drops their tasks, with the same effect.
    repo.close().await;
    drop(repo);
    eprintln!("openframe: shut down cleanly");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
