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

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Base::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc.merge(routes::units::ApiDoc::openapi());
    doc.merge(routes::persons::ApiDoc::openapi());
    doc.merge(routes::sips::ApiDoc::openapi());
    doc.merge(routes::inbox::ApiDoc::openapi());
    doc.merge(routes::me::ApiDoc::openapi());
    doc.merge(routes::audit::ApiDoc::openapi());
    doc.merge(routes::reports::ApiDoc::openapi());
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

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
