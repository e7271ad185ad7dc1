//! `/api/openapi.json`: the API described from the surfaces' API tables, the same tables
//! the router is built from (`app::api_table`), so the description cannot miss a route.

use serde_json::{Map, Value, json};

/// The OpenAPI 3.1 document of `/api/v1`.
pub fn document(routes: &[crate::kit::api::ApiRoute]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes {
        let full = format!("/api/v1{}", route.path);
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        let mut op = json!({
            "summary": route.summary,
            "operationId": operation_id(route.method, route.path),
            "security": [{ "bearer": [] }],
            "responses": {
                "200": { "description": "Done", "content": { "application/json": { "schema": { "type": "object" } } } },
                "401": { "$ref": "#/components/responses/Error" },
                "403": { "$ref": "#/components/responses/Error" },
                "404": { "$ref": "#/components/responses/Error" },
                "409": { "$ref": "#/components/responses/Error" },
                "422": { "$ref": "#/components/responses/Error" }
            },
            "x-access": format!("{:?}", route.access),
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(body) = &route.body {
            op["requestBody"] =
                json!({ "required": true, "content": { "application/json": { "schema": body } } });
        }
        let entry = paths.entry(full).or_insert_with(|| json!({}));
        entry[route.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Switchboard agent API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every action of the agent inbox. Authenticate with `Authorization: Bearer TOKEN` (`switchboard user add` prints one). Errors carry a stable `code`."
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": {
                "Error": {
                    "description": "An error with a stable code",
                    "content": { "application/json": { "schema": {
                        "type": "object",
                        "properties": { "error": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } }
                    } } }
                }
            }
        }
    })
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.push_str(&seg.replace(['{', '}'], "").replace('-', "_"));
    }
    id
}
