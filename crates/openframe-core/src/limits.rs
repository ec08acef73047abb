//! Size limits of one request (CONTRACT §3), and of one interaction. Each is a 400 naming it, except the body
//! size, which the HTTP layer enforces as a 413 before anything is parsed.

/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Most phone-log entries in one request.
pub const MAX_PHONE_LOGS: usize = 500;
/// Most related records in one request.
pub const MAX_RELATED_RECORDS: usize = 500;
/// Most phone logs one interaction holds: a create or update that would leave more is refused whole.
pub const MAX_PHONE_LOGS_PER_INTERACTION: usize = 5000;
/// Most related records one interaction holds: a create or update that would leave more is refused whole.
pub const MAX_RELATED_RECORDS_PER_INTERACTION: usize = 5000;
/// Most context variables in one request, and on one interaction after a merge.
pub const MAX_CONTEXT_KEYS: usize = 256;
/// Longest value, in characters (not bytes).
pub const MAX_VALUE_CHARS: usize = 4000;
