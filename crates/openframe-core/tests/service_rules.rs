//! Business rules of the service, on the in-memory store: what one request does to an aggregate.

use std::sync::Arc;

use openframe_core::{Caller, MemoryRepository, Mode, Service, SysId, VoiceInteractionRequest};
use serde_json::{Value, json};

fn caller() -> Caller {
    Caller {
        sys_id: SysId::parse("a8f98bb0eb32010045e1a5115206fe3a").unwrap(),
        user_name: "agent".into(),
    }
}

fn req(body: Value, mode: Mode) -> VoiceInteractionRequest {
    VoiceInteractionRequest::parse(&body, mode).unwrap()
}

#[tokio::test]
async fn same_call_ids_in_one_request_update_one_log_once() {
    let service = Service::new(Arc::new(MemoryRepository::new()));
    let created = service
        .create(
            &caller(),
            req(
                json!({"interaction": {"userPhoneNumber": "+12"}, "phoneLogs": [{"call_id": "a"}]}),
                Mode::Create,
            ),
        )
        .await
        .unwrap();
    // Three entries naming call a all change the one stored log, whose mod count rises once.
    let patch = json!({"phoneLogs": [{"call_id": "a", "contact": ""}, {"call_id": "a"}, {"call_id": "a", "phone_number": "+123"}]});
    service
        .update(&caller(), &created.sys_id, req(patch, Mode::Update))
        .await
        .unwrap();
    let read = service.read(&created.sys_id).await.unwrap();
    assert_eq!(
        read.phone_logs.len(),
        1,
        "all three entries name the same log"
    );
    assert_eq!(
        read.phone_logs[0].get("sys_mod_count"),
        "1",
        "once per request"
    );
    assert_eq!(read.phone_logs[0].get("phone_number"), "+123");

    let patch = json!({"phoneLogs": [{"call_id": "a", "call_type": "INBOUND"}, {"call_id": "b"}]});
    service
        .update(&caller(), &created.sys_id, req(patch, Mode::Update))
        .await
        .unwrap();
    let read = service.read(&created.sys_id).await.unwrap();
    let ids: Vec<&str> = read.phone_logs.iter().map(|l| l.get("call_id")).collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(read.interaction.get("sys_mod_count"), "2");
}

#[tokio::test]
async fn closing_keeps_given_close_fields_and_fills_the_rest() {
    let service = Service::new(Arc::new(MemoryRepository::new()));
    let body = json!({"interaction": {"userPhoneNumber": "+12", "additionalParams": {
        "state": "closed_abandoned", "closed_at": "2024-11-04 22:00:00"}}});
    let created = service
        .create(&caller(), req(body, Mode::Create))
        .await
        .unwrap();
    let read = service.read(&created.sys_id).await.unwrap();
    assert_eq!(read.interaction.get("closed_at"), "2024-11-04 22:00:00");
    assert_eq!(read.interaction.get("closed_by"), caller().sys_id.as_str());
    // Changing something else does not touch the close fields.
    let patch =
        json!({"interaction": {"additionalParams": {"closed_by": null, "work_notes": "x"}}});
    service
        .update(&caller(), &created.sys_id, req(patch, Mode::Update))
        .await
        .unwrap();
    assert_eq!(
        service
            .read(&created.sys_id)
            .await
            .unwrap()
            .interaction
            .get("closed_by"),
        ""
    );
}
