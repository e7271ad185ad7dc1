//! Billing for agents: the documents list, a document's page and form, sending, payments
//! and voids; the billing API; and Stripe's webhook.

pub mod api;
pub mod form;
pub mod pages;
pub mod stripe;

use axum::Router;
use axum::routing::{get, post};
use serde_json::json;

use crate::kit::AppState;
use crate::kit::api::{ApiRoute, obj, route, schema};
use crate::kit::page::{Table, guarded, r};

/// The billing pages (behind the session and CSRF guard) and Stripe's webhook.
pub fn routes(state: &AppState) -> Router<AppState> {
    guarded(state, table()).route(
        "/webhooks/stripe",
        post(stripe::stripe_webhook).layer(axum::extract::DefaultBodyLimit::max(1024 * 1024)),
    )
}

/// This surface's pages, with the access each needs (the route-scope test walks it).
pub fn table() -> Table {
    use crate::kit::page::Access::*;
    vec![
        r("GET", "/billing", Reports, get(pages::list)),
        r("GET", "/billing/new", Admin, get(form::new_page)),
        r("POST", "/billing/new", Admin, post(form::create)),
        r(
            "GET",
            "/billing/documents/{id}/edit",
            Admin,
            get(form::edit_page),
        ),
        r(
            "POST",
            "/billing/documents/{id}/edit",
            Admin,
            post(form::save),
        ),
        r(
            "GET",
            "/billing/documents/{id}",
            Reports,
            get(pages::document),
        ),
        r(
            "POST",
            "/billing/documents/{id}/send",
            Admin,
            post(pages::send),
        ),
        r(
            "POST",
            "/billing/documents/{id}/payment",
            Admin,
            post(pages::payment),
        ),
        r(
            "POST",
            "/billing/documents/{id}/void",
            Admin,
            post(pages::void),
        ),
    ]
}

/// This surface's routes of the agent API (under `/api/v1`), with the access each needs.
pub fn api_routes() -> Vec<(ApiRoute, axum::routing::MethodRouter<AppState>)> {
    use self::api as b;
    use crate::kit::page::Access::{Admin, Reports};
    vec![
        route(
            "POST",
            "/companies",
            Admin,
            "A client company (the CRM profile)",
            schema(&[("name", "string")], &["name"]),
            post(b::create_company),
        ),
        route(
            "POST",
            "/companies/{id}/contacts",
            Admin,
            "Put a contact in a company",
            schema(&[("contact_id", "string")], &["contact_id"]),
            post(b::add_company_contact),
        ),
        route(
            "POST",
            "/companies/{id}/managers",
            Admin,
            "Let a client admin of another company (a group's) manage this one in the portal, or stop (granted: false)",
            obj(
                json!({"user_id": {"type": "string"}, "email": {"type": "string"}, "granted": {"type": "boolean"}}),
                &[],
            ),
            post(b::company_manager),
        ),
        route(
            "GET",
            "/invoices",
            Reports,
            "Invoices, newest first (company_id, status, limit)",
            None,
            get(b::list_invoices),
        ),
        route(
            "POST",
            "/invoices",
            Admin,
            "Create an invoice from its lines (totals are computed); external_id makes a push idempotent; send: true mails it",
            document_schema(),
            post(b::create_invoice),
        ),
        route(
            "POST",
            "/invoices/import",
            Admin,
            "Import invoices from CSV (one row per line item; rows sharing external_id make one invoice); all rows are checked first",
            None,
            post(b::import_invoices),
        ),
        route(
            "GET",
            "/estimates",
            Reports,
            "Estimates, newest first",
            None,
            get(b::list_estimates),
        ),
        route(
            "POST",
            "/estimates",
            Admin,
            "Create an estimate from its lines",
            document_schema(),
            post(b::create_estimate),
        ),
        route(
            "GET",
            "/documents/{id}",
            Reports,
            "An invoice or estimate with its ledger",
            None,
            get(b::get_document),
        ),
        route(
            "POST",
            "/documents/{id}/send",
            Admin,
            "Mail the document to its client with a sign-in link, and show its card",
            None,
            post(b::send_document),
        ),
        route(
            "POST",
            "/documents/{id}/void",
            Admin,
            "Void an invoice",
            None,
            post(b::void_document),
        ),
        route(
            "POST",
            "/documents/{id}/payments",
            Admin,
            "Record a payment or refund (reference recorded once)",
            obj(
                json!({"amount": {"type": "integer"}, "currency": {"type": "string"}, "reference": {"type": "string"}, "kind": {"enum": ["payment", "refund"]}}),
                &["amount", "currency", "reference"],
            ),
            post(b::record_payment),
        ),
    ]
}

fn document_schema() -> Option<serde_json::Value> {
    obj(
        json!({
            "contact_id": {"type": "string"},
            "company_id": {"type": "string"},
            "currency": {"type": "string"},
            "issue_date": {"type": "string", "format": "date"},
            "due_date": {"type": "string", "format": "date"},
            "external_id": {"type": "string"},
            "send": {"type": "boolean"},
            "document": {"type": "object", "properties": {
                "lines": {"type": "array", "items": {"type": "object", "properties": {
                    "description": {"type": "string"},
                    "quantity_milli": {"type": "integer"},
                    "unit_price": {"type": "integer"},
                    "tax_rate_bp": {"type": "integer"},
                    "tax_inclusive": {"type": "boolean"}
                }, "required": ["description", "quantity_milli", "unit_price"]}},
                "notes": {"type": "string"},
                "terms": {"type": "string"},
                "rounding": {"enum": ["per_line", "per_invoice"]}
            }, "required": ["lines"]}
        }),
        &["contact_id", "currency", "document"],
    )
}
