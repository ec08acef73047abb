//! The openframe endpoints: create (POST), update (PATCH) and read (GET) a voice interaction.

use axum::Extension;
use axum::extract::{Path, Request, State};
use openframe_core::{Caller, InteractionAggregate, Mode, SysId, VoiceInteractionRequest};
use serde_json::{Map, Value, json};

use crate::state::AppState;
use crate::wire::body::read_body;
use crate::wire::error::ApiError;
use crate::wire::render::Reply;

/// `POST /api/now/openframe/voice-interaction`
pub async fn create(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    request: Request,
) -> Result<Reply, ApiError> {
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body, app.body_read_timeout).await?;
    let req = VoiceInteractionRequest::parse(&body, Mode::Create)?;
    let created = app.service.create(&caller, req).await?;
    app.events.committed();
    Ok(Reply(json!({
        "status": "SUCCESS",
        "sysId": created.sys_id.as_str(),
        "number": created.number,
    })))
}

/// `PATCH /api/now/openframe/voice-interaction/{sysId}`
pub async fn update(
    State(app): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(sys_id): Path<String>,
    request: Request,
) -> Result<Reply, ApiError> {
    // The path is checked before the body, so a bad sysId is named even when the body is bad too.
    let sys_id = parse_sys_id(&sys_id)?;
    let (parts, body) = request.into_parts();
    let body = read_body(&parts.headers, body, app.body_read_timeout).await?;
    let req = VoiceInteractionRequest::parse(&body, Mode::Update)?;
    app.service.update(&caller, &sys_id, req).await?;
    app.events.committed();
    Ok(Reply(json!({ "status": "SUCCESS" })))
}

/// `GET /api/now/openframe/voice-interaction/{sysId}`
pub async fn read(
    State(app): State<AppState>,
    Path(sys_id): Path<String>,
) -> Result<Reply, ApiError> {
    let sys_id = parse_sys_id(&sys_id)?;
    let aggregate = app.service.read(&sys_id).await?;
    Ok(Reply(aggregate_json(&aggregate)))
}

fn parse_sys_id(raw: &str) -> Result<SysId, ApiError> {
    SysId::parse(raw).map_err(|rule| ApiError::invalid("sysId", rule))
}

/// CONTRACT §5: every interaction field, the context, the phone logs in creation order, the related records.
fn aggregate_json(a: &InteractionAggregate) -> Value {
    let context: Map<String, Value> = a
        .context
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let related: Vec<Value> = a
        .related_records
        .iter()
        .map(|r| {
            json!({
                "documentTable": r.get(openframe_core::schema::field::DOCUMENT_TABLE),
                "documentId": r.get(openframe_core::schema::field::DOCUMENT_ID),
            })
        })
        .collect();
    json!({
        "sysId": a.interaction.sys_id(),
        "number": a.interaction.get(openframe_core::schema::field::NUMBER),
        "interaction": a.interaction,
        "interactionContext": context,
        "phoneLogs": a.phone_logs,
        "relatedRecords": related,
    })
}
