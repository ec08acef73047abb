//! Metrics in Prometheus's text format at `/metrics`.
//!
//! Everything is recorded through the `metrics` facade: the request layer (`request_log.rs`), the store
//! decorator (`timed_repository.rs`) and the stores themselves (group-commit batch sizes, pool gauges; see
//! `openframe_core::metric_names`). [`Metrics::install`] puts the Prometheus recorder behind the facade
//! once per process; `/metrics` renders what it holds.
//!
//! `/metrics` needs no credentials (scrapers rarely carry any, and it holds no user data: no user names, ids
//! or phone numbers, only routes, statuses, operations and sizes). Serve it on a private address with
//! `--metrics-listen` when the API's listener is public.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use openframe_core::Repository;
use openframe_core::metric_names::{COMMIT_BATCH_SIZE, POOL_CONNECTIONS, POOL_MAX_CONNECTIONS};

pub use openframe_http::{REQUEST_DURATION, REQUESTS_TOTAL};
/// Histogram: seconds a store operation took, by `operation` (the `Repository` method) and `outcome` (`ok`,
/// `invalid`, `not_found`, `conflict`, `unavailable`, `internal`).
pub const STORE_OPERATION_DURATION: &str = "openframe_store_operation_duration_seconds";

/// Buckets of the latency histograms, in seconds: half a millisecond to ten seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Buckets of the batch-size histogram: powers of two up to the SQLite writer's largest batch and beyond.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// How often histograms are drained into their buckets between scrapes (the exporter's own advice).
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder.
#[derive(Clone, Debug)]
pub struct Metrics {
    handle: PrometheusHandle,
}

static INSTALLED: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

impl Metrics {
    /// Installs the recorder behind the `metrics` facade, or returns the one this function installed
    /// before (tests build several routers in one process). Fails if another recorder was installed.
    pub fn install() -> Result<Self, String> {
        let installed = INSTALLED.get_or_init(|| {
            Self::builder()
                .and_then(PrometheusBuilder::install_recorder)
                .map_err(|e| format!("cannot install the metrics recorder: {e}"))
        });
        let handle = installed.clone()?;
        describe();
        Ok(Metrics { handle })
    }

    fn builder() -> Result<PrometheusBuilder, metrics_exporter_prometheus::BuildError> {
        PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)?
            .set_buckets_for_metric(Matcher::Full(COMMIT_BATCH_SIZE.into()), BATCH_BUCKETS)
    }

    /// Everything recorded so far, in Prometheus's text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Drains histograms into their buckets; [`Metrics::spawn_upkeep`] calls it every
    /// [`UPKEEP_INTERVAL`].
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Runs [`Metrics::run_upkeep`] every [`UPKEEP_INTERVAL`] on the current runtime, until it shuts down.
    pub fn spawn_upkeep(&self) {
        let metrics = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_INTERVAL);
            loop {
                every.tick().await;
                metrics.run_upkeep();
            }
        });
    }
}

/// The help texts of openframe's metrics.
fn describe() {
    use metrics::Unit;
    metrics::describe_counter!(REQUESTS_TOTAL, "HTTP requests answered");
    metrics::describe_histogram!(
        REQUEST_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response"
    );
    metrics::describe_histogram!(
        STORE_OPERATION_DURATION,
        Unit::Seconds,
        "Time a store operation took"
    );
    metrics::describe_histogram!(
        COMMIT_BATCH_SIZE,
        Unit::Count,
        "Writes made durable by one group commit"
    );
    metrics::describe_gauge!(
        POOL_CONNECTIONS,
        "Connections of the store's pool, by state"
    );
    metrics::describe_gauge!(
        POOL_MAX_CONNECTIONS,
        "Most connections the store's pool may open"
    );
}

/// What `/metrics` needs: the recorder, and the store whose gauges it refreshes first.
#[derive(Clone, Debug)]
pub struct MetricsState {
    /// The recorder.
    pub metrics: Metrics,
    /// The store.
    pub repo: Arc<dyn Repository>,
}

/// A router serving `GET /metrics` alone (mounted beside the API, or on its own listener).
pub fn routes(state: MetricsState) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<MetricsState>) -> Response {
    state.repo.record_gauges();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
