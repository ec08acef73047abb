//! The event stream: the hub that reads the store's outbox once per server and routes each event to the
//! clients it is for (`hub.rs`, `routing.rs`), and the Server-Sent Events endpoint (`stream.rs`).

mod hub;
mod routing;
pub(crate) mod stream;

pub use hub::{EventHub, EventSettings, StreamPermit, Subscription, WireEvent};
pub use routing::{Filter, IndexSize};
