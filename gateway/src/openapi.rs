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
    query_refusals(&mut value);
    problems_as_problem_json(&mut value);
    value
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
