//! Per-request observability: the request id (`request_id.rs`) and the request log with its metrics
//! (`request_log.rs`).

pub(crate) mod request_id;
pub(crate) mod request_log;
