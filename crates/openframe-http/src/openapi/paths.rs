//! The document's operations: the voice-interaction endpoints under each prefix the router mounts, one pair
//! of Table API operations per table name `openframe_core::schema` answers to, `/healthz` and the document
//! itself — each with every status the code can answer and the headers that come with it.

use openframe_core::Mode;
use openframe_core::query::MAX_LIMIT;
use openframe_core::schema::{self, Table};
use openframe_core::table_write::is_writable_table;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::{
    HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem, PathItemBuilder,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{ResponseBuilder, ResponsesBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Paths, RefOr, Required, Response};

use super::patterns;
use super::schemas::{self, name, reference};
use crate::router::OPENFRAME_PREFIXES;
use crate::stats_api::{MAX_GROUPS, STATS_PREFIXES};
use crate::wire::error::RETRY_AFTER_SECS;

/// The name of the Basic auth security scheme.
pub const BASIC_AUTH: &str = "basicAuth";
/// The name of the OAuth access-token security scheme.
pub const BEARER_AUTH: &str = "bearerAuth";

/// The media types of request and response bodies (CONTRACT §3; `*+json`, `text/xml`… are accepted too).
const BODY_TYPES: [&str; 2] = ["application/json", "application/xml"];

/// Headers every response of this status carries, by name: the document marks them required.
pub const REQUIRED_HEADERS: &[(&str, &str)] = &[
    ("401", "WWW-Authenticate"),
    ("429", "Retry-After"),
    ("503", "Retry-After"),
];

/// Every operation, in the order a reader meets them.
pub fn paths() -> Paths {
    let mut paths = Paths::new();
    for (i, prefix) in OPENFRAME_PREFIXES.iter().enumerate() {
        let suffix = if i == 0 {
            String::new()
        } else {
            format!("V{i}")
        };
        paths.paths.insert(
            format!("{prefix}/voice-interaction"),
            PathItem::new(HttpMethod::Post, create(&suffix)),
        );
        paths.paths.insert(
            format!("{prefix}/events"),
            PathItem::new(HttpMethod::Get, events(&suffix)),
        );
        paths.paths.insert(
            format!("{prefix}/voice-interaction/{{sysId}}"),
            PathItemBuilder::new()
                .operation(HttpMethod::Get, read(&suffix))
                .operation(HttpMethod::Patch, update(&suffix))
                .parameters(Some([sys_id_param("sysId")]))
                .build(),
        );
    }
    for table in schema::TABLES.into_iter().chain([&schema::SYS_USER]) {
        let writable = is_writable_table(table);
        for table_name in std::iter::once(&table.name).chain(table.aliases) {
            let mut list =
                PathItemBuilder::new().operation(HttpMethod::Get, table_list(table, table_name));
            let mut one = PathItemBuilder::new()
                .operation(HttpMethod::Get, table_read(table, table_name))
                .parameters(Some([sys_id_param("sys_id")]));
            if writable {
                list = list.operation(HttpMethod::Post, table_create(table, table_name));
                one = one
                    .operation(HttpMethod::Put, table_update(table, table_name, "PUT"))
                    .operation(HttpMethod::Patch, table_update(table, table_name, "PATCH"))
                    .operation(HttpMethod::Delete, table_delete(table_name));
            }
            paths
                .paths
                .insert(format!("/api/now/table/{table_name}"), list.build());
            paths.paths.insert(
                format!("/api/now/table/{table_name}/{{sys_id}}"),
                one.build(),
            );
        }
    }
    for (i, prefix) in STATS_PREFIXES.iter().enumerate() {
        for table in schema::TABLES {
            for table_name in std::iter::once(&table.name).chain(table.aliases) {
                paths.paths.insert(
                    format!("{prefix}/{table_name}"),
                    PathItem::new(HttpMethod::Get, table_stats(table, table_name, i)),
                );
            }
        }
    }
    for (i, path) in crate::batch::BATCH_PATHS.iter().enumerate() {
        let suffix = if i == 0 { "" } else { "Unversioned" };
        paths.paths.insert(
            (*path).into(),
            PathItem::new(HttpMethod::Post, batch(suffix)),
        );
    }
    paths.paths.insert(
        crate::auth::oauth::TOKEN_PATH.into(),
        PathItem::new(HttpMethod::Post, oauth_token()),
    );
    paths
        .paths
        .insert("/healthz".into(), PathItem::new(HttpMethod::Get, health()));
    paths.paths.insert(
        "/api/openapi.json".into(),
        PathItem::new(HttpMethod::Get, document()),
    );
    paths
        .paths
        .insert("/metrics".into(), PathItem::new(HttpMethod::Get, metrics()));
    for asset in crate::workspace::ASSETS {
        paths.paths.insert(
            asset.path.into(),
            PathItem::new(HttpMethod::Get, workspace_file(asset)),
        );
    }
    paths
}

/// A file of the agent workspace page: static, no credentials, the same bytes for everyone.
fn workspace_file(asset: &crate::workspace::Asset) -> OperationBuilder {
    let media_type = asset
        .content_type
        .split(';')
        .next()
        .unwrap_or(asset.content_type)
        .trim();
    let ok = ResponseBuilder::new()
        .description("The file, with a strict Content-Security-Policy.")
        .content(
            media_type,
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        );
    let operation_id = format!(
        "workspace{}",
        asset
            .path
            .trim_start_matches("/workspace")
            .replace(['/', '.'], "_")
    );
    OperationBuilder::new()
        .operation_id(Some(operation_id))
        .tag("workspace")
        .summary(Some(format!("The agent workspace page: {}", asset.path)))
        .responses(ResponsesBuilder::new().response("200", ok).build())
}

fn sys_id_param(param: &str) -> utoipa::openapi::path::Parameter {
    ParameterBuilder::new()
        .name(param)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("A sys_id: 32 lowercase hexadecimal characters."))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(patterns::whole(patterns::SYS_ID))),
        ))
        .build()
}

/// The body of `schema` in JSON and in XML.
fn in_both_formats(
    schema: RefOr<utoipa::openapi::schema::Schema>,
) -> Vec<(&'static str, utoipa::openapi::Content)> {
    BODY_TYPES
        .iter()
        .map(|t| {
            (
                *t,
                ContentBuilder::new().schema(Some(schema.clone())).build(),
            )
        })
        .collect()
}

fn response(description: &str, schema_name: &str) -> ResponseBuilder {
    in_both_formats(reference(schema_name)).into_iter().fold(
        ResponseBuilder::new().description(description),
        |r, (t, c)| r.content(t, c),
    )
}

fn error(description: &str) -> ResponseBuilder {
    response(description, name::ERROR)
}

fn retry_after(r: ResponseBuilder, description: &str) -> ResponseBuilder {
    r.header(
        "Retry-After",
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .description(Some(description))
            .build(),
    )
}

/// What can go wrong with any request: the renderer's 406, and a store that fails.
fn server_errors(r: ResponsesBuilder) -> ResponsesBuilder {
    r.response(
        "406",
        ResponseBuilder::new()
            .description("Accept allows neither JSON nor XML (the body is JSON).")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(reference(name::ERROR)))
                    .build(),
            ),
    )
    .response(
        "500",
        error("An unexpected fault; the body names no internals."),
    )
    .response(
        "503",
        retry_after(
            error(
                "The store did not answer, or (a Table API page of more than 500 rows) too many large pages \
                 were being written; nothing was written. (When every connection of `serve --max-connections` \
                 is busy, a new one is answered 503 with `Retry-After: 1`, but for `/healthz`.)",
            ),
            &format!("seconds to wait before retrying ({RETRY_AFTER_SECS})"),
        ),
    )
}

/// What every request under `/api/now/` can get: the auth answers, a bad parameter or path, and the above.
fn api_errors(r: ResponsesBuilder) -> ResponsesBuilder {
    server_errors(
        r.response(
            "400",
            error("A parameter, the path or the body broke a rule; the detail names it. Nothing changed."),
        )
        .response(
            "401",
            error("No or bad credentials (message `User Not Authenticated`).").header(
                "WWW-Authenticate",
                HeaderBuilder::new()
                    .schema(ObjectBuilder::new().schema_type(Type::String))
                    .description(Some("`Basic realm=\"openframe\"`"))
                    .build(),
            ),
        )
        .response(
            "403",
            error("The user has none of the roles sn_openframe_api_user, sn_openframe_user, admin."),
        )
        .response(
            "429",
            retry_after(
                error("Too many failed sign-ins from this address; for the event stream, also too many streams open (20 per user by default)."),
                "seconds to wait before trying again",
            ),
        ),
    )
}

/// What a request with a body can also get.
fn body_errors(r: ResponsesBuilder) -> ResponsesBuilder {
    r.response(
        "408",
        error("The body did not arrive whole within the body-read timeout (`serve --body-read-timeout`)."),
    )
    .response("413", error("The body is over 1 MiB."))
        .response("415", error("Content-Type is neither JSON nor XML."))
}

fn not_found(r: ResponsesBuilder) -> ResponsesBuilder {
    r.response(
        "404",
        error("No record with this sys_id (message `No Record found`)."),
    )
}

fn api_operation(operation_id: String, tag: &str, summary: &str) -> OperationBuilder {
    OperationBuilder::new()
        .operation_id(Some(operation_id))
        .tag(tag)
        .summary(Some(summary))
        .security(SecurityRequirement::new::<_, [&str; 0], &str>(
            BASIC_AUTH,
            [],
        ))
        .security(SecurityRequirement::new::<_, [&str; 0], &str>(
            BEARER_AUTH,
            [],
        ))
}

/// `POST /api/now/v1/batch`: the platform's Batch API.
fn batch(suffix: &str) -> OperationBuilder {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let id = || {
        utoipa::openapi::schema::OneOfBuilder::new()
            .item(text().max_length(Some(100)))
            .item(ObjectBuilder::new().schema_type(Type::Integer))
    };
    let header_list = || {
        utoipa::openapi::schema::ArrayBuilder::new().items(
            ObjectBuilder::new()
                .property("name", text())
                .property("value", text())
                .required("name")
                .required("value"),
        )
    };
    let item = ObjectBuilder::new()
        .property("id", id())
        .property(
            "method",
            text().enum_values(Some(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])),
        )
        .property(
            "url",
            text().pattern(Some("^/api/now/")).description(Some(
                "A path under /api/now/ with its query (no batch, no event stream).",
            )),
        )
        .property("headers", header_list())
        .property(
            "body",
            text()
                .content_encoding("base64")
                .description(Some("The request body, base64; at most 1 MiB decoded.")),
        )
        .property(
            "exclude_response_headers",
            ObjectBuilder::new().schema_type(Type::Boolean),
        )
        .required("id")
        .required("method")
        .required("url");
    let request = ObjectBuilder::new()
        .property("batch_request_id", id())
        .property(
            "rest_requests",
            utoipa::openapi::schema::ArrayBuilder::new()
                .items(item)
                .max_items(Some(crate::batch::MAX_ITEMS)),
        )
        .required("rest_requests");
    let serviced = ObjectBuilder::new()
        .property("id", text())
        .property(
            "status_code",
            ObjectBuilder::new().schema_type(Type::Integer),
        )
        .property("status_text", text())
        .property("headers", header_list())
        .property("body", text().content_encoding("base64"))
        .property(
            "execution_time",
            ObjectBuilder::new().schema_type(Type::Integer),
        )
        .required("id")
        .required("status_code")
        .required("body");
    let answer = ObjectBuilder::new()
        .property("batch_request_id", text())
        .property(
            "serviced_requests",
            utoipa::openapi::schema::ArrayBuilder::new().items(serviced),
        )
        .property(
            "unserviced_requests",
            utoipa::openapi::schema::ArrayBuilder::new()
                .items(ObjectBuilder::new().property("id", text()).required("id")),
        )
        .required("batch_request_id")
        .required("serviced_requests")
        .required("unserviced_requests");
    let ok = ResponseBuilder::new()
        .description("Each request's answer, in order; those left when the batch ran out of time are unserviced.")
        .content(
            "application/json",
            ContentBuilder::new().schema(Some(answer)).build(),
        );
    let responses = api_errors(
        ResponsesBuilder::new()
            .response("200", ok)
            .response("413", error("The batch is over 8 MiB.")),
    );
    api_operation(format!("batch{suffix}"), "batch", "Many REST requests in one (Batch API)")
        .description(Some(
            "As the platform's Batch API: up to 1,000 requests, each run in order as the caller through \
             the same routes and rules as if sent alone, each answered with its status, headers and base64 \
             body. A batch with a bad request (no id, a repeated id, a URL outside /api/now/, bad base64) \
             is a 400 naming it, and none of its requests runs.",
        ))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(request)).build(),
                )
                .build(),
        ))
        .responses(responses.build())
}

/// `POST /oauth_token.do`: the password and refresh-token grants.
fn oauth_token() -> OperationBuilder {
    let text = |description: &str| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(description))
    };
    let form = ObjectBuilder::new()
        .property(
            "grant_type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["password", "refresh_token"])),
        )
        .required("grant_type")
        .property(
            "client_id",
            text("The client's id (or in a Basic header with the secret)."),
        )
        .property("client_secret", text("The client's secret."))
        .property("username", text("The user signing in (password grant)."))
        .property("password", text("The user's password (password grant)."))
        .property(
            "refresh_token",
            text("A refresh token this client was given (refresh-token grant)."),
        );
    let token = ObjectBuilder::new()
        .property("access_token", text("Send as `Authorization: Bearer …`."))
        .property(
            "refresh_token",
            text("Exchange for a new access token; the same one is returned on refresh."),
        )
        .property(
            "scope",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["useraccount"])),
        )
        .property(
            "token_type",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["Bearer"])),
        )
        .property(
            "expires_in",
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .description(Some(
                    "Seconds the access token lives, less one (1799 by default).",
                )),
        )
        .required("access_token")
        .required("refresh_token")
        .required("scope")
        .required("token_type")
        .required("expires_in");
    let oauth_error = || {
        ObjectBuilder::new()
            .property(
                "error",
                text("`access_denied`, `invalid_request`, `unsupported_grant_type`, …"),
            )
            .property("error_description", text("What was wrong."))
            .required("error")
            .required("error_description")
    };
    let json = |description: &str, schema: ObjectBuilder| {
        ResponseBuilder::new().description(description).content(
            "application/json",
            ContentBuilder::new().schema(Some(schema)).build(),
        )
    };
    let responses = ResponsesBuilder::new()
        .response("200", json("The tokens.", token))
        .response(
            "400",
            json(
                "A malformed request: not a form, a parameter missing or repeated, an unknown grant.",
                oauth_error(),
            ),
        )
        .response(
            "401",
            json(
                "Wrong client or user credentials, or a refresh token that is unknown, expired, another \
                 client's, or revoked (its user removed or given a new password).",
                oauth_error(),
            ),
        )
        .response(
            "429",
            retry_after(
                json(
                    "Too many failed sign-ins from this address within a minute.",
                    oauth_error(),
                ),
                "seconds until the address may try again",
            ),
        )
        .response(
            "503",
            retry_after(
                json("The store did not answer; nothing was issued.", oauth_error()),
                &format!("seconds to wait before retrying ({RETRY_AFTER_SECS})"),
            ),
        )
        .response(
            "500",
            json("An unexpected fault; the body names no internals.", oauth_error()),
        );
    OperationBuilder::new()
        .operation_id(Some("oauthToken"))
        .tag("oauth")
        .summary(Some("OAuth 2.0 tokens: the password and refresh-token grants"))
        .description(Some(
            "As the platform's `/oauth_token.do`: a client registered with `openframe oauth-client add` \
             exchanges a user's name and password for an access token (30 minutes unless the client says \
             otherwise) and a refresh token (100 days), and a refresh token for a new access token. \
             Answers are never cached (`Cache-Control: no-store`).",
        ))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/x-www-form-urlencoded",
                    ContentBuilder::new().schema(Some(form)).build(),
                )
                .build(),
        ))
        .responses(responses.build())
}

fn request_body(
    schema_name: &str,
    description: &str,
) -> Option<utoipa::openapi::request_body::RequestBody> {
    let body = in_both_formats(reference(schema_name)).into_iter().fold(
        RequestBodyBuilder::new()
            .description(Some(description))
            .required(Some(Required::True)),
        |b, (t, c)| b.content(t, c),
    );
    Some(body.build())
}

const VOICE_TAG: &str = "voice-interaction";
const TABLE_TAG: &str = "table";
const STATS_TAG: &str = "stats";

/// Links from a created interaction to the operations that take its sysId, so that clients (and stateful
/// tests) can follow them.
fn created_links(r: ResponseBuilder, suffix: &str) -> ResponseBuilder {
    let link = |operation_id: String, param: &str| {
        LinkBuilder::new()
            .operation_id(operation_id)
            .parameter(param, "$response.body#/result/sysId")
            .build()
    };
    r.link(
        "read",
        link(format!("readVoiceInteraction{suffix}"), "sysId"),
    )
    .link(
        "update",
        link(format!("updateVoiceInteraction{suffix}"), "sysId"),
    )
    .link("tableRead", link("read_interaction".to_owned(), "sys_id"))
}

fn create(suffix: &str) -> OperationBuilder {
    let responses = body_errors(api_errors(ResponsesBuilder::new().response(
        "200",
        created_links(
            response(
                "Created (200, as the platform answers, not 201).",
                name::CREATE_RESULT,
            ),
            suffix,
        ),
    )));
    api_operation(
        format!("createVoiceInteraction{suffix}"),
        VOICE_TAG,
        "Create a voice interaction with its phone logs, related records and context",
    )
    .request_body(request_body(
        name::CREATE_REQUEST,
        "JSON, or XML with one root element of any name whose children mirror the JSON keys \
         (`phoneLogs` and `relatedRecords` repeated per entry; an empty element is null).",
    ))
    .responses(responses.build())
}

fn update(suffix: &str) -> OperationBuilder {
    let responses = not_found(body_errors(api_errors(
        ResponsesBuilder::new().response("200", response("Updated.", name::UPDATE_RESULT)),
    )));
    api_operation(
        format!("updateVoiceInteraction{suffix}"),
        VOICE_TAG,
        "Update a voice interaction",
    )
    .request_body(request_body(
        name::UPDATE_REQUEST,
        "JSON or XML, as for create; the sysId in the path is checked first.",
    ))
    .responses(responses.build())
}

fn read(suffix: &str) -> OperationBuilder {
    let responses = not_found(api_errors(ResponsesBuilder::new().response(
        "200",
        response("The interaction, whole.", name::VOICE_INTERACTION),
    )));
    api_operation(
        format!("readVoiceInteraction{suffix}"),
        VOICE_TAG,
        "Read a voice interaction back whole",
    )
    .responses(responses.build())
}

/// `GET …/events`: the interaction events as Server-Sent Events (`event_stream.rs`).
fn events(suffix: &str) -> OperationBuilder {
    let whole_number = || {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole("[ \\t]*[0-9]{1,19}[ \\t]*")))
    };
    let ok = ResponseBuilder::new()
        .description(
            "An endless stream of `id:`, `event:` (`interaction.created`, `interaction.updated`, \
             `interaction.deleted`, or `reset` \
             when the id asked for is beyond retention) and `data:` (JSON: sysId, number, sysModCount, \
             changes, assignedTo, inboundId, children), with keep-alive comments. It ends when the server \
             shuts down; reconnect with `Last-Event-ID`.",
        )
        .content(
            "text/event-stream",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        );
    let responses = api_errors(ResponsesBuilder::new().response("200", ok));
    api_operation(
        format!("streamEvents{suffix}"),
        VOICE_TAG,
        "Follow interaction changes as Server-Sent Events",
    )
    .parameter(query_param(
        "assigned_to",
        "Only interactions assigned to this user: a sys_id, or `me` for the caller.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!("^(?:me|{})$", patterns::SYS_ID))),
    ))
    .parameter(query_param(
        "inbound_id",
        "Only interactions with this inbound id.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1)),
    ))
    .parameter(query_param(
        "last_event_id",
        "Resume after this event id (when the Last-Event-ID header is absent).",
        whole_number(),
    ))
    .parameter(
        ParameterBuilder::new()
            .name("Last-Event-ID")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "Resume after this event id (what EventSource sends on reconnecting).",
            ))
            .schema(Some(whole_number())),
    )
    .responses(responses.build())
}

fn query_param(
    name: &str,
    description: &str,
    schema: impl Into<RefOr<utoipa::openapi::schema::Schema>>,
) -> ParameterBuilder {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
}

/// `sysparm_fields`: a comma list of the table's fields.
fn fields_param(table: &Table) -> ParameterBuilder {
    query_param(
        "sysparm_fields",
        "The fields to show, comma-separated, in this order (all when absent or empty); a field of a \
         referenced user, interaction or provider application as `reference.field` (`assigned_to.name`).",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole(&patterns::field_list(table)))),
    )
}

fn display_value_param() -> ParameterBuilder {
    query_param(
        "sysparm_display_value",
        "`false` or empty (the default): stored values. `true`: display values (a referenced user's name, \
         else user name; an interaction's number; a provider application's name; a choice's label), a \
         reference as {display_value, link}. `all`: {display_value, value} on every field, and link on a \
         reference. Any case.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole_or_empty(patterns::DISPLAY_MODE_TEXT))),
    )
}

fn exclude_links_param() -> ParameterBuilder {
    query_param(
        "sysparm_exclude_reference_link",
        "`true` shows references as plain sys_ids instead of {link, value} objects; `false` or empty \
         (the default) shows links. Any case.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole_or_empty(patterns::BOOLEAN_TEXT))),
    )
}

fn table_list(table: &Table, table_name: &str) -> OperationBuilder {
    let ok = response(
        "A page of rows in the query's order, then by sys_id.",
        &schemas::row_list_name(table),
    )
    .header(
        "X-Total-Count",
        HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0)),
            )
            .description(Some(
                "rows matching the query, over all pages; absent with `sysparm_no_count=true`",
            ))
            .build(),
    )
    .header(
        "Link",
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "first, prev, next and last pages (RFC 8288); never over 8 KiB: for a long query prev, \
                 first and last are left out in that order, then next; absent with \
                 `sysparm_suppress_pagination_header=true`",
            ))
            .build(),
    );
    let responses = api_errors(ResponsesBuilder::new().response("200", ok));
    api_operation(
        format!("list_{table_name}"),
        TABLE_TAG,
        &format!("Query {table_name} (Table API)"),
    )
    .parameter(query_param(
        "sysparm_query",
        "Encoded query: conditions `field<op>value` with the operators =, !=, <, <=, >, >=, IN (a,b,c), \
         NOT IN, STARTSWITH, ENDSWITH, LIKE (contains), NOT LIKE, ISEMPTY, ISNOTEMPTY, ANYTHING, EMPTYSTRING, \
         BETWEEN (low@high), SAMEAS and NSAMEAS (another field), joined by `^` (AND) or `^OR`; `^NQ` starts \
         a new query OR-ed with the others; `ORDERBYfield`, `ORDERBYDESCfield`. Operands of <, >, BETWEEN are \
         whole numbers on number fields (compared as numbers) and date-times on date-time fields, also as \
         `javascript:gs.dateGenerate('yyyy-MM-dd','HH:mm:ss')`. Comparisons fold ASCII case; an empty value \
         matches no negative or ordering condition. A condition or ORDERBY may walk one reference to a \
         user, interaction or provider application (`opened_by.user_name=abel`, `ORDERBYassigned_to.name`; \
         a query ordered so may match at most 10,000 records).",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole(&patterns::encoded_query(table)))),
    ))
    .parameter(query_param(
        "sysparm_limit",
        "Rows per page (default 1000).",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_LIMIT as u64)),
    ))
    .parameter(query_param(
        "sysparm_offset",
        "Rows to skip (default 0).",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u64::from(u32::MAX))),
    ))
    .parameter(fields_param(table))
    .parameter(display_value_param())
    .parameter(exclude_links_param())
    .parameter(query_param(
        "sysparm_no_count",
        "`true`: nothing is counted, so no `X-Total-Count` (and no `last` link; a full page links a `next`); \
         `false` or empty (the default) counts. Any case.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole_or_empty(patterns::BOOLEAN_TEXT))),
    ))
    .parameter(query_param(
        "sysparm_suppress_pagination_header",
        "`true` leaves out the `Link` header; `false` or empty (the default) writes it. Any case.",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::whole_or_empty(patterns::BOOLEAN_TEXT))),
    ))
    .responses(responses.build())
}

/// `GET /api/now/stats/{table}` (version `v` of the prefixes): the Aggregate API.
fn table_stats(table: &Table, table_name: &str, v: usize) -> OperationBuilder {
    let responses = api_errors(ResponsesBuilder::new().response(
        "200",
        response(
            "The count and aggregates, whole or per group.",
            name::STATS_RESULT,
        ),
    ));
    let suffix = if v == 0 {
        String::new()
    } else {
        format!("_v{v}")
    };
    let text = |pattern: String| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
    };
    let numbers = openframe_core::stats::numeric_fields(table);
    let fields = patterns::whole(&patterns::names_list(
        &table.field_names().collect::<Vec<_>>(),
    ));
    api_operation(
        format!("stats_{table_name}{suffix}"),
        STATS_TAG,
        &format!("Count and aggregate {table_name} records (Aggregate API)"),
    )
    .description(Some(format!(
        "Counts, averages, sums, minima and maxima of the records `sysparm_query` selects (the Table API's \
         filter; an `ORDERBY` on a group-by field orders the groups), whole or per group of equal values. \
         Numbers are strings: averages with four decimals, numbers without leading zeros; empty values take \
         no part, and an aggregate over none is `\"\"`. Text and date-times compare byte-wise. More than \
         {MAX_GROUPS} groups is a 400; `sysparm_having` and `sysparm_order_by` are refused (400)."
    )))
    .parameter(query_param(
        "sysparm_query",
        "Encoded query, as the Table API reads it.",
        text(patterns::whole(&patterns::encoded_query(table))),
    ))
    .parameter(query_param(
        "sysparm_count",
        "`true`: each result has `count`. Any case; `false` or empty (the default) leaves it out.",
        text(patterns::whole_or_empty(patterns::BOOLEAN_TEXT)),
    ))
    .parameter(query_param(
        "sysparm_group_by",
        "Fields to group by, comma-separated: one result per distinct combination of their values.",
        text(fields.clone()),
    ))
    .parameter(query_param(
        "sysparm_avg_fields",
        "Number fields to average, comma-separated.",
        text(patterns::whole(&patterns::names_list(&numbers))),
    ))
    .parameter(query_param(
        "sysparm_min_fields",
        "Fields whose smallest value to give, comma-separated.",
        text(fields.clone()),
    ))
    .parameter(query_param(
        "sysparm_max_fields",
        "Fields whose largest value to give, comma-separated.",
        text(fields),
    ))
    .parameter(query_param(
        "sysparm_sum_fields",
        "Number fields to add up, comma-separated.",
        text(patterns::whole(&patterns::names_list(&numbers))),
    ))
    .parameter(query_param(
        "sysparm_display_value",
        "How group-by values show: `false` (the default) the stored value, `true` the display value, \
         `all` both (`value` and `display_value`). Any case.",
        text(patterns::whole_or_empty(
            "[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Aa][Ll][Ll]",
        )),
    ))
    .responses(responses.build())
}

fn table_read(table: &Table, table_name: &str) -> OperationBuilder {
    let responses = not_found(api_errors(ResponsesBuilder::new().response(
        "200",
        response("The row.", &schemas::row_result_name(table)),
    )));
    api_operation(
        format!("read_{table_name}"),
        TABLE_TAG,
        &format!("Read one {table_name} record (Table API)"),
    )
    .parameter(fields_param(table))
    .parameter(display_value_param())
    .parameter(exclude_links_param())
    .responses(responses.build())
}

/// The query parameters a write's answer honours, as a read's do, and `sysparm_input_display_value`.
fn write_params(operation: OperationBuilder, table: &Table) -> OperationBuilder {
    operation
        .parameter(fields_param(table))
        .parameter(exclude_links_param())
        .parameter(query_param(
            "sysparm_input_display_value",
            "`true` or `false` (any case, or empty): accepted; a reference is taken by sys_id or by display \
             value either way (a sys_user by user name, an interaction by number).",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(patterns::whole_or_empty(patterns::BOOLEAN_TEXT))),
        ))
}

/// `POST /api/now/table/{table}` on an interaction table.
fn table_create(table: &'static Table, table_name: &str) -> OperationBuilder {
    // Links to the operations that take the new record's sys_id, so that clients (and stateful tests) can
    // follow them.
    let created = ["read", "update", "patch", "delete"].into_iter().fold(
        response(
            "Created: the record as a read with the same parameters shows it.",
            &schemas::row_result_name(table),
        ),
        |r, verb| {
            r.link(
                verb,
                LinkBuilder::new()
                    .operation_id(format!("{verb}_{table_name}"))
                    .parameter("sys_id", "$response.body#/result/sys_id")
                    .build(),
            )
        },
    );
    let responses = body_errors(api_errors(ResponsesBuilder::new().response("201", created)));
    let operation = api_operation(
        format!("create_{table_name}"),
        TABLE_TAG,
        &format!("Create a {table_name} record (Table API)"),
    )
    .description(Some(
        "The openframe endpoints' rules: an interaction gets its number, state and stamps as their create \
         gives them; a phone log or related record is added to its `interaction` as their update adds one \
         (a log whose call_id the interaction has is that log updated; a related record it has is returned \
         as it is), and the interaction is stamped. Unknown, system and read-only fields are 400s.",
    ))
    .request_body(request_body(
        &schemas::write_name(table, Mode::Create),
        "The fields to set, flat.",
    ));
    write_params(operation, table).responses(responses.build())
}

/// `PUT` or `PATCH /api/now/table/{table}/{sys_id}`: both change the fields the body names.
fn table_update(table: &'static Table, table_name: &str, method: &str) -> OperationBuilder {
    let responses = not_found(body_errors(api_errors(ResponsesBuilder::new().response(
        "200",
        response(
            "Updated: the record as a read with the same parameters shows it.",
            &schemas::row_result_name(table),
        ),
    ))));
    let verb = if method == "PUT" { "update" } else { "patch" };
    let operation = api_operation(
        format!("{verb}_{table_name}"),
        TABLE_TAG,
        &format!("Update a {table_name} record (Table API, {method})"),
    )
    .description(Some(
        "Changes only the fields the body names, by the openframe endpoints' rules; a phone log or related \
         record is changed through its interaction, which is stamped. A body naming no field changes \
         nothing.",
    ))
    .request_body(request_body(
        &schemas::write_name(table, Mode::Update),
        "The fields to change, flat.",
    ));
    write_params(operation, table).responses(responses.build())
}

/// `DELETE /api/now/table/{table}/{sys_id}`: `admin` only.
fn table_delete(table_name: &str) -> OperationBuilder {
    let responses = not_found(api_errors(ResponsesBuilder::new().response(
        "204",
        ResponseBuilder::new().description("Deleted; no body."),
    )))
    .response(
        "403",
        error("The user lacks the role `admin` (or has no openframe role at all)."),
    );
    api_operation(
        format!("delete_{table_name}"),
        TABLE_TAG,
        &format!("Delete a {table_name} record (Table API; admin only)"),
    )
    .description(Some(
        "An interaction goes with its phone logs, related records and context (one `interaction.deleted` \
         event); a phone log or related record goes through its interaction, which is stamped. Its number \
         is never given again.",
    ))
    .responses(responses.build())
}

fn health() -> OperationBuilder {
    let ok = ResponseBuilder::new()
        .description("The store answers.")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(reference(name::HEALTH)))
                .build(),
        );
    let responses = server_errors(ResponsesBuilder::new().response("200", ok));
    OperationBuilder::new()
        .operation_id(Some("health"))
        .tag("operations")
        .summary(Some("Liveness and readiness: no auth, no data"))
        .description(Some(
            "200 `{\"status\":\"ok\"}` in JSON when the store answers within 2 seconds, else 503.",
        ))
        .responses(responses.build())
}

fn document() -> OperationBuilder {
    let ok: Response = ResponseBuilder::new()
        .description("This document (OpenAPI 3.1).")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::Object)))
                .build(),
        )
        .build();
    let responses = ResponsesBuilder::new().response("200", ok).response(
        "406",
        ResponseBuilder::new()
            .description("Accept allows neither JSON nor XML.")
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(reference(name::ERROR)))
                    .build(),
            ),
    );
    OperationBuilder::new()
        .operation_id(Some("openapi"))
        .tag("operations")
        .summary(Some("This OpenAPI document; no auth"))
        .responses(responses.build())
}

/// `GET /metrics`: `serve` mounts it beside the API unless `--metrics-listen` gives it an address of its own
/// (then this listener answers 404, as does a router mounted without metrics).
fn metrics() -> OperationBuilder {
    let ok: Response = ResponseBuilder::new()
        .description("Prometheus text exposition format 0.0.4: request counts and latency by route and status, store operation latency, group-commit batch sizes, pool gauges.")
        .content(
            "text/plain",
            ContentBuilder::new()
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        )
        .build();
    let responses = ResponsesBuilder::new().response("200", ok).response(
        "404",
        error("Metrics are served on the `--metrics-listen` address instead, or not at all."),
    );
    OperationBuilder::new()
        .operation_id(Some("metrics"))
        .tag("operations")
        .summary(Some("Prometheus metrics; no auth"))
        .responses(responses.build())
}
