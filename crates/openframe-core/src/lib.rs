//! # openframe-core
//!
//! The domain of openframe, the voice-interaction API through which a contact-center provider creates and
//! updates the interaction record of every phone call: records and their rules, request parsing and
//! validation, the create/update/read service, the [`Repository`] trait every store implements, an in-memory
//! reference store and (feature `conformance`) the suite every store must pass.
//!
//! Nothing here does HTTP, SQL or file I/O.
//!
//! A store of one's own implements [`Repository`] with the shared rules core provides
//! ([`unique::check_unique`] for conflicts, [`event::MemoryOutbox`] or the [`event`] rules for the outbox,
//! [`AggregateChange::apply_to`] for updates) and passes [`conformance`]; `examples/custom_store.rs` is
//! one such store.
//!
//! ```
//! # tokio_test();
//! # fn tokio_test() {
//! use std::sync::Arc;
//! use openframe_core::{Caller, MemoryRepository, Mode, Service, SysId, VoiceInteractionRequest};
//!
//! let service = Service::new(Arc::new(MemoryRepository::new()));
//! let caller = Caller { sys_id: SysId::random(), user_name: "agent".into() };
//! let body = serde_json::json!({"interaction": {"userPhoneNumber": "+14089965744"}});
//! let req = VoiceInteractionRequest::parse(&body, Mode::Create).unwrap();
//! let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
//! let created = rt.block_on(service.create(&caller, req)).unwrap();
//! assert_eq!(created.number, "IMS0001001");
//! # }
//! ```

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod aggregate;
pub mod computed;
pub mod datetime;
pub mod display;
pub mod dot_walk;
pub mod error;
pub mod event;
pub mod json;
pub mod limits;
pub mod memory;
pub mod metric_names;
pub mod names;
pub mod number;
pub mod oauth;
pub mod phone;
pub mod portability;
pub mod query;
pub mod record;
pub mod repository;
pub mod request;
pub mod schema;
pub mod service;
pub mod stats;
pub mod sys_id;
pub mod table_write;
pub mod unique;
pub mod user;

#[cfg(feature = "conformance")]
#[cfg_attr(docsrs, doc(cfg(feature = "conformance")))]
pub mod conformance;

pub use aggregate::{AggregateChange, Context, InteractionAggregate, Removals};
pub use datetime::DateTime;
pub use error::{BoxError, Conflict, Error, Result};
pub use event::{EventHorizon, EventKind, EventPage, InteractionEvent, MemoryOutbox, StoredEvent};
pub use memory::MemoryRepository;
pub use oauth::{OAuthClient, OAuthToken, TokenKind};
pub use record::Record;
pub use repository::{Repository, UpdatePlan};
pub use request::{Mode, PhoneLogEntry, RelatedRecordRef, VoiceInteractionRequest};
pub use service::{Caller, CommitListener, Created, Environment, Service, SystemEnvironment};
pub use sys_id::SysId;
pub use user::User;
