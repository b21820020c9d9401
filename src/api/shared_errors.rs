//! Completes the generated OpenAPI document with the error answers that routes share because of
//! how they are built, not because of what they do: every bearer route can answer 401 and 503
//! (the token is looked up in the database), a route with a body 400, 413 and 422, one with a
//! path parameter 400 and 404, one with a query 422, and a route that changes something 403.
//! Each handler's annotation lists its own answers; this adds only the ones it leaves out, so
//! that clients (and Schemathesis) see every status the API really sends.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

/// What each shared status means, as the document says it.
fn description(status: &str) -> &'static str {
    match status {
        "400" => "Malformed: not JSON, not `Content-Type: application/json`, or a bad path parameter",
        "401" => "No bearer token, or an unknown one",
        "403" => "Not allowed for the token's role",
        "404" => "No such resource",
        "413" => "The request body is too large",
        "422" => "Valid JSON or query, invalid values; the message starts with the field",
        _ => "The database is unavailable; try again",
    }
}

/// `doc` with the shared error answers added to every operation that lacks them.
pub fn with_shared_errors(mut doc: OpenApi) -> OpenApi {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            (&mut item.get, false),
            (&mut item.head, false),
            (&mut item.put, true),
            (&mut item.post, true),
            (&mut item.patch, true),
            (&mut item.delete, true),
        ];
        for (operation, changes) in operations {
            if let Some(operation) = operation {
                for status in shared_statuses(operation, changes) {
                    let response = ResponseBuilder::new()
                        .description(description(status))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build();
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(RefOr::T(response));
                }
            }
        }
    }
    doc
}

/// The statuses `operation` can answer because of its shape.
fn shared_statuses(operation: &Operation, changes: bool) -> Vec<&'static str> {
    let mut statuses = Vec::new();
    let has_param = |place: ParameterIn| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == place)
    };
    let bearer = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if bearer {
        statuses.extend(["401", "503"]);
        if changes {
            statuses.push("403");
        }
    }
    if operation.request_body.is_some() {
        statuses.extend(["400", "413", "422"]);
    }
    if has_param(ParameterIn::Path) {
        statuses.extend(["400", "404"]);
    }
    if has_param(ParameterIn::Query) {
        statuses.push("422");
    }
    statuses
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, PathItem};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{OpenApiBuilder, PathsBuilder, ResponseBuilder};

    #[test]
    fn shared_errors_are_added_and_own_answers_kept() {
        let put = OperationBuilder::new()
            .parameter(ParameterBuilder::new().name("id").parameter_in(ParameterIn::Path))
            .request_body(Some(RequestBodyBuilder::new().build()))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .response(
                "404",
                ResponseBuilder::new().description("task 42 does not exist"),
            )
            .build();
        let health = OperationBuilder::new()
            .response("200", ResponseBuilder::new())
            .build();
        let doc = OpenApiBuilder::new()
            .paths(
                PathsBuilder::new()
                    .path("/api/tasks/{id}", PathItem::new(HttpMethod::Put, put))
                    .path("/health", PathItem::new(HttpMethod::Get, health)),
            )
            .build();
        let doc = with_shared_errors(doc);
        let statuses = |path: &str| {
            let item = &doc.paths.paths[path];
            let op = item.put.as_ref().or(item.get.as_ref()).unwrap();
            op.responses.responses.keys().cloned().collect::<Vec<_>>()
        };
        assert_eq!(
            statuses("/api/tasks/{id}"),
            ["400", "401", "403", "404", "413", "422", "503"]
        );
        assert_eq!(statuses("/health"), ["200"]);
        let item = &doc.paths.paths["/api/tasks/{id}"];
        let RefOr::T(own) = &item.put.as_ref().unwrap().responses.responses["404"] else {
            panic!("a reference")
        };
        assert_eq!(own.description, "task 42 does not exist");
    }
}
