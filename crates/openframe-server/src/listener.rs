//! Accepting connections with the limits a server facing hostile clients needs and `axum::serve` does not
//! have: a cap on open connections, a deadline for a request's headers (which also closes idle keep-alive
//! connections), and a graceful drain with a deadline on shutdown.
//!
//! The request-body deadline is enforced where bodies are read (`body.rs`, from [`AppState`]'s setting),
//! so that it answers 408 in the negotiated format.
//!
//! [`AppState`]: crate::AppState

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What an excess connection is told before it is closed.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

/// How long to pause accepting after an accept error (out of file descriptors, say), so the loop does not
/// spin while the condition lasts.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The limits `openframe serve` puts on clients (command-line flags; see docs/RELIABILITY.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::Args)]
pub struct ServeLimits {
    /// Most connections open at once; one more is answered 503 and closed at once.
    #[arg(long, env = "OPENFRAME_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// Seconds a client has to send a request's headers, counted from the first read; an idle keep-alive
    /// connection is closed after as long.
    #[arg(long = "header-read-timeout", env = "OPENFRAME_HEADER_READ_TIMEOUT", default_value = "15",
          value_parser = parse_seconds, value_name = "SECONDS")]
    pub header_read_timeout: Duration,
    /// Seconds a client has to send a request's whole body once its handler starts reading it (else 408).
    #[arg(long = "body-read-timeout", env = "OPENFRAME_BODY_READ_TIMEOUT", default_value = "30",
          value_parser = parse_seconds, value_name = "SECONDS")]
    pub body_read_timeout: Duration,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT before the server exits anyway.
    #[arg(long = "shutdown-grace", env = "OPENFRAME_SHUTDOWN_GRACE", default_value = "30",
          value_parser = parse_seconds, value_name = "SECONDS")]
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    /// The command line's defaults: 1024 connections, 15 s for headers, 30 s for a body, 30 s to drain.
    fn default() -> Self {
        ServeLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// A whole number of seconds, at least 1 (fractions would invite a zero that disables nothing but breaks all).
fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
        _ => Err(format!("{s:?} is not a whole number of seconds from 1")),
    }
}

/// How a drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drain {
    /// Every connection finished its in-flight request and closed.
    Complete,
    /// The grace period ran out with this many connections still open; they are dropped.
    TimedOut(usize),
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops accepting (new
/// connections are refused by the OS), lets every in-flight request finish within
/// [`ServeLimits::shutdown_grace`], and returns. Each request carries `ConnectInfo<SocketAddr>` of its peer.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()>,
) -> Drain {
    let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            refuse(&stream);
            continue;
        };
        // Responses are written whole; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(request.map(Body::new))
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that vanishes or times out is not the server's error: debug level only.
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    // No more accepting: from here a connect is refused by the OS.
    drop(listener);
    match tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await {
        Ok(()) => Drain::Complete,
        Err(_) => Drain::TimedOut(limits.max_connections as usize - slots.available_permits()),
    }
}

/// Tells a connection over the cap to come back later, without waiting for it: one non-blocking write into
/// a fresh socket's empty send buffer, then close.
fn refuse(stream: &TcpStream) {
    let _ = stream.try_write(REFUSAL);
    tracing::debug!("connection refused: at the connection cap");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_defaults_are_the_defaults() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from(["openframe", "serve"]).expect("parses");
        let crate::cli::Command::Serve(crate::cli::ServeArgs { limits, .. }) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(limits, ServeLimits::default());
        let cli = crate::cli::Cli::try_parse_from([
            "openframe",
            "serve",
            "--max-connections",
            "7",
            "--body-read-timeout",
            "2",
        ])
        .expect("parses");
        let crate::cli::Command::Serve(crate::cli::ServeArgs { limits, .. }) = cli.command else {
            panic!("not serve")
        };
        assert_eq!(limits.max_connections, 7);
        assert_eq!(limits.body_read_timeout, Duration::from_secs(2));
        assert!(
            crate::cli::Cli::try_parse_from(["openframe", "serve", "--max-connections", "0"])
                .is_err()
        );
    }

    #[test]
    fn seconds_are_whole_and_positive() {
        assert_eq!(parse_seconds("15"), Ok(Duration::from_secs(15)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("1.5").is_err());
        assert!(parse_seconds("-1").is_err());
    }
}
