//! `openframe serve`: bind, bootstrap the first user, serve until SIGINT/SIGTERM, drain, exit.

use std::net::SocketAddr;
use std::sync::Arc;

use openframe_core::Repository;

use crate::app::{AppState, router};
use crate::cli::bootstrap_admin;

/// Serves the API on `listen` over `repo` until a shutdown signal, then lets in-flight requests finish.
pub async fn serve(listen: SocketAddr, repo: Arc<dyn Repository>) -> Result<(), String> {
    // Bind first: a taken port must fail before anything is written to the store.
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    bootstrap_admin(repo.as_ref()).await?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // One line a supervisor (or a test) can wait for.
    eprintln!("openframe: listening on http://{local}");
    let app = router(AppState::new(repo)).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
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
