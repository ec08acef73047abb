//! The OAuth token endpoint's form parser (`application/x-www-form-urlencoded`), what an unauthenticated
//! client reaches first at `/oauth_token.do`. A form that parses is encoded again and must parse to the
//! same parameters; one that does not must say why as a 400 `invalid_request`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use openframe_http::auth::oauth::parse_form;

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    match parse_form(data) {
        Ok(form) => {
            let again: Vec<String> = form
                .iter()
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            let reparsed = parse_form(again.join("&").as_bytes()).expect("an encoded form parses");
            assert_eq!(reparsed, form);
        }
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400);
            assert_eq!(e.error, "invalid_request");
            assert!(!e.description.is_empty());
        }
    }
});
