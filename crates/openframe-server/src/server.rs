//! `openframe serve`: bind, bootstrap the first user, serve until SIGINT/SIGTERM, drain, exit.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::middleware::from_fn;
use openframe_core::Repository;
use tokio::net::TcpListener;
use tokio::sync::watch;

use axum::Router;
use openframe_http::{AppState, EventSettings, RouterBuilder, request_log};

use crate::cli::bootstrap_admin;
use crate::listener::{self, Drain, Tls};
use crate::prometheus::{self, Metrics, MetricsState};
use crate::settings::ServeSettings;
use crate::timed_repository::TimedRepository;

/// Serves the API as `settings` say over `repo` (within its limits) until a shutdown signal, then
/// lets in-flight requests finish and closes the store. `/metrics` comes from `metrics`, on the API's
/// listener or on `settings.metrics_listen`.
pub async fn serve(
    settings: &ServeSettings,
    repo: Arc<dyn Repository>,
    metrics: Metrics,
) -> Result<(), String> {
    let limits = settings.limits();
    // Certificates and the port first: a bad file or a taken port must fail before anything is written.
    let tls = match (&settings.tls_cert.value, &settings.tls_key.value) {
        (Some(cert), Some(key)) => Some(Tls::load(cert, key)?),
        _ => None,
    };
    let listener = bind(settings.listen.value).await?;
    let metrics_listener = match settings.metrics_listen.value {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let repo: Arc<dyn Repository> = Arc::new(TimedRepository::new(repo));
    bootstrap_admin(repo.as_ref()).await?;
    metrics.spawn_upkeep();
    // Both listeners stop on the one signal.
    let (stop, stopped) = watch::channel(false);
    let stop_signal = |mut stopped: watch::Receiver<bool>| async move {
        // An error means the sender is gone, which also means stop.
        let _ = stopped.wait_for(|stop| *stop).await;
    };

    let state = AppState::new(Arc::clone(&repo))
        .with_body_read_timeout(limits.body_read_timeout)
        .with_event_settings(event_settings(&limits));
    let mut api_metrics = None;
    let metrics_server = match metrics_listener {
        Some(listener) => {
            let local = listener.local_addr().map_err(|e| e.to_string())?;
            let app = prometheus::routes(MetricsState {
                metrics,
                repo: Arc::clone(&repo),
            })
            .layer(from_fn(request_log));
            eprintln!("openframe: serving /metrics on http://{local}/metrics");
            let stopped = stop_signal(stopped.clone());
            Some(tokio::spawn(listener::serve(
                listener, app, limits, None, stopped,
            )))
        }
        None => {
            api_metrics = Some(metrics);
            None
        }
    };
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if let Some(tls) = &tls {
        tls.reload_on_sighup()?;
    }
    // One line a supervisor (or a test) can wait for.
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("openframe: listening on {scheme}://{local}");
    let streams = state.clone();
    let shutdown = async move {
        shutdown_signal().await;
        // Event streams never finish by themselves: end them, or the drain would wait out its grace.
        streams.close_streams();
        let _ = stop.send(true);
    };
    let app = app(state, api_metrics);
    report(listener::serve(listener, app, limits, tls, shutdown).await);
    if let Some(metrics_server) = metrics_server {
        match metrics_server.await {
            Ok(drain) => report(drain),
            Err(e) => tracing::warn!(error = %e, "the metrics listener's task failed"),
        }
    }
    // After a complete drain every connection task has ended and this is the last handle: dropping it waits
    // for the store to close (SQLite's writer finishes its queue and closes, sled flushes). After a timed-out
    // drain the stragglers' handles go when the runtime drops their tasks, with the same effect.
    repo.close().await;
    drop(repo);
    eprintln!("openframe: shut down cleanly");
    Ok(())
}

/// The event streams' settings under `limits`: streams may hold three quarters of the connections at most,
/// so that they never take the connections ordinary requests need.
fn event_settings(limits: &listener::ServeLimits) -> EventSettings {
    let mut settings = EventSettings::default();
    settings.max_streams = (limits.max_connections as usize * 3 / 4).max(1);
    settings
}

/// Everything `serve` mounts on the API's listener: the whole router and, when `metrics` is given,
/// `GET /metrics` (outside auth and the renderer), all under one request log.
pub fn app(state: AppState, metrics: Option<Metrics>) -> Router {
    let repo = Arc::clone(state.service().repository());
    let app = RouterBuilder::new(state).request_log(false).build();
    let app = match metrics {
        Some(metrics) => app.merge(prometheus::routes(MetricsState { metrics, repo })),
        None => app,
    };
    app.layer(from_fn(request_log))
}

fn report(drain: Drain) {
    match drain {
        Drain::Complete => {}
        Drain::TimedOut(open) => tracing::warn!(
            open,
            "shutdown grace period over: closing connections whose requests have not finished"
        ),
    }
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))
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
