//! Accepting connections with the limits a server facing hostile clients needs and `axum::serve` does not
//! have: a cap on open connections (at the cap, the longest-idle connection makes room for a new one:
//! `connections.rs`), a deadline for a request's headers (which also closes idle keep-alive connections), a
//! deadline on each stalled response write (`write_deadline.rs`), `/healthz` answered even when every
//! connection is busy, and a graceful drain with a deadline on shutdown.
//!
//! The request-body deadline is enforced where bodies are read (`body.rs`, from [`AppState`]'s setting),
//! so that it answers 408 in the negotiated format.
//!
//! [`AppState`]: crate::AppState

mod connections;
mod io;
mod parse_errors;
mod tls;
mod write_deadline;

pub use tls::Tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use connections::{Connections, Slot, Tracked};
use io::Stream;
use parse_errors::ParseErrorEnvelope;
use write_deadline::WriteDeadline;

/// Connections served beyond the cap when every connection is busy, one request each: enough for health
/// checks and a few clients to be told to come back later, never more.
const OVERFLOW_CONNECTIONS: usize = 64;

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
    /// Seconds a client may take nothing of a response being written before the connection is closed.
    #[arg(long = "response-write-timeout", env = "OPENFRAME_RESPONSE_WRITE_TIMEOUT", default_value = "30",
          value_parser = parse_seconds, value_name = "SECONDS")]
    pub response_write_timeout: Duration,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT before the server exits anyway.
    #[arg(long = "shutdown-grace", env = "OPENFRAME_SHUTDOWN_GRACE", default_value = "30",
          value_parser = parse_seconds, value_name = "SECONDS")]
    pub shutdown_grace: Duration,
}

impl Default for ServeLimits {
    /// The command line's defaults: 1024 connections, 15 s for headers, 30 s for a body, 30 s for a stalled
    /// response write, 30 s to drain.
    fn default() -> Self {
        ServeLimits {
            max_connections: 1024,
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(30),
            response_write_timeout: Duration::from_secs(30),
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
///
/// HTTP/1.1 and HTTP/2 are both spoken: over TLS (`tls`) as ALPN chooses, in plain text HTTP/2 with prior
/// knowledge.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ServeLimits,
    tls: Option<Arc<Tls>>,
    shutdown: impl Future<Output = ()>,
) -> Drain {
    let connections = Connections::new(limits.max_connections as usize);
    let overflow = Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS));
    let graceful = GracefulShutdown::new();
    let spawner = Spawner::new(app, limits, tls);
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
        // Responses are written whole; Nagle would only delay them.
        let _ = stream.set_nodelay(true);
        let stream = WriteDeadline::new(stream, limits.response_write_timeout);
        if let Some(slot) = connections.admit() {
            spawner.admitted(stream, peer, slot, graceful.watcher());
        } else if let Ok(permit) = Arc::clone(&overflow).try_acquire_owned() {
            spawner.beyond_cap(stream, peer, permit, graceful.watcher());
        } else {
            refuse(&stream);
        }
    }
    // No more accepting: from here a connect is refused by the OS.
    drop(listener);
    match tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await {
        Ok(()) => Drain::Complete,
        Err(_) => Drain::TimedOut(connections.open()),
    }
}

/// What every connection's task needs: the app, the limits, TLS, and the two ways of speaking HTTP.
struct Spawner {
    app: Router,
    limits: ServeLimits,
    tls: Option<Arc<Tls>>,
    /// For connections with a place: HTTP/1.1 (with keep-alive and the header deadline) or HTTP/2.
    http: Arc<auto::Builder<TokioExecutor>>,
    /// For connections beyond the cap: one request, then close.
    once: Arc<auto::Builder<TokioExecutor>>,
}

/// What the router learns of a request's connection: its peer, and whether it came over TLS (so that the
/// links it writes say `https`).
fn mark(request: &mut Request<Incoming>, peer: SocketAddr, over_tls: bool) {
    request.extensions_mut().insert(ConnectInfo(peer));
    if over_tls {
        request
            .extensions_mut()
            .insert(openframe_http::ServedOverTls);
    }
}

impl Spawner {
    fn new(app: Router, limits: ServeLimits, tls: Option<Arc<Tls>>) -> Self {
        let mut http = auto::Builder::new(TokioExecutor::new());
        http.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        http.http2().timer(TokioTimer::new());
        let mut once = auto::Builder::new(TokioExecutor::new());
        once.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .keep_alive(false);
        once.http2()
            .timer(TokioTimer::new())
            .max_concurrent_streams(1);
        Spawner {
            app,
            limits,
            tls,
            http: Arc::new(http),
            once: Arc::new(once),
        }
    }

    /// Serves a connection that holds `slot`: every request marks it busy until its response is done, and
    /// it closes when the slot is wanted by a newcomer while it is idle.
    fn admitted(
        &self,
        stream: WriteDeadline<TcpStream>,
        peer: SocketAddr,
        slot: Slot,
        watcher: Watcher,
    ) {
        let slot = Arc::new(slot);
        let app = self.app.clone();
        let requests = Arc::clone(&slot);
        let over_tls = self.tls.is_some();
        let service = service_fn(move |mut request: Request<Incoming>| {
            let in_flight = requests.request();
            mark(&mut request, peer, over_tls);
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(
                    response.map(|body| Body::new(Tracked::new(body, in_flight))),
                )
            }
        });
        let (http, tls, limits) = (Arc::clone(&self.http), self.tls.clone(), self.limits);
        tokio::spawn(async move {
            let served = async {
                let Some(io) = handshake(stream, tls.as_deref(), &limits).await else {
                    return;
                };
                let io = TokioIo::new(ParseErrorEnvelope::new(io));
                let connection = watcher.watch(http.serve_connection(io, service));
                // A client that vanishes or times out is not the server's error: debug level only.
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "connection ended with an error");
                }
            };
            tokio::select! {
                () = served => {}
                // Idle, and its place is wanted: dropping the connection closes it.
                () = slot.evicted() => {}
            }
        });
    }

    /// Serves one request of a connection beyond the cap (every connection was busy): `/healthz` as usual,
    /// anything else told to come back; `permit` is its place among the few such connections.
    fn beyond_cap(
        &self,
        stream: WriteDeadline<TcpStream>,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
        watcher: Watcher,
    ) {
        let app = self.app.clone();
        let over_tls = self.tls.is_some();
        let service = service_fn(move |mut request: Request<Incoming>| {
            mark(&mut request, peer, over_tls);
            let app = app.clone();
            async move {
                if request.uri().path() == "/healthz" {
                    app.oneshot(request.map(Body::new)).await
                } else {
                    Ok(at_capacity())
                }
            }
        });
        let (once, tls, limits) = (Arc::clone(&self.once), self.tls.clone(), self.limits);
        // However it is spoken, a connection beyond the cap gets no longer than one request should take.
        let allowance = limits.header_read_timeout + limits.response_write_timeout;
        tokio::spawn(async move {
            if let Some(io) = handshake(stream, tls.as_deref(), &limits).await {
                let io = TokioIo::new(ParseErrorEnvelope::new(io));
                let connection = watcher.watch(once.serve_connection(io, service));
                if let Ok(Err(error)) = tokio::time::timeout(allowance, connection).await {
                    tracing::debug!(%error, "connection beyond the cap ended with an error");
                }
            }
            drop(permit);
        });
    }
}

/// The connection's stream: plain once its first byte arrives, or after a TLS handshake; either within the
/// header deadline (`None` when the client sends nothing in time, or the handshake fails). The HTTP server
/// reads the first bytes to tell HTTP/2's preface from HTTP/1.1 before any deadline of its own applies, so
/// a client that connects and says nothing is cut off here.
async fn handshake(
    stream: WriteDeadline<TcpStream>,
    tls: Option<&Tls>,
    limits: &ServeLimits,
) -> Option<Stream> {
    let Some(tls) = tls else {
        let mut first = [0u8; 1];
        return match tokio::time::timeout(
            limits.header_read_timeout,
            stream.get_ref().peek(&mut first),
        )
        .await
        {
            Ok(Ok(n)) if n > 0 => Some(Stream::Plain(stream)),
            _ => None,
        };
    };
    match tokio::time::timeout(limits.header_read_timeout, tls.acceptor().accept(stream)).await {
        Ok(Ok(stream)) => Some(Stream::Tls(Box::new(stream))),
        Ok(Err(error)) => {
            tracing::debug!(%error, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// The answer to a request beyond the cap: the platform's envelope, 503, come back in a second.
fn at_capacity() -> Response<Body> {
    let body = r#"{"error":{"message":"Service Unavailable","detail":"the server is at its connection cap; retry later"},"status":"failure"}"#;
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    response
}

/// Tells a connection over the cap to come back later, without waiting for it: one non-blocking write into
/// a fresh socket's empty send buffer, then close.
fn refuse(stream: &WriteDeadline<TcpStream>) {
    let _ = stream.get_ref().try_write(REFUSAL);
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

    /// A client that asks for an endless response and then reads nothing loses its connection once the
    /// write deadline passes: what it finds buffered ends, and the slot is free again.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_that_stops_reading_is_cut_off_at_the_write_deadline() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let endless = || async {
            let chunk = axum::body::Bytes::from(vec![b'x'; 64 * 1024]);
            let chunks = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            Body::from_stream(chunks)
        };
        let app = Router::new().route("/endless", axum::routing::get(endless));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let limits = ServeLimits {
            max_connections: 1,
            response_write_timeout: Duration::from_secs(1),
            ..ServeLimits::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, app, limits, None, async {
            let _ = stopped.await;
        }));
        let mut client = TcpStream::connect(addr).await.expect("connect");
        client
            .write_all(b"GET /endless HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("send");
        // Take nothing for longer than the deadline.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut buf = vec![0u8; 1 << 16];
        let ended = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match client.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(ended.is_ok(), "the endless response was never cut off");
        // The one slot is free: a new client is served.
        let mut next = TcpStream::connect(addr).await.expect("connect");
        next.write_all(b"GET /missing HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            .await
            .expect("send");
        let mut reply = String::new();
        tokio::time::timeout(Duration::from_secs(5), next.read_to_string(&mut reply))
            .await
            .expect("an answer in time")
            .expect("read");
        assert!(reply.starts_with("HTTP/1.1 404"), "{reply}");
        let _ = stop.send(());
        assert_eq!(server.await.expect("join"), Drain::Complete);
    }

    #[test]
    fn seconds_are_whole_and_positive() {
        assert_eq!(parse_seconds("15"), Ok(Duration::from_secs(15)));
        assert!(parse_seconds("0").is_err());
        assert!(parse_seconds("1.5").is_err());
        assert!(parse_seconds("-1").is_err());
    }
}
