//! Equipment for agents: the machines and their pages, readings the desk enters, the
//! admins' machine import; and the equipment API (`/api/v1/machines`, `/contracts`).

pub mod api;
pub mod pages;

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::kit::AppState;
use crate::kit::api::{ApiRoute, obj, route, schema};
use crate::kit::page::{Table, guarded, r};

/// The equipment pages, behind the session and CSRF guard.
pub fn routes(state: &AppState) -> Router<AppState> {
    guarded(state, table())
}

/// This surface's pages, with the access each needs (the route-scope test walks it).
pub fn table() -> Table {
    use crate::kit::page::Access::*;
    vec![
        r("GET", "/equipment", Agent, get(pages::list)),
        r("POST", "/equipment/import", Admin, post(pages::import)),
        r(
            "GET",
            "/equipment/machines/{machine}",
            Agent,
            get(pages::show),
        ),
        r(
            "POST",
            "/equipment/machines/{machine}/readings",
            AgentWrite,
            post(pages::add_reading),
        ),
        r(
            "POST",
            "/equipment/machines/{machine}/status",
            AgentWrite,
            post(pages::set_status),
        ),
    ]
}

/// This surface's routes of the agent API (under `/api/v1`), with the access each needs.
pub fn api_routes() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use self::api as a;
    use crate::kit::page::Access::{Admin, Agent, AgentWrite};
    let counter = json!({"type": ["integer", "string", "null"]});
    vec![
        route(
            "GET",
            "/machines",
            Agent,
            "The machines the caller may see (company_id filters)",
            None,
            get(a::list),
        ),
        route(
            "POST",
            "/machines",
            Admin,
            "A machine at a client company (serial unique; asset tag unique per company)",
            schema(
                &[
                    ("company_id", "string"),
                    ("model", "string"),
                    ("serial", "string"),
                    ("maker", "string"),
                    ("location", "string"),
                    ("asset_tag", "string"),
                    ("installed_on", "string"),
                    ("status", "string"),
                ],
                &["company_id", "model", "serial"],
            ),
            post(a::create),
        ),
        route(
            "POST",
            "/machines/import",
            Admin,
            "Import machines from CSV (company_id, model, serial, maker, location, asset_tag, installed_on, status): all rows or none, each bad row named",
            None,
            post(a::import),
        ),
        route(
            "GET",
            "/machines/{machine}",
            Agent,
            "A machine, its last readings and its contract",
            None,
            get(a::show),
        ),
        route(
            "POST",
            "/machines/{machine}/readings",
            AgentWrite,
            "A meter reading (counts as numbers or as typed); the same key is stored once; 409 asks to confirm an unusual jump",
            obj(
                json!({"mono": counter, "colour": counter, "scans": counter, "date": {"type": "string"}, "key": {"type": "string"}, "confirmed": {"type": "boolean"}}),
                &["key"],
            ),
            post(a::add_reading),
        ),
        route(
            "POST",
            "/contracts",
            Admin,
            "A contract: period, fee, included copies (pooled or per machine), tiered prices, and its machines in slots",
            obj(
                json!({
                    "company_id": {"type": "string"}, "contact_id": {"type": "string"}, "number": {"type": "string"},
                    "period": {"enum": ["monthly", "quarterly"]}, "currency": {"type": "string"}, "fee": {"type": "integer"},
                    "terms": {"type": "object"}, "start_date": {"type": "string"}, "renewal_date": {"type": "string"},
                    "end_date": {"type": "string"}, "read_before": {"type": "integer"}, "machines": {"type": "array"}
                }),
                &[
                    "company_id",
                    "contact_id",
                    "number",
                    "period",
                    "currency",
                    "fee",
                    "terms",
                    "start_date",
                ],
            ),
            post(a::create_contract),
        ),
        route(
            "POST",
            "/contracts/close",
            Admin,
            "Close every ended contract period into its overage invoice now (each period once)",
            schema(&[("today", "string")], &[]),
            post(a::close),
        ),
        route(
            "GET",
            "/contracts/{contract}",
            Agent,
            "A contract, its machines and every closed period's calculation",
            None,
            get(a::show_contract),
        ),
        route(
            "POST",
            "/contracts/{contract}/machines",
            Admin,
            "Put a machine in a slot from a day (the machine there leaves it: a swap)",
            schema(
                &[
                    ("machine_id", "string"),
                    ("slot", "string"),
                    ("from_date", "string"),
                ],
                &["machine_id", "slot"],
            ),
            post(a::attach),
        ),
        route(
            "POST",
            "/contracts/{contract}/document",
            Admin,
            "The contract's PDF (the request body)",
            None,
            post(a::document),
        ),
    ]
}
