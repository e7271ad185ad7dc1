//! Equipment for agents: the machines and their pages, readings the desk enters, the
//! admins' machine import; and the equipment API (`/api/v1/machines`, `/contracts`).

pub mod api;
pub mod pages;
pub mod sites;
pub mod visits;

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
        r(
            "POST",
            "/equipment/machines/{machine}/site",
            AgentWrite,
            post(pages::set_site),
        ),
        r(
            "POST",
            "/equipment/machines/{machine}/visits",
            AgentWrite,
            post(visits::schedule),
        ),
        r(
            "POST",
            "/equipment/machines/{machine}/technician",
            AgentWrite,
            post(visits::set_technician),
        ),
        r(
            "POST",
            "/conversations/{number}/machine",
            AgentWrite,
            post(pages::link_machine),
        ),
        r(
            "GET",
            "/equipment/contracts/{contract}/pdf",
            Agent,
            get(pages::contract_pdf),
        ),
        r("GET", "/equipment/visits", Agent, get(visits::list)),
        r("GET", "/equipment/visits/{visit}", Agent, get(visits::show)),
        r(
            "GET",
            "/equipment/visits/{visit}/report",
            Agent,
            get(visits::report),
        ),
        r(
            "POST",
            "/equipment/visits/{visit}/arrive",
            AgentWrite,
            post(visits::arrive),
        ),
        r(
            "POST",
            "/equipment/visits/{visit}/complete",
            AgentWrite,
            post(visits::complete),
        ),
        r(
            "POST",
            "/equipment/visits/{visit}/cancel",
            AgentWrite,
            post(visits::cancel),
        ),
        r(
            "POST",
            "/equipment/visits/{visit}/move",
            AgentWrite,
            post(visits::move_visit),
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
            "POST",
            "/contracts/remind",
            Admin,
            "Remind clients whose meter readings are due (each contract's period once; by WhatsApp or mail)",
            schema(&[("today", "string")], &[]),
            post(a::remind),
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
            "/machines/{machine}/technician",
            AgentWrite,
            "The machine's responsible technician (technician_id; null for nobody)",
            obj(json!({"technician_id": {"type": ["string", "null"]}}), &[]),
            post(a::machine_technician),
        ),
        route(
            "GET",
            "/sites",
            Agent,
            "A company's sites, with their coordinates (company_id required)",
            None,
            get(sites::list),
        ),
        route(
            "POST",
            "/sites",
            Admin,
            "A company's site: its name (one per company), address and coordinates (decimal degrees, both or neither)",
            obj(
                json!({
                    "company_id": {"type": "string"}, "name": {"type": "string"}, "address": {"type": "string"},
                    "latitude": {"type": ["number", "string", "null"]}, "longitude": {"type": ["number", "string", "null"]}
                }),
                &["company_id", "name"],
            ),
            post(sites::create),
        ),
        route(
            "POST",
            "/sites/import",
            Admin,
            "Import sites from CSV (company_id, name, address, latitude, longitude; commas or semicolons): all rows or none, each bad row named",
            None,
            post(sites::import),
        ),
        route(
            "POST",
            "/machines/{machine}/site",
            AgentWrite,
            "Where the machine stands: one of its own company's sites (site_id; null for none)",
            obj(json!({"site_id": {"type": ["string", "null"]}}), &[]),
            post(sites::machine_site),
        ),
        route(
            "GET",
            "/visits",
            Agent,
            "The visits the caller may see (technician_id, `me` for one's own; machine_id; open)",
            None,
            get(a::visits),
        ),
        route(
            "POST",
            "/visits",
            AgentWrite,
            "Book a technician's visit to a machine for a window of the business's day (the same key is one visit)",
            schema(
                &[
                    ("machine_id", "string"),
                    ("technician_id", "string"),
                    ("date", "string"),
                    ("from", "string"),
                    ("to", "string"),
                    ("conversation_id", "string"),
                    ("key", "string"),
                ],
                &["machine_id", "technician_id", "date", "from", "to", "key"],
            ),
            post(a::book_visit),
        ),
        route(
            "GET",
            "/visits/{visit}",
            Agent,
            "A visit, its steps and its report's fields",
            None,
            get(a::show_visit),
        ),
        route(
            "POST",
            "/visits/{visit}/arrive",
            AgentWrite,
            "The technician arrived (the machine is in maintenance); version refuses a stale change",
            schema(&[("version", "integer")], &[]),
            post(a::visit_arrive),
        ),
        route(
            "POST",
            "/visits/{visit}/complete",
            AgentWrite,
            "The visit is done: work done, parts, the client's signature name, the machine's status after; the report PDF is made",
            obj(
                json!({"version": {"type": "integer"}, "work_done": {"type": "string"}, "parts": {"type": ["string", "array"]}, "signed_by": {"type": "string"}, "machine_status": {"enum": ["in_service", "down", "maintenance"]}}),
                &["work_done", "signed_by"],
            ),
            post(a::visit_complete),
        ),
        route(
            "POST",
            "/visits/{visit}/cancel",
            AgentWrite,
            "Cancel a visit not yet done",
            schema(&[("version", "integer")], &[]),
            post(a::visit_cancel),
        ),
        route(
            "POST",
            "/visits/{visit}/move",
            AgentWrite,
            "Move a scheduled visit to another technician or window",
            schema(
                &[
                    ("version", "integer"),
                    ("technician_id", "string"),
                    ("date", "string"),
                    ("from", "string"),
                    ("to", "string"),
                ],
                &[],
            ),
            post(a::visit_move),
        ),
        route(
            "GET",
            "/visits/{visit}/report",
            Agent,
            "A finished visit's report (PDF)",
            None,
            get(a::visit_report),
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
