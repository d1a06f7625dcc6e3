//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`: every route module's `ApiDoc`
//! merged under one title, with the bearer-token scheme and the problem schema every error
//! answer uses.
//!
//! The route modules describe their own paths next to their handlers (utoipa), so a route and
//! its documentation change together; this module only assembles.

use crate::error::Problem;
use crate::pipeline::WriteResponse;
use crate::routes;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Title, version, shared schemas and the security scheme.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "samplan",
        description = "System of record for SIP (samordnad individuell plan). Errors are RFC 9457 \
                       problem details (application/problem+json) with a stable `code`; texts are \
                       in Swedish. Every write accepts Idempotency-Key and If-Match and answers \
                       {id, version, position, events}.",
        license(name = "EUPL-1.2")
    ),
    components(schemas(Problem, WriteResponse)),
    modifiers(&BearerAuth)
)]
struct Base;

/// Adds the `bearer` scheme (a JWT in `Authorization: Bearer …`) the routes refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A JWT with the claims sub, role (staff, citizen, auditor, reporting, \
                         admin), unit (staff), name, exp, iat, iss and aud.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Every route module's description, in the order they are merged.
fn modules() -> Vec<utoipa::openapi::OpenApi> {
    vec![
        routes::units::ApiDoc::openapi(),
        routes::persons::ApiDoc::openapi(),
        routes::sips::ApiDoc::openapi(),
        routes::inbox::ApiDoc::openapi(),
        routes::me::ApiDoc::openapi(),
        routes::audit::ApiDoc::openapi(),
        routes::reports::ApiDoc::openapi(),
    ]
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for module in modules() {
        doc.merge(module);
    }
    doc
}

/// The document as served at `/api/v1/openapi.json`: [`document`], with refusals described as
/// problem documents.
pub fn document_json() -> serde_json::Value {
    let mut value = serde_json::to_value(document()).unwrap_or_default();
    required_by_the_domain(&mut value);
    query_refusals(&mut value);
    refusals_of_every_route(&mut value);
    path_ids(&mut value);
    write_headers(&mut value);
    position_headers(&mut value);
    text_without_control_characters(&mut value);
    links(&mut value);
    problems_as_problem_json(&mut value);
    value
}

/// Fields a request type reads with a default (so that leaving them out is no parse error) but
/// that the domain then requires, answering 422 `field_missing` without them: required in the
/// document, so that a client learns it from the schema. (`RecordConsentRequest.topics` is
/// `#[serde(default)]` so that its absence is told as the domain's `field_missing` rather than
/// as a missing field of the JSON.)
const REQUIRED_BY_THE_DOMAIN: &[(&str, &str)] = &[("RecordConsentRequest", "topics")];

fn required_by_the_domain(value: &mut serde_json::Value) {
    for (schema, field) in REQUIRED_BY_THE_DOMAIN {
        let Some(schema) = value
            .get_mut("components")
            .and_then(|c| c.get_mut("schemas"))
            .and_then(|s| s.get_mut(*schema))
            .and_then(|s| s.as_object_mut())
        else {
            continue;
        };
        let required = schema
            .entry("required")
            .or_insert_with(|| serde_json::json!([]));
        if let Some(list) = required.as_array_mut() {
            if !list.iter().any(|f| f == field) {
                list.push((*field).into());
            }
        }
    }
}

/// A problem-document response with `description`.
fn problem(description: &str) -> serde_json::Value {
    serde_json::json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    })
}

/// Every operation of the document with its path and method.
fn operations(
    value: &mut serde_json::Value,
) -> impl Iterator<
    Item = (
        &String,
        &String,
        &mut serde_json::Map<String, serde_json::Value>,
    ),
> {
    value
        .get_mut("paths")
        .and_then(|p| p.as_object_mut())
        .into_iter()
        .flat_map(|paths| paths.iter_mut())
        .filter_map(|(path, item)| Some((path, item.as_object_mut()?)))
        .flat_map(|(path, item)| {
            item.iter_mut()
                .filter_map(move |(method, op)| Some((path, method, op.as_object_mut()?)))
        })
}

/// What every route may answer besides its own statuses, because one piece of the edge answers
/// it whatever the route: the token (`extract::Caller`, 401) and the role check every route
/// makes (403); the database (503 `service_unavailable` while it cannot be reached); and for a request
/// with a body, `extract::Command` (400 malformed JSON, unknown field, wrong type, bad
/// `Idempotency-Key` or `If-Match`; 413 body too large; 422 control characters, a domain rule,
/// `idempotency_key_reused`).
fn refusals_of_every_route(value: &mut serde_json::Value) {
    for (_, _, operation) in operations(value) {
        let secured = operation.contains_key("security");
        let has_body = operation.contains_key("requestBody");
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(|r| r.as_object_mut())
        else {
            continue;
        };
        if secured {
            responses.entry("401").or_insert_with(|| {
                problem("No or bad token (`token_missing`, `token_expired`, … `token_*`)")
            });
            responses
                .entry("403")
                .or_insert_with(|| problem("The caller's role or unit may not"));
            responses.entry("503").or_insert_with(|| {
                problem(
                    "`service_unavailable`: the database cannot be reached right now; try again",
                )
            });
        }
        if has_body {
            responses.entry("400").or_insert_with(|| {
                problem("Malformed JSON, unknown field, duplicate key, wrong type, or a bad Idempotency-Key or If-Match header")
            });
            responses
                .entry("413")
                .or_insert_with(|| problem("`payload_too_large`: the body is too large"));
            responses.entry("415").or_insert_with(|| {
                problem("`unsupported_media_type`: a body sent as something other than JSON")
            });
            responses.entry("422").or_insert_with(|| {
                problem("Breaks a rule, `invalid_characters`, or `idempotency_key_reused`")
            });
        }
    }
}

/// A ULID as `ulid::Ulid` parses it: 26 characters of Crockford's base32, at most 128 bits.
pub const ULID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";

/// The `{id}` of a path, as the route reads it: a plan's or a person's id is a ULID (any other
/// text is 404, as an id nobody has); a message id is 1–128 characters.
fn path_ids(value: &mut serde_json::Value) {
    for (path, _, operation) in operations(value) {
        let schema = if [
            "/api/v1/sips/",
            "/api/v1/persons/",
            "/api/v1/me/plans/",
            "/api/v1/audit/sips/",
        ]
        .iter()
        .any(|prefix| path.starts_with(prefix))
        {
            serde_json::json!({"type": "string", "pattern": ULID_PATTERN})
        } else if path.starts_with("/api/v1/inbox/messages/") {
            serde_json::json!({"type": "string", "minLength": 1, "maxLength": 128})
        } else {
            continue;
        };
        let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
        else {
            continue;
        };
        for parameter in parameters {
            if parameter["in"] == "path" && parameter["name"] == "id" {
                parameter["schema"] = schema.clone();
            }
        }
    }
}

/// The headers of a write as `extract::Command` reads them: `Idempotency-Key` is 1–64 visible
/// ASCII characters, `If-Match` a version, quoted as an entity tag or bare. Every write takes
/// both (API.md), also those that create a stream, where the version is 0 until it exists; a
/// write declaring one is given the other, and `409 version_conflict`.
fn write_headers(value: &mut serde_json::Value) {
    for (_, _, operation) in operations(value) {
        let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
        else {
            continue;
        };
        let declares = |name: &str| {
            parameters
                .iter()
                .any(|p| p["in"] == "header" && p["name"] == name)
        };
        let (has_key, has_if_match) = (declares("Idempotency-Key"), declares("If-Match"));
        let is_write = has_key || has_if_match;
        if !has_if_match && is_write {
            parameters.push(serde_json::json!({
                "name": "If-Match", "in": "header", "required": false,
                "description": "Only if the stream is at this version, e.g. \"3\" (0: it does not exist yet)"
            }));
        }
        if !has_key && is_write {
            parameters.push(serde_json::json!({
                "name": "Idempotency-Key", "in": "header", "required": false,
                "description": "Retry-safe key, ≤ 64 characters"
            }));
        }
        for parameter in parameters.iter_mut().filter(|p| p["in"] == "header") {
            let pattern = match parameter["name"].as_str() {
                Some("Idempotency-Key") => "^[!-~]{1,64}$",
                Some("If-Match") => "^(W/)?(\"[0-9]{1,18}\"|[0-9]{1,18})$",
                _ => continue,
            };
            parameter["schema"] = serde_json::json!({"type": "string", "pattern": pattern});
        }
        if is_write {
            if let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            {
                responses.entry("409").or_insert_with(|| {
                    problem("`version_conflict`: If-Match named another version than the stream's")
                });
            }
        }
    }
}

/// Every read that takes `?min_position=N` answers where what it read from stood
/// (`consistency::with_position`): the header is declared on its 200 answer, so that a client
/// (and schemathesis' header check) can rely on it.
fn position_headers(value: &mut serde_json::Value) {
    for (_, _, operation) in operations(value) {
        // A position is 0 or more (`consistency::checked`, the live stream's `from_position`).
        for parameter in operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter(|p| p["name"] == "min_position" || p["name"] == "from_position")
        {
            if let Some(schema) = parameter.get_mut("schema").and_then(|s| s.as_object_mut()) {
                schema.insert("minimum".into(), 0.into());
            }
        }
    }
    for (_, method, operation) in operations(value) {
        let reads_position = method == "get"
            && operation
                .get("parameters")
                .and_then(|p| p.as_array())
                .is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["in"] == "query" && p["name"] == "min_position")
                });
        if !reads_position {
            continue;
        }
        let Some(ok) = operation
            .get_mut("responses")
            .and_then(|r| r.get_mut("200"))
            .and_then(|r| r.as_object_mut())
        else {
            continue;
        };
        let headers = ok.entry("headers").or_insert_with(|| serde_json::json!({}));
        if let Some(headers) = headers.as_object_mut() {
            headers.entry("X-Samplan-Position").or_insert_with(|| {
                serde_json::json!({
                    "description": "The global position what the read came from had reached when it was answered",
                    "required": true,
                    "schema": {"type": "integer", "format": "int64", "minimum": 0}
                })
            });
        }
    }
}

/// OpenAPI links: which answer gives the ids (and the version, as `If-Match`) the next request
/// needs, so that generated sequences (schemathesis' stateful tests) start a plan and walk it
/// through its commands, register a person and change them, read a message and mark it read,
/// instead of guessing ids that do not exist. Written here rather than in each route's
/// annotation because the graph spans modules and every plan command links to every other.
fn links(value: &mut serde_json::Value) {
    use serde_json::json;
    let paths: Vec<String> = value["paths"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let operation_id = |path: &str, method: &str| {
        value["paths"][path][method]["operationId"]
            .as_str()
            .map(str::to_owned)
    };
    // The commands under a prefix (`/api/v1/sips/{id}/`): their paths and operation ids.
    let commands_under = |prefix: &str| -> Vec<(String, String)> {
        paths
            .iter()
            .filter(|path| {
                path.strip_prefix(prefix)
                    .is_some_and(|rest| !rest.contains('/') && !rest.starts_with('{'))
            })
            .filter_map(|path| Some((path.clone(), operation_id(path, "post")?)))
            .collect()
    };
    let sip_commands = commands_under("/api/v1/sips/{id}/");
    let person_commands = commands_under("/api/v1/persons/{id}/");
    let (Some(get_sip), Some(get_person), Some(identify_need)) = (
        operation_id("/api/v1/sips/{id}", "get"),
        operation_id("/api/v1/persons/{id}", "get"),
        operation_id("/api/v1/sips", "post"),
    ) else {
        return;
    };
    let mut links = Links::default();

    // Plans: started, listed or read, then each command, then the plan again.
    for ((path, method, status), id) in [
        (("/api/v1/sips", "post", "201"), "$response.body#/id"),
        (("/api/v1/sips/{id}", "get", "200"), "$request.path.id"),
        (
            ("/api/v1/inbox/sips", "get", "200"),
            "$response.body#/sips/0/sip_id",
        ),
        (
            ("/api/v1/inbox/todos", "get", "200"),
            "$response.body#/todos/0/sip_id",
        ),
    ] {
        let from = (path, method, status);
        let read = path == "/api/v1/sips/{id}";
        if !read {
            let mut parameters = json!({"path.id": id});
            if path == "/api/v1/sips" {
                // Read one's own write (API.md, Reads).
                parameters["query.min_position"] = json!("$response.body#/position");
            }
            links.add(
                from,
                "GetSip",
                &get_sip,
                json!({ "parameters": parameters }),
            );
        }
        for (_, command) in &sip_commands {
            let mut object = json!({"parameters": {"path.id": id}});
            // Values a command needs to get past the rules that no schema can state (a date
            // that is not in the past), so that a generated sequence goes on to the next state.
            match command.as_str() {
                "record_consent" => {
                    object["requestBody"] =
                        json!({"given_by": {"kind": "person"}, "valid_until": "2099-12-31"});
                }
                "send_invitation" => {
                    object["requestBody"] = json!({
                        "scheduled_at": "2099-01-15T09:00:00Z",
                        "recipients": [{"kind": "person"}],
                    });
                }
                _ => {}
            }
            if read {
                // The version just read, and what the plan holds that the command refers to.
                object["parameters"]["header.If-Match"] = json!("$response.header.ETag");
                let body = match command.as_str() {
                    "record_consent" => Some(json!({
                        "given_by": {"kind": "person"},
                        "valid_until": "2099-12-31",
                        "actors": "$response.body#/participants",
                    })),
                    "respond_to_invitation"
                    | "cancel_invitation"
                    | "reschedule_meeting"
                    | "record_meeting"
                    | "record_letters_posted" => Some(
                        json!({"invitation_id": "$response.body#/invitations/0/invitation_id"}),
                    ),
                    "document_intervention" => {
                        Some(json!({"sub_goal_id": "$response.body#/sub_goals/0/id"}))
                    }
                    _ => None,
                };
                if let Some(body) = body {
                    object["requestBody"] = body;
                }
            }
            links.add(from, command, command, object);
        }
    }
    // A write answers its position; the read after it waits for it, so that the version read
    // (and sent back as If-Match) is the one the write made.
    let after_write = json!({"parameters": {
        "path.id": "$request.path.id",
        "query.min_position": "$response.body#/position",
    }});
    for (path, _) in &sip_commands {
        links.add(
            (path.as_str(), "post", "200"),
            "GetSip",
            &get_sip,
            after_write.clone(),
        );
    }

    // Persons: registered, found or met in a plan; then read, changed, and given a plan.
    for (from, id) in [
        (("/api/v1/persons", "post", "201"), "$response.body#/id"),
        (
            ("/api/v1/persons", "get", "200"),
            "$response.body#/persons/0/id",
        ),
        (
            ("/api/v1/inbox/sips", "get", "200"),
            "$response.body#/sips/0/person/id",
        ),
        (
            ("/api/v1/sips/{id}", "get", "200"),
            "$response.body#/person_id",
        ),
        (
            ("/api/v1/inbox/todos", "get", "200"),
            "$response.body#/todos/0/person/id",
        ),
        (("/api/v1/persons/{id}", "get", "200"), "$request.path.id"),
    ] {
        if from.0 != "/api/v1/persons/{id}" {
            let mut parameters = json!({"path.id": id});
            if from.0 == "/api/v1/persons" && from.1 == "post" {
                parameters["query.min_position"] = json!("$response.body#/position");
            }
            links.add(
                from,
                "GetPerson",
                &get_person,
                json!({ "parameters": parameters }),
            );
        }
        // A need known since now (no time in the future), in outpatient care (no track).
        links.add(
            from,
            "IdentifyNeed",
            &identify_need,
            json!({"requestBody": {
                "person_id": id,
                "known_since": null,
                "context": {"kind": "outpatient"},
            }}),
        );
    }
    for (path, command) in &person_commands {
        let mut object = json!({"parameters": {
            "path.id": "$request.path.id",
            "header.If-Match": "$response.header.ETag",
        }});
        if command == "remove_relative" {
            object["requestBody"] =
                json!({"relative_id": "$response.body#/relatives/0/relative_id"});
        }
        links.add(
            ("/api/v1/persons/{id}", "get", "200"),
            command,
            command,
            object,
        );
        links.add(
            ("/api/v1/persons", "post", "201"),
            command,
            command,
            json!({"parameters": {"path.id": "$response.body#/id"}}),
        );
        links.add(
            (path.as_str(), "post", "200"),
            "GetPerson",
            &get_person,
            after_write.clone(),
        );
    }

    // Messages are marked read; the citizen's plans are opened.
    for (from, name, (target_path, target_method), id) in [
        (
            ("/api/v1/inbox/messages", "get", "200"),
            "MarkRead",
            ("/api/v1/inbox/messages/{id}/read", "post"),
            "$response.body#/messages/0/id",
        ),
        (
            ("/api/v1/me/plans", "get", "200"),
            "GetMyPlan",
            ("/api/v1/me/plans/{id}", "get"),
            "$response.body#/plans/0/id",
        ),
        (
            ("/api/v1/me/plans", "get", "200"),
            "GetMyPlanFhir",
            ("/api/v1/me/plans/{id}/fhir", "get"),
            "$response.body#/plans/0/id",
        ),
        (
            ("/api/v1/me/plans/{id}", "get", "200"),
            "GetMyPlanFhir",
            ("/api/v1/me/plans/{id}/fhir", "get"),
            "$request.path.id",
        ),
    ] {
        if let Some(target) = operation_id(target_path, target_method) {
            links.add(from, name, &target, json!({"parameters": {"path.id": id}}));
        }
    }
    links.write(value);
}

/// Links gathered by [`links`], by the response they leave from.
#[derive(Default)]
struct Links(Vec<((String, String, String), String, serde_json::Value)>);

impl Links {
    /// A link named `name` from the `status` answer of `method path` to the operation `target`.
    fn add(
        &mut self,
        (path, method, status): (&str, &str, &str),
        name: &str,
        target: &str,
        mut object: serde_json::Value,
    ) {
        object["operationId"] = target.into();
        self.0.push((
            (path.to_owned(), method.to_owned(), status.to_owned()),
            name.to_owned(),
            object,
        ));
    }

    fn write(self, value: &mut serde_json::Value) {
        for ((path, method, status), name, object) in self.0 {
            let Some(response) = value
                .get_mut("paths")
                .and_then(|p| p.get_mut(&path))
                .and_then(|i| i.get_mut(&method))
                .and_then(|o| o.get_mut("responses"))
                .and_then(|r| r.get_mut(&status))
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            let links = response
                .entry("links")
                .or_insert_with(|| serde_json::json!({}));
            links[name] = object;
        }
    }
}

/// Characters no text of a request may hold (`crate::text`): control characters but tab, line
/// feed and carriage return.
const NO_CONTROL_CHARACTERS: &str =
    "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";
/// The same, and not blank: a required text is trimmed and refused when nothing is left.
const NOT_BLANK: &str = "^[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*[^\\s\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F][^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F]*$";

/// Every text of a request body, header or query passes `crate::text` at the edge, which refuses
/// control characters (422 `invalid_characters`); a required text (`minLength` 1) is trimmed by
/// the domain and refused when blank. Said here, in one place, for every request schema's
/// strings that have no pattern, format or enumeration of their own.
fn text_without_control_characters(value: &mut serde_json::Value) {
    // The schemas requests use, directly or nested.
    let mut names: Vec<String> = Vec::new();
    for (_, _, operation) in operations(value) {
        if let Some(body) = operation.get("requestBody") {
            collect_refs(body, &mut names);
        }
    }
    let mut i = 0;
    while i < names.len() {
        let schema = value["components"]["schemas"][&names[i]].clone();
        collect_refs(&schema, &mut names);
        i += 1;
    }
    for name in &names {
        if let Some(schema) = value
            .get_mut("components")
            .and_then(|c| c.get_mut("schemas"))
            .and_then(|s| s.get_mut(name))
        {
            restrict_strings(schema);
        }
    }
    for (_, _, operation) in operations(value) {
        if let Some(parameters) = operation
            .get_mut("parameters")
            .and_then(|p| p.as_array_mut())
        {
            for parameter in parameters {
                if let Some(schema) = parameter.get_mut("schema") {
                    restrict_strings(schema);
                }
            }
        }
    }
}

fn collect_refs(value: &serde_json::Value, names: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(|r| r.as_str())
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_owned());
                }
            }
            map.values().for_each(|v| collect_refs(v, names));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, names)),
        _ => {}
    }
}

/// Adds the pattern to every string schema within `schema` that has no pattern, format or
/// enumeration; and closes every object: each request type is read with
/// `deny_unknown_fields`, also the variants of the tagged enums, for which utoipa says nothing.
fn restrict_strings(schema: &mut serde_json::Value) {
    match schema {
        serde_json::Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".into(), false.into());
            }
            let is_string = match map.get("type") {
                Some(serde_json::Value::String(t)) => t == "string",
                Some(serde_json::Value::Array(ts)) => ts.iter().any(|t| t == "string"),
                _ => false,
            };
            let free = !["pattern", "format", "enum", "const", "$ref"]
                .iter()
                .any(|k| map.contains_key(*k));
            if is_string && free {
                let required = map
                    .get("minLength")
                    .and_then(|m| m.as_u64())
                    .is_some_and(|m| m >= 1);
                let pattern = if required {
                    NOT_BLANK
                } else {
                    NO_CONTROL_CHARACTERS
                };
                map.insert("pattern".into(), pattern.into());
            }
            map.values_mut().for_each(restrict_strings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(restrict_strings),
        _ => {}
    }
}

/// What every route with query parameters may answer besides its own statuses: the query is
/// read by one extractor (`extract::ApiQuery`), which refuses an unknown or malformed parameter
/// (400) and control characters in any of them (422), whatever the route.
fn query_refusals(value: &mut serde_json::Value) {
    let problem = |description: &str| {
        serde_json::json!({
            "description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        })
    };
    let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
        for operation in item.values_mut().filter_map(|o| o.as_object_mut()) {
            let has_query = operation
                .get("parameters")
                .and_then(|p| p.as_array())
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            if !has_query {
                continue;
            }
            let Some(responses) = operation
                .get_mut("responses")
                .and_then(|r| r.as_object_mut())
            else {
                continue;
            };
            responses.entry("400").or_insert_with(|| {
                problem("`invalid_parameter` or `unknown_parameter`: a query parameter that does not parse or is not known")
            });
            responses.entry("422").or_insert_with(|| {
                problem("`invalid_characters`: control characters in a query parameter")
            });
        }
    }
}

/// Every 4xx and 5xx answer is an RFC 9457 problem document, served as
/// `application/problem+json`; the route annotations name the body type only, so the media
/// type is set here, in one place, for all of them.
fn problems_as_problem_json(value: &mut serde_json::Value) {
    if let Some(paths) = value.get_mut("paths").and_then(|p| p.as_object_mut()) {
        for item in paths.values_mut().filter_map(|i| i.as_object_mut()) {
            for operation in item.values_mut().filter_map(|o| o.as_object_mut()) {
                let Some(responses) = operation
                    .get_mut("responses")
                    .and_then(|r| r.as_object_mut())
                else {
                    continue;
                };
                for (status, response) in responses.iter_mut() {
                    if !(status.starts_with('4') || status.starts_with('5')) {
                        continue;
                    }
                    let Some(content) = response.get_mut("content").and_then(|c| c.as_object_mut())
                    else {
                        continue;
                    };
                    if let Some(json) = content.remove("application/json") {
                        content.insert("application/problem+json".into(), json);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_with_a_query_document_what_the_query_extractor_refuses() {
        let doc = document_json();
        for path in [
            "/api/v1/inbox/todos",
            "/api/v1/persons/{id}",
            "/api/v1/me/plans",
        ] {
            let responses = &doc["paths"][path]["get"]["responses"];
            for status in ["400", "422"] {
                assert!(
                    responses[status]["content"]["application/problem+json"].is_object(),
                    "{path} {status}: {responses}"
                );
            }
        }
    }

    #[test]
    fn every_read_with_min_position_declares_where_it_stood() {
        let doc = document_json();
        let mut reads = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let Some(get) = item.get("get") else { continue };
            let takes_min_position = get["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "min_position"));
            if takes_min_position {
                assert_eq!(
                    get["responses"]["200"]["headers"]["X-Samplan-Position"]["schema"]["type"],
                    "integer",
                    "{path}"
                );
                reads.push(path.as_str());
            }
        }
        for path in [
            "/api/v1/sips/{id}",
            "/api/v1/inbox/messages",
            "/api/v1/inbox/todos",
            "/api/v1/units",
            "/api/v1/audit/events",
        ] {
            assert!(
                reads.contains(&path),
                "{path} takes min_position: {reads:?}"
            );
        }
    }

    #[test]
    fn every_write_takes_both_headers_and_may_answer_a_version_conflict() {
        let doc = document_json();
        let mut writes = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let Some(post) = item.get("post") else {
                continue;
            };
            let headers: Vec<&str> = post["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "header")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if !headers.contains(&"Idempotency-Key") {
                continue;
            }
            writes += 1;
            assert!(headers.contains(&"If-Match"), "{path}: {headers:?}");
            assert!(post["responses"]["409"].is_object(), "{path}");
        }
        // The creating writes too: units, persons, plans, a message read.
        for path in [
            "/api/v1/units",
            "/api/v1/persons",
            "/api/v1/sips",
            "/api/v1/inbox/messages/{id}/read",
        ] {
            let names = doc["paths"][path]["post"]["parameters"].to_string();
            assert!(names.contains("\"If-Match\""), "{path}: {names}");
        }
        assert!(writes > 20, "{writes} writes");
    }

    #[test]
    fn every_refusal_is_described_as_a_problem_document() {
        let doc = document_json();
        let mut refusals = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("item") {
                for (status, response) in operation["responses"].as_object().expect("responses") {
                    if status.starts_with('4') || status.starts_with('5') {
                        if let Some(content) = response.get("content") {
                            refusals += 1;
                            let types: Vec<&String> =
                                content.as_object().expect("content").keys().collect();
                            assert_eq!(
                                types,
                                vec!["application/problem+json"],
                                "{method} {path} {status}"
                            );
                        }
                    }
                }
            }
        }
        assert!(refusals > 100, "{refusals}");
    }

    /// Schemas are named by their Rust type; two modules with a type of the same name would
    /// silently overwrite each other's schema when merged, and a response would then be
    /// described by the other type (as `GET /inbox/todos` once was by `GET /persons/{id}`'s
    /// person).
    #[test]
    fn no_two_modules_describe_a_schema_of_the_same_name_differently() {
        let mut seen: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
        for module in modules() {
            let Some(components) = module.components else {
                continue;
            };
            for (name, schema) in components.schemas {
                let schema = serde_json::to_value(schema).expect("schema");
                if let Some(earlier) = seen.insert(name.clone(), schema.clone()) {
                    assert_eq!(earlier, schema, "two different schemas named {name}");
                }
            }
        }
    }

    /// Code generators name a function after each operation id; two alike collide (as
    /// `GET /audit/events` and `GET /inbox/events` once did), and OpenAPI forbids it.
    #[test]
    fn every_operation_id_is_unique() {
        let doc = document_json();
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("item") {
                let id = operation["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                if let Some(earlier) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                    panic!("operationId {id} of {method} {path} is also {earlier}'s");
                }
            }
        }
        assert_eq!(
            doc["paths"]["/api/v1/audit/events"]["get"]["operationId"],
            "audit_events"
        );
        assert_eq!(
            doc["paths"]["/api/v1/inbox/events"]["get"]["operationId"],
            "inbox_events"
        );
    }

    /// What the server requires is required in the schema: a consent without topics is refused
    /// (422 `field_missing`), so the document says so.
    #[test]
    fn fields_the_domain_requires_are_required() {
        let doc = document_json();
        let required = doc["components"]["schemas"]["RecordConsentRequest"]["required"]
            .as_array()
            .expect("required");
        for field in ["given_by", "actors", "topics", "valid_until"] {
            assert!(required.iter().any(|f| f == field), "{field}: {required:?}");
        }
    }

    /// The FHIR export is described as a Bundle with entries, not as any object.
    #[test]
    fn the_fhir_export_is_described_as_a_bundle() {
        let doc = document_json();
        let answer = &doc["paths"]["/api/v1/me/plans/{id}/fhir"]["get"]["responses"]["200"];
        let schema = &answer["content"]["application/fhir+json"]["schema"];
        assert_eq!(
            schema["$ref"], "#/components/schemas/FhirBundle",
            "{answer}"
        );
        let bundle = &doc["components"]["schemas"]["FhirBundle"];
        assert_eq!(bundle["properties"]["resourceType"]["enum"][0], "Bundle");
        assert_eq!(bundle["properties"]["entry"]["type"], "array");
    }

    /// Every link names an operation of the document, and a plan can be walked: started, read,
    /// and each of its commands reached from its start and from reading it.
    #[test]
    fn links_lead_to_operations_of_the_document() {
        let doc = document_json();
        let mut ids = std::collections::BTreeSet::new();
        let mut links = Vec::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for operation in item.as_object().expect("item").values() {
                if let Some(id) = operation["operationId"].as_str() {
                    ids.insert(id.to_owned());
                }
                for response in operation["responses"]
                    .as_object()
                    .expect("responses")
                    .values()
                {
                    if let Some(l) = response.get("links").and_then(|l| l.as_object()) {
                        links.extend(l.values().cloned());
                    }
                }
            }
        }
        assert!(links.len() > 100, "{}", links.len());
        for link in &links {
            let target = link["operationId"].as_str().expect("operationId");
            assert!(ids.contains(target), "link to unknown operation {target}");
        }
        let started = &doc["paths"]["/api/v1/sips"]["post"]["responses"]["201"]["links"];
        assert_eq!(
            started["GetSip"]["parameters"]["path.id"],
            "$response.body#/id"
        );
        assert_eq!(started["close_plan"]["operationId"], "close_plan");
        let read = &doc["paths"]["/api/v1/sips/{id}"]["get"]["responses"]["200"]["links"];
        assert_eq!(
            read["record_consent"]["parameters"]["header.If-Match"],
            "$response.header.ETag"
        );
        let messages = &doc["paths"]["/api/v1/inbox/messages"]["get"]["responses"]["200"]["links"];
        assert_eq!(messages["MarkRead"]["operationId"], "mark_message_read");
    }

    /// The heading codes the document lists are the domain's.
    #[test]
    fn heading_codes_are_the_domains() {
        let doc = document_json();
        let listed: Vec<String> = doc["components"]["schemas"]["HeadingCode"]["enum"]
            .as_array()
            .expect("HeadingCode enum")
            .iter()
            .map(|v| v.as_str().expect("code").to_owned())
            .collect();
        let domain: Vec<String> = domain::heading::Heading::ALL
            .iter()
            .map(|h| h.code().to_owned())
            .collect();
        assert_eq!(listed, domain);
    }

    /// Request texts say what `crate::text` and the domain refuse; ids say their form.
    #[test]
    fn request_schemas_state_what_the_code_enforces() {
        let doc = document_json();
        let schemas = &doc["components"]["schemas"];
        let need = &schemas["IdentifyNeedRequest"]["properties"];
        assert_eq!(need["person_id"]["pattern"], ULID_PATTERN);
        assert_eq!(need["reason"]["pattern"], NOT_BLANK);
        assert_eq!(need["reason"]["maxLength"], 20000);
        let person = &schemas["RegisterPersonRequest"]["properties"];
        assert_eq!(person["name"]["maxLength"], 500);
        assert_eq!(person["name"]["pattern"], NOT_BLANK);
        assert_eq!(
            schemas["RegisterUnitRequest"]["additionalProperties"],
            false
        );
        for variant in schemas["Recipient"]["oneOf"].as_array().expect("variants") {
            assert_eq!(variant["additionalProperties"], false, "{variant}");
        }
        let read = &doc["paths"]["/api/v1/sips/{id}"]["get"]["parameters"][0];
        assert_eq!(read["schema"]["pattern"], ULID_PATTERN);
        // Every write documents what the body extractor refuses.
        let close = &doc["paths"]["/api/v1/sips/{id}/close-plan"]["post"]["responses"];
        for status in [
            "400", "401", "403", "404", "409", "413", "415", "422", "503",
        ] {
            assert!(close[status].is_object(), "close-plan {status}");
        }
    }

    fn has(doc: &utoipa::openapi::OpenApi, method: &str, path: &str) -> bool {
        doc.paths.paths.get(path).is_some_and(|item| match method {
            "GET" => item.get.is_some(),
            "POST" => item.post.is_some(),
            _ => false,
        })
    }

    #[test]
    fn the_document_describes_the_write_routes_of_the_api() {
        let doc = document();
        assert_eq!(doc.info.title, "samplan");
        for (method, path) in [
            ("POST", "/api/v1/units"),
            ("POST", "/api/v1/persons"),
            ("GET", "/api/v1/persons"),
            ("GET", "/api/v1/persons/{id}"),
            ("POST", "/api/v1/sips"),
            ("GET", "/api/v1/sips/{id}"),
            ("POST", "/api/v1/sips/{id}/close-plan"),
            ("POST", "/api/v1/inbox/messages/{id}/read"),
        ] {
            assert!(has(&doc, method, path), "{method} {path} missing");
        }
    }

    #[test]
    fn errors_and_writes_have_schemas_and_tokens_a_scheme() {
        let doc = document();
        let components = doc.components.expect("components");
        for schema in [
            "Problem",
            "WriteResponse",
            "IdentifyNeedRequest",
            "RecordConsentRequest",
        ] {
            assert!(components.schemas.contains_key(schema), "{schema} missing");
        }
        assert!(components.security_schemes.contains_key("bearer"));
        let json = serde_json::to_value(document()).expect("serialises");
        assert!(json["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")));
    }
}
