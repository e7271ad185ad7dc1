//! The billing API (`/api/v1/invoices`, `/estimates`, `/companies`), for accounting systems
//! that push documents and for the agents' own tools. Writes need an admin's token.
//!
//! - A document's totals are always computed here from its lines; the body carries none.
//! - An `external_id` makes a push idempotent: pushing the same document again returns
//!   the first one and issues no number.
//! - Numbers follow `portal.invoice_pattern` / `portal.estimate_pattern`.
//! - Bad input is refused with the field named and nothing stored.
//!
//! The routes: `POST /api/v1/invoices`, `/estimates`, `/companies`,
//! `/documents/{id}/send|void|payments`. Documents come in through this API and the agents'
//! `/billing` pages (`billing/pages.rs`, the editor in `billing/form.rs`), both through
//! `create_document` in `kit/billing/documents.rs`. Sending (`kit/billing/dispatch.rs`)
//! queues the localized mail as a message of the document's own conversation (thread
//! `billing:<id>`, opened by `Store::open_conversation_for`), with a button whose address
//! `portal-link:/portal/…` the email sender turns into a fresh sign-in link as it writes
//! each mail (`LinkMinter`), so only hashes are stored. The card in the conversation
//! follows the document's status (first view, payments, void), and each payment adds a
//! payment card; the agents' page replaces changed cards live. Pay Now (`portal/pay.rs`)
//! makes a Checkout Session through `stripe.api_base` with an `Idempotency-Key` of the
//! invoice, the amount and the paid amount so far, so a double click makes one session; the
//! payment itself is recorded only by the webhook. Accepting an estimate makes a draft
//! invoice of its lines, once (`external_id` `estimate:<id>`).
//!
//! Tests: e2e `portal::an_invoice_goes_out_by_mail_and_is_paid_through_checkout` (real
//! Dovecot and SMTP capture, PostgreSQL and Redis, a Stripe double fed with the fixture:
//! bad API input, admin-only writes, the mail and its link, the token never stored, a
//! scanner's prefetch, a partial then full payment, one session per double click, the cards
//! and their events, estimates accepted once, declined and expired), and browser
//! `portal.test.mjs` (the same path in Chromium, Paid live in a second tab and on the
//! agent's page, the ZIP's PDF through `pdftoppm`, the billing pages; screenshots and axe).
//!
//! `POST /api/v1/invoices/import` reads a CSV file (`portal::csv`: RFC 4180, one row per
//! line item, rows of one `external_id` make one invoice), checks every row, contacts and
//! dates included, before making any, and names each bad row; importing again makes nothing
//! new (same e2e test).

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::domain::Role;
use switchboard_core::store::{Invoice, PaymentOutcome};
use switchboard_portal::locale::{iso_date, parse_date};

use crate::kit::AppState;
use crate::kit::api::Agent;
use crate::kit::api::require;
use crate::kit::billing::dispatch::{after_payment, dispatch, refresh_card};
use crate::kit::billing::documents::{NewDocument, create_document};
use crate::kit::billing::{shown, today};
use crate::kit::error::ApiError;

type Reply = Result<(StatusCode, Json<Value>), ApiError>;

fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v)
        .map_err(|e| ApiError::Invalid(e.body_text()))
}

/// A document as the API shows it.
pub fn view(doc: &Invoice, today: i64) -> Value {
    json!({
        "id": doc.id,
        "kind": doc.kind,
        "number": doc.number,
        "status": shown(doc, today),
        "stored_status": doc.status,
        "company_id": doc.company_id,
        "contact_id": doc.contact_id,
        "currency": doc.currency,
        "subtotal": doc.subtotal,
        "tax": doc.tax,
        "total": doc.total,
        "paid": doc.paid,
        "balance": (doc.total - doc.paid).max(0),
        "issue_date": iso_date(doc.issue_day),
        "due_date": doc.due_day.map(iso_date),
        "external_id": doc.external_id,
        "conversation_id": doc.conversation_id,
        "viewed_at": doc.viewed_at,
        "document": serde_json::from_str::<Value>(&doc.document).unwrap_or(Value::Null),
    })
}

async fn create_kind(
    state: AppState,
    agent: Agent,
    kind: &str,
    b: Result<Json<NewDocument>, JsonRejection>,
) -> Reply {
    require(agent.0.role, &[Role::Admin])?;
    let new = body(b)?;
    let mut doc = create_document(&state, kind, &new).await?;
    if new.send && doc.status == "draft" {
        doc = dispatch(&state, &doc, None).await?;
    }
    Ok((StatusCode::CREATED, Json(view(&doc, today(&state)))))
}

pub async fn create_invoice(
    State(state): State<AppState>,
    agent: Agent,
    b: Result<Json<NewDocument>, JsonRejection>,
) -> Reply {
    create_kind(state, agent, "invoice", b).await
}

pub async fn create_estimate(
    State(state): State<AppState>,
    agent: Agent,
    b: Result<Json<NewDocument>, JsonRejection>,
) -> Reply {
    create_kind(state, agent, "estimate", b).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    company_id: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_kind(
    state: AppState,
    agent: Agent,
    kind: &str,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    require(agent.0.role, &[Role::Admin, Role::Supervisor])?;
    let Query(q) = q.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let today = today(&state);
    let docs = state
        .store
        .documents(
            kind,
            q.company_id.as_deref(),
            q.status.as_deref(),
            today,
            q.limit.unwrap_or(100),
        )
        .await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "documents": docs.iter().map(|d| view(d, today)).collect::<Vec<_>>() })),
    ))
}

pub async fn list_invoices(
    State(state): State<AppState>,
    agent: Agent,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    list_kind(state, agent, "invoice", q).await
}

pub async fn list_estimates(
    State(state): State<AppState>,
    agent: Agent,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Reply {
    list_kind(state, agent, "estimate", q).await
}

pub async fn get_document(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Reply {
    require(user.role, &[Role::Admin, Role::Supervisor])?;
    let doc = state.store.invoice(&id).await?;
    let ledger = state.store.ledger(&id).await?;
    let mut v = view(&doc, today(&state));
    v["ledger"] = serde_json::to_value(ledger).unwrap_or(Value::Null);
    Ok((StatusCode::OK, Json(v)))
}

pub async fn send_document(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let doc = state.store.invoice(&id).await?;
    let doc = dispatch(&state, &doc, Some(&user.id)).await?;
    Ok((StatusCode::OK, Json(view(&doc, today(&state)))))
}

pub async fn void_document(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let doc = state
        .store
        .set_document_status(
            &id,
            &["draft", "sent", "viewed"],
            "void",
            state.ids.now_ms(),
        )
        .await?;
    if doc.kind != "invoice" {
        return Err(ApiError::Conflict("only invoices are voided".into()));
    }
    refresh_card(&state, &doc).await?;
    Ok((StatusCode::OK, Json(view(&doc, today(&state)))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    pub amount: i64,
    pub currency: String,
    /// The payment's own reference (a bank transfer's id): recording it twice counts once.
    pub reference: String,
    /// `payment` (default) or `refund`.
    #[serde(default)]
    pub kind: Option<String>,
}

pub async fn record_payment(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
    b: Result<Json<NewPayment>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let p = body(b)?;
    let kind = p.kind.as_deref().unwrap_or("payment");
    let doc = state.store.invoice(&id).await?;
    if doc.kind != "invoice" {
        return Err(ApiError::Invalid(
            "payments are recorded against invoices".into(),
        ));
    }
    let outcome = state
        .store
        .record_payment(
            &state.ids,
            &id,
            kind,
            p.amount,
            &p.currency.to_ascii_uppercase(),
            "manual",
            p.reference.trim(),
        )
        .await?;
    let status = match outcome {
        PaymentOutcome::Recorded { .. } => {
            after_payment(&state, &id, p.reference.trim(), p.amount, kind == "refund").await?;
            StatusCode::CREATED
        }
        PaymentOutcome::Duplicate { .. } => StatusCode::OK,
    };
    let doc = state.store.invoice(&id).await?;
    Ok((status, Json(view(&doc, today(&state)))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCompany {
    pub name: String,
}

pub async fn create_company(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    b: Result<Json<NewCompany>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let c = body(b)?;
    let name = c.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::Invalid("name: 1 to 200 characters".into()));
    }
    let id = state.store.create_company(&state.ids, name).await?;
    Ok((StatusCode::CREATED, Json(json!({ "id": id, "name": name }))))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyMember {
    pub contact_id: String,
}

pub async fn add_company_contact(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
    b: Result<Json<CompanyMember>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let m = body(b)?;
    if state.store.company_name(&id).await?.is_none() {
        return Err(ApiError::NotFound(format!("company {id}")));
    }
    if state.store.contact_company(&m.contact_id).await?.is_none() {
        return Err(ApiError::Invalid(format!(
            "contact_id: no contact {}",
            m.contact_id
        )));
    }
    state.store.set_contact_company(&m.contact_id, &id).await?;
    Ok((
        StatusCode::OK,
        Json(json!({ "id": id, "contact_id": m.contact_id })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyManager {
    /// The client admin, by id or by its sign-in address.
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default = "yes")]
    granted: bool,
}

fn yes() -> bool {
    true
}

/// `POST /api/v1/companies/{id}/managers`: a client admin of another company manages this
/// one too (a group's subsidiary), or no longer does.
pub async fn company_manager(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    Path(id): Path<String>,
    b: Result<Json<CompanyManager>, JsonRejection>,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let m = body(b)?;
    let user_id = match (m.user_id, m.email.as_deref()) {
        (Some(u), None) => u,
        (None, Some(e)) => {
            state
                .store
                .user_by_email(e)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("portal user {e}")))?
                .id
        }
        _ => {
            return Err(ApiError::Invalid(
                "user_id or email: one of them names the client admin".into(),
            ));
        }
    };
    let changed = if m.granted {
        state
            .store
            .grant_client_company(&state.ids, &user_id, &id)
            .await?
    } else {
        state.store.revoke_client_company(&user_id, &id).await?
    };
    Ok((
        StatusCode::OK,
        Json(
            json!({ "company_id": id, "user_id": user_id, "granted": m.granted, "changed": changed }),
        ),
    ))
}

/// `POST /api/v1/invoices/import`: a CSV file (`portal::csv`'s columns), one row per line
/// item. Every row is checked, contacts and dates included, before any document is made;
/// a file with a bad row is refused whole with each row's problem. Documents are keyed by
/// their `external_id`, so importing the same file again makes nothing new.
pub async fn import_invoices(
    State(state): State<AppState>,
    Agent(user, _): Agent,
    body: axum::body::Bytes,
) -> Reply {
    require(user.role, &[Role::Admin])?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::Invalid("the file is not UTF-8 text".into()))?;
    let (docs, mut problems) = switchboard_portal::csv::read(text, &|c| {
        switchboard_core::money::Currency::parse(c)
            .ok()
            .map(switchboard_core::money::Currency::exponent)
    });
    for d in &docs {
        if state.store.contact_company(&d.contact_id).await?.is_none() {
            problems.push(format!("row {}: no contact {}", d.row, d.contact_id));
        }
        let issue = d.issue_date.as_deref().map(parse_date);
        let due = d.due_date.as_deref().map(parse_date);
        if matches!(issue, Some(None)) || matches!(due, Some(None)) {
            problems.push(format!("row {}: a date is not like 2026-11-23", d.row));
        } else if let (Some(Some(i)), Some(Some(u))) = (issue, due)
            && u < i
        {
            problems.push(format!("row {}: due_date is before issue_date", d.row));
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| {
            p.split_whitespace()
                .nth(1)
                .and_then(|n| n.trim_end_matches(':').parse::<usize>().ok())
                .unwrap_or(0)
        });
        return Err(ApiError::Invalid(problems.join("; ")));
    }
    let mut made = Vec::with_capacity(docs.len());
    for d in docs {
        let doc = create_document(
            &state,
            "invoice",
            &NewDocument {
                contact_id: d.contact_id,
                company_id: None,
                currency: d.currency,
                issue_date: d.issue_date,
                due_date: d.due_date,
                document: d.document,
                external_id: Some(d.external_id.clone()),
                send: false,
            },
        )
        .await?;
        made.push(json!({ "external_id": d.external_id, "id": doc.id, "number": doc.number }));
    }
    Ok((StatusCode::CREATED, Json(json!({ "documents": made }))))
}
