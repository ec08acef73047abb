//! # openframe-http
//!
//! The openframe API as an axum [`Router`](axum::Router) over any `Arc<dyn Repository>`: the
//! voice-interaction endpoints, the read-only Table API and the event stream under `/api/now/`, content
//! negotiation (JSON and XML), authentication, and the platform's error envelope. It depends on no store:
//! open one with `openframe-stores` (or a store crate, or your own `Repository`) and hand it in.
//!
//! - [`router`]: everything `openframe serve` mounts, `/healthz`, `/workspace` and `/api/openapi.json`
//!   included.
//! - [`RouterBuilder`]: what a host program mounts — the API alone, nested under a prefix or merged into its
//!   own router, with [`Auth::Upstream`] when the host authenticates callers itself.
//! - [`AppState::service`]: writes from the host program that reach the event streams like the API's own.
//!
//! Handlers are a few lines each: extract, call `openframe_core::Service`, return a reply or an
//! [`ApiError`]; a middleware writes either in the format the client negotiated.

#![warn(missing_docs)]

pub mod auth;
mod batch;
pub mod events;
mod observe;
pub mod openapi;
mod openframe_api;
mod router;
mod state;
mod stats_api;
mod table_api;
pub mod wire;
mod workspace;

pub use auth::{
    Auth, ClientAddr, ServedOverTls, add_named_user, add_user, hash_password,
    register_oauth_client, set_password,
};
pub use events::EventSettings;
pub use observe::request_id::RequestId;
pub use observe::request_log::{REQUEST_DURATION, REQUESTS_TOTAL, request_log};
pub use router::{OPENFRAME_PREFIXES, RouterBuilder, router};
pub use state::{AppState, DEFAULT_BODY_READ_TIMEOUT};
pub use wire::error::ApiError;
