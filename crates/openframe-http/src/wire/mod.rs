//! Bodies in and out: reading a request body as JSON or XML (`body.rs`, `xml_body.rs`), negotiating the
//! response format (`negotiate.rs`), decoding form components (`form.rs`), writing replies and the platform's error envelope (`render.rs`,
//! `xml.rs`, `error.rs`).

pub(crate) mod body;
pub(crate) mod error;
pub(crate) mod form;
pub(crate) mod negotiate;
pub(crate) mod render;
pub(crate) mod rows;
pub(crate) mod xml;
pub(crate) mod xml_body;

pub use body::parse as parse_body;
pub use negotiate::{Format, response_format};
