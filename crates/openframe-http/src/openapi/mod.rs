//! The OpenAPI 3.1 document of the API, generated from the code that serves it: the paths from the router's
//! prefixes and `openframe_core::schema`'s tables, the body schemas from the same field definitions and limits
//! that validate requests (`schemas.rs`), the value patterns from the core's rules (`patterns.rs`).
//!
//! `GET /api/openapi.json` serves it, `openframe openapi` prints it, and `docs/openapi.json` holds a copy that
//! a test keeps current. Built with utoipa's typed builders rather than `#[utoipa::path]` annotations: the
//! handlers take raw bodies (JSON or XML, validated by the core) and the Table API paths are one per table, so
//! annotations would repeat by hand what the tables already say.

pub(crate) mod paths;
pub(crate) mod patterns;
pub(crate) mod schemas;

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder};

/// The document as utoipa's model.
pub(crate) fn document() -> OpenApi {
    let components = ComponentsBuilder::new()
        .schemas_from_iter(schemas::components())
        .response("MethodNotAllowed", schemas_405())
        .security_scheme(
            paths::BASIC_AUTH,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A user of the store (`openframe user add`) with one of the roles \
                         sn_openframe_api_user, sn_openframe_user or admin.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            paths::BEARER_AUTH,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An access token from `POST /oauth_token.do`, accepted wherever Basic is.",
                    ))
                    .build(),
            ),
        )
        .build();
    let tag = |name: &str, description: &str| {
        TagBuilder::new()
            .name(name)
            .description(Some(description))
            .build()
    };
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("openframe voice-interaction API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(DESCRIPTION))
                .build(),
        )
        .paths(paths::paths())
        .components(Some(components))
        .tags(Some([
            tag(
                "voice-interaction",
                "Create, update and read voice interactions.",
            ),
            tag("table", "The read-only Table API subset."),
            tag(
                "stats",
                "The Aggregate API: counts and aggregates, whole or per group.",
            ),
            tag("batch", "Many REST requests in one."),
            tag("oauth", "OAuth 2.0 access and refresh tokens."),
            tag("operations", "Health and this document."),
            tag(
                "workspace",
                "The agent workspace page (HTML, CSS and ES modules for a browser).",
            ),
        ]))
        .build()
}

const DESCRIPTION: &str = "The openframe voice-interaction API: a CCaaS provider creates and updates the \
interaction record of each call, with phone logs, related records and context variables. Every body is JSON \
or XML (`Content-Type`; JSON when missing) and every answer follows `Accept` (JSON when missing or `*/*`), \
errors too, as `{\"error\":{\"message\":…,\"detail\":…},\"status\":\"failure\"}`. A known path with a method it \
does not have answers 405 with an `Allow` header (components/responses/MethodNotAllowed); an unknown path \
under /api/now/ answers 400 (401 without credentials).";

fn schemas_405() -> utoipa::openapi::Response {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::header::HeaderBuilder;
    use utoipa::openapi::response::ResponseBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    let mut r = ResponseBuilder::new()
        .description("The path exists but not with this method.")
        .header(
            "Allow",
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("the methods the path has"))
                .build(),
        );
    for t in ["application/json", "application/xml"] {
        r = r.content(
            t,
            ContentBuilder::new()
                .schema(Some(schemas::reference(schemas::name::ERROR)))
                .build(),
        );
    }
    r.build()
}

/// The document as JSON, with two corrections to what utoipa 5 writes: the headers every answer carries (and
/// `Allow` on a 405) are marked `required` (the Header Object has that field, utoipa 5's model lacks it), and
/// Link Objects spell their fields in camelCase as OpenAPI does (utoipa 5
/// writes `operation_id`).
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(document()).unwrap_or(Value::Null);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut() {
                let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(Value::as_object_mut)
                else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    camel_case_links(response);
                    add_request_id(response);
                    for (s, header) in paths::REQUIRED_HEADERS {
                        if s == status {
                            mark_required(response, header);
                        }
                    }
                }
            }
        }
    }
    if let Some(r) = doc.pointer_mut("/components/responses/MethodNotAllowed") {
        mark_required(r, "Allow");
        add_request_id(r);
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for operation in item.values_mut().filter_map(Value::as_object_mut) {
                if operation.contains_key("responses") {
                    let parameters = operation
                        .entry("parameters")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Some(parameters) = parameters.as_array_mut() {
                        parameters.push(request_id_parameter());
                    }
                }
            }
        }
    }
    doc
}

/// Every response carries `X-Request-Id` (the request log's id, see `request_id.rs`): the client's own when
/// it is 1-128 characters of `A-Za-z0-9-_.:`, else a fresh UUID.
fn add_request_id(response: &mut Value) {
    let Some(response) = response.as_object_mut() else {
        return;
    };
    let headers = response
        .entry("headers")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Some(headers) = headers.as_object_mut() {
        headers.insert(
            REQUEST_ID.into(),
            serde_json::json!({
                "description": "This request's id: the X-Request-Id sent, when it is 1-128 characters of A-Za-z0-9-_.:, else a new UUID. The server's log line for the request carries it.",
                "required": true,
                "schema": {"type": "string", "minLength": 1, "maxLength": 128}
            }),
        );
    }
}

/// The optional `X-Request-Id` request header. Any value is accepted; one that breaks the rule above is
/// replaced, not refused, so the schema does not constrain it.
fn request_id_parameter() -> Value {
    serde_json::json!({
        "name": REQUEST_ID,
        "in": "header",
        "required": false,
        "description": "An id for this request, echoed on the response and logged; kept when it is 1-128 characters of A-Za-z0-9-_.:, else replaced by a new UUID.",
        "schema": {"type": "string"}
    })
}

const REQUEST_ID: &str = "X-Request-Id";

fn camel_case_links(response: &mut Value) {
    let Some(links) = response.get_mut("links").and_then(Value::as_object_mut) else {
        return;
    };
    for link in links.values_mut().filter_map(Value::as_object_mut) {
        for (snake, camel) in [
            ("operation_id", "operationId"),
            ("operation_ref", "operationRef"),
            ("request_body", "requestBody"),
        ] {
            if let Some(value) = link.remove(snake) {
                // An empty operationRef beside an operationId would name no operation.
                if value.as_str() != Some("") {
                    link.insert(camel.to_owned(), value);
                }
            }
        }
    }
}

fn mark_required(response: &mut Value, header: &str) {
    if let Some(h) = response
        .get_mut("headers")
        .and_then(|h| h.get_mut(header))
        .and_then(Value::as_object_mut)
    {
        h.insert("required".into(), Value::Bool(true));
    }
}

/// The document as `docs/openapi.json` holds it: pretty JSON and a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document_json()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /api/openapi.json`: the document, built once.
pub(crate) async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(document_text).clone();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        text,
    )
        .into_response()
}
