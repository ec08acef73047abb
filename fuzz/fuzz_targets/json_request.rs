//! A JSON request body, as `POST`/`PATCH` read it: bytes → value tree → `VoiceInteractionRequest` in both
//! modes, and the Table API's `TableWrite` for each table it writes. Any input may be refused (a 400), none
//! may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openframe_core::schema::TABLES;
use openframe_core::table_write::{TableWrite, is_writable_table};
use openframe_core::{Mode, VoiceInteractionRequest};
use openframe_http::wire::parse_body;
use openframe_http::wire::Format;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = parse_body(Format::Json, data) {
        let _ = VoiceInteractionRequest::parse(&value, Mode::Create);
        let _ = VoiceInteractionRequest::parse(&value, Mode::Update);
        for table in TABLES.iter().filter(|t| is_writable_table(t)) {
            let _ = TableWrite::parse(table, &value, Mode::Create);
            let _ = TableWrite::parse(table, &value, Mode::Update);
        }
    }
});
