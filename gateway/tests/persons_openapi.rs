//! The OpenAPI document describes each person command on its own path with its own request
//! schema, so a client generated from it knows which fields each command takes.

use gateway::routes::persons::PERSON_COMMANDS;
use serde_json::Value;

/// Each command, the schema of its body and a field that schema must require (absent for the
/// commands whose fields are all optional).
const COMMANDS: [(&str, &str, Option<&str>); 6] = [
    (
        "change-contact-details",
        "ChangeContactDetailsRequest",
        None,
    ),
    ("add-relative", "AddRelativeRequest", Some("kind")),
    (
        "remove-relative",
        "RemoveRelativeRequest",
        Some("relative_id"),
    ),
    (
        "mark-protected-identity",
        "MarkProtectedIdentityRequest",
        None,
    ),
    ("register-death", "RegisterDeathRequest", Some("died_on")),
    (
        "register-moved-out",
        "RegisterMovedOutRequest",
        Some("moved_on"),
    ),
];

fn document() -> Value {
    serde_json::to_value(gateway::openapi::document()).expect("the document serialises")
}

#[test]
fn each_person_command_has_its_own_path_and_request_schema() {
    let doc = document();
    for (command, schema, required) in COMMANDS {
        let path = format!("/api/v1/persons/{{id}}/{command}");
        let post = &doc["paths"][&path]["post"];
        assert!(post.is_object(), "POST {path} is not documented");
        let reference = &post["requestBody"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(
            reference.as_str(),
            Some(format!("#/components/schemas/{schema}").as_str()),
            "POST {path} does not take {schema}"
        );
        assert!(
            post["requestBody"]["required"].as_bool() == Some(true),
            "POST {path}: body not marked required"
        );
        let component = &doc["components"]["schemas"][schema];
        assert!(component.is_object(), "{schema} has no schema");
        if let Some(field) = required {
            let listed = component["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|f| f == field));
            assert!(listed, "{schema} does not require {field}");
        }
        let ok = &post["responses"]["200"]["content"]["application/json"]["schema"]["$ref"];
        assert_eq!(
            ok.as_str(),
            Some("#/components/schemas/WriteResponse"),
            "POST {path}: 200 is not a WriteResponse"
        );
    }
}

#[test]
fn every_routed_person_command_is_documented_and_the_catch_all_only_refuses() {
    let doc = document();
    let documented: Vec<&str> = COMMANDS.iter().map(|(c, _, _)| *c).collect();
    let mut routed = PERSON_COMMANDS.to_vec();
    routed.sort_unstable();
    let mut expected = documented.clone();
    expected.sort_unstable();
    assert_eq!(routed, expected);
    // The catch-all only answers unknown_command: it never succeeds, so a client does not take
    // it for the way to run a command.
    let responses = &doc["paths"]["/api/v1/persons/{id}/{command}"]["post"]["responses"];
    assert!(
        responses["404"].is_object(),
        "the catch-all's 404 is not described"
    );
    assert!(
        responses["200"].is_null(),
        "the catch-all is described as running commands"
    );
}
