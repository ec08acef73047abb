//! The reference's request bodies (`docs/examples/`), their XML equivalent, and the caller the benches act as.

use openframe_core::schema::field;
use openframe_core::{Caller, Mode, SysId, VoiceInteractionRequest};

/// The reference's POST example, verbatim.
pub const CREATE_JSON: &[u8] = include_bytes!("../../docs/examples/create.json");

/// The reference's PATCH example, verbatim.
pub const UPDATE_JSON: &[u8] = include_bytes!("../../docs/examples/update.json");

/// The POST example as an XML body: the same request, as `openframe_http::wire::parse_body` reads XML.
pub const CREATE_XML: &[u8] = include_bytes!("../data/create.xml");

/// The POST example, parsed and validated.
pub fn create_request() -> VoiceInteractionRequest {
    parse(CREATE_JSON, Mode::Create)
}

/// The PATCH example, parsed and validated.
pub fn update_request() -> VoiceInteractionRequest {
    parse(UPDATE_JSON, Mode::Update)
}

/// The POST example with its own `clientSessionId`, so that a query by session finds one interaction.
pub fn create_request_in_session(
    template: &VoiceInteractionRequest,
    session: &str,
) -> VoiceInteractionRequest {
    let mut req = template.clone();
    for (name, value) in &mut req.interaction {
        if *name == field::CLIENT_SESSION_ID {
            session.clone_into(value);
        }
    }
    req
}

/// The `clientSessionId` seeded interaction `i` gets.
pub fn session_id(i: usize) -> String {
    format!("bench-{i:07}")
}

/// The user the benches act as.
pub fn caller() -> Caller {
    Caller {
        sys_id: SysId::random(),
        user_name: "bench".to_owned(),
    }
}

fn parse(bytes: &[u8], mode: Mode) -> VoiceInteractionRequest {
    let value: serde_json::Value =
        serde_json::from_slice(bytes).expect("the reference example is JSON");
    VoiceInteractionRequest::parse(&value, mode).expect("the reference example is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use openframe_http::wire::Format;
    use openframe_http::wire::parse_body;

    #[test]
    fn the_xml_body_is_the_json_example() {
        let xml = parse_body(Format::Xml, CREATE_XML).expect("create.xml parses");
        let from_xml =
            VoiceInteractionRequest::parse(&xml, Mode::Create).expect("create.xml is valid");
        assert_eq!(from_xml, create_request());
    }

    #[test]
    fn a_session_replaces_the_examples_one() {
        let req = create_request_in_session(&create_request(), &session_id(7));
        let sessions: Vec<_> = req
            .interaction
            .iter()
            .filter(|(k, _)| *k == field::CLIENT_SESSION_ID)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(sessions, ["bench-0000007"]);
    }

    #[test]
    fn the_update_example_is_valid() {
        assert!(!update_request().phone_logs.is_empty());
    }
}
