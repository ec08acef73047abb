//! # openframe-http
//!
//! The HTTP edge of openframe: an axum [`router`] for the voice-interaction API over any
//! `Arc<dyn Repository>` (routing, content negotiation, Basic auth, the platform's error envelope), the store-URL
//! parser that opens the right store, and the `openframe` command line.
//!
//! Handlers are a few lines each: extract, call `openframe_core::Service`, return a [`Reply`] or an
//! [`ApiError`]; the [`render`] middleware writes either in the format the client negotiated.

pub mod app;
pub mod auth;
pub mod body;
pub mod config_file;
pub mod error;
pub mod event_routing;
pub mod event_stream;
pub mod events;
pub mod listener;
pub mod logging;
pub mod negotiate;
pub mod openapi;
pub mod password;
pub mod portability;
pub mod prometheus;
pub mod render;
pub mod request_id;
pub mod request_log;
pub mod settings;
pub mod store_url;
pub mod table_api;
pub mod throttle;
pub mod timed_repository;
pub mod voice_interaction;
pub mod workspace;
pub mod xml;
pub mod xml_body;

pub use app::{AppState, router};
pub use error::ApiError;
pub use render::Reply;
pub mod cli;
pub mod server;
