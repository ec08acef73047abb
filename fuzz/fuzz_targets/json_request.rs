//! A JSON request body, as `POST`/`PATCH` read it: bytes → value tree → `VoiceInteractionRequest` in both
//! modes. Any input may be refused (a 400), none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openframe_core::{Mode, VoiceInteractionRequest};
use openframe_http::wire::parse_body;
use openframe_http::wire::Format;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = parse_body(Format::Json, data) {
        let _ = VoiceInteractionRequest::parse(&value, Mode::Create);
        let _ = VoiceInteractionRequest::parse(&value, Mode::Update);
    }
});
