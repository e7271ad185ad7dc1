//! The agents' billing pages: every invoice and estimate with its shown status, and one
//! document with its lines' totals, its ledger and the client's portal activity; admins
//! send it (the mail with the sign-in button, and its card), record a payment or refund,
//! or void it. Supervisors read.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::Role;
use switchboard_core::store::{AuditEntry, Invoice, LedgerEntry, PaymentOutcome};
use switchboard_portal::locale::{Lang, date, doc_words, iso_date, parse_amount};

use crate::kit::AppState;
use crate::kit::billing::dispatch::{after_payment, dispatch, refresh_card};
use crate::kit::billing::{amount, exponent, shown, today};
use crate::kit::page::{Page, WebError, render};
use crate::kit::session::{AdminAgent, WebAgent};

fn reader(agent: &WebAgent) -> Result<(), WebError> {
    if matches!(agent.user.role, Role::Admin | Role::Supervisor) {
        Ok(())
    } else {
        Err(WebError::Forbidden(agent.tr))
    }
}

/// A document as a row.
#[derive(Debug, Clone)]
pub struct DocRow {
    pub id: String,
    pub kind_word: &'static str,
    pub number: String,
    pub client: String,
    pub issued: String,
    pub due: String,
    pub status: String,
    pub status_word: &'static str,
    pub total: String,
    pub balance: String,
}

async fn row(
    state: &AppState,
    d: &Invoice,
    lang: Lang,
    names: &mut std::collections::HashMap<String, String>,
) -> Result<DocRow, WebError> {
    let w = doc_words(lang);
    let status = shown(d, today(state));
    let client = match &d.company_id {
        Some(c) => match names.get(c) {
            Some(n) => n.clone(),
            None => {
                let n = state.store.company_name(c).await?.unwrap_or_default();
                names.insert(c.clone(), n.clone());
                n
            }
        },
        None => state
            .store
            .contact_summary(&d.contact_id)
            .await?
            .name
            .unwrap_or_default(),
    };
    Ok(DocRow {
        id: d.id.clone(),
        kind_word: if d.kind == "estimate" {
            w.estimate
        } else {
            w.invoice
        },
        number: d.number.clone(),
        client,
        issued: date(d.issue_day, lang),
        due: d.due_day.map(|x| date(x, lang)).unwrap_or_default(),
        status_word: w.status(&status),
        status,
        total: amount(d.total, &d.currency, lang),
        balance: amount((d.total - d.paid).max(0), &d.currency, lang),
    })
}

#[derive(Template)]
#[template(path = "billing.html")]
struct ListPage {
    p: Page,
    rows: Vec<DocRow>,
    kind: String,
    status: String,
    statuses: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListParams {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
}

pub async fn list(
    State(state): State<AppState>,
    agent: WebAgent,
    Query(q): Query<ListParams>,
) -> Result<Response, WebError> {
    reader(&agent)?;
    let lang = Lang::from_tag(agent.tr.lang());
    let kind = if q.kind == "estimate" {
        "estimate"
    } else {
        "invoice"
    };
    let statuses: &[&str] = if kind == "estimate" {
        &["draft", "sent", "accepted", "declined", "expired"]
    } else {
        &[
            "draft",
            "sent",
            "viewed",
            "partially_paid",
            "paid",
            "overdue",
            "void",
        ]
    };
    let status = statuses.iter().find(|s| **s == q.status).copied();
    let docs = state
        .store
        .documents(kind, None, status, today(&state), 200)
        .await?;
    let mut rows = Vec::with_capacity(docs.len());
    let mut names = std::collections::HashMap::new();
    for d in &docs {
        rows.push(row(&state, d, lang, &mut names).await?);
    }
    let w = doc_words(lang);
    let page = ListPage {
        p: Page::agent(&state, &agent, agent.tr.t("billing-title"), "billing").await?,
        rows,
        kind: kind.to_owned(),
        status: status.unwrap_or("").to_owned(),
        statuses: statuses.iter().map(|s| (*s, w.status(s))).collect(),
    };
    Ok(render(&page))
}

#[derive(Template)]
#[template(path = "billing_document.html")]
struct DocPage {
    p: Page,
    d: DocRow,
    doc: Invoice,
    paid: String,
    ledger: Vec<(String, String, String, String)>,
    activity: Vec<(String, String, String, String)>,
    can_write: bool,
    can_send: bool,
    can_pay: bool,
    can_void: bool,
    default_amount: String,
    notice: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct DocParams {
    #[serde(default)]
    done: String,
    #[serde(default)]
    error: String,
}

fn ledger_row(e: &LedgerEntry, currency: &str, lang: Lang) -> (String, String, String, String) {
    (
        iso_date(e.created_at.div_euclid(86_400_000)),
        e.kind.clone(),
        amount(e.amount, currency, lang),
        format!("{} · {}", e.method, e.reference),
    )
}

fn activity_row(a: &AuditEntry) -> (String, String, String, String) {
    (
        iso_date(a.created_at.div_euclid(86_400_000)),
        a.who.clone().unwrap_or_default(),
        a.action.clone(),
        [a.subject.as_deref(), a.detail.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" · "),
    )
}

pub async fn document(
    State(state): State<AppState>,
    agent: WebAgent,
    Path(id): Path<String>,
    Query(q): Query<DocParams>,
) -> Result<Response, WebError> {
    reader(&agent)?;
    let lang = Lang::from_tag(agent.tr.lang());
    let doc = state
        .store
        .invoice(&id)
        .await
        .map_err(|_| WebError::NotFound(agent.tr))?;
    let d = row(&state, &doc, lang, &mut std::collections::HashMap::new()).await?;
    let ledger = state
        .store
        .ledger(&doc.id)
        .await?
        .iter()
        .map(|e| ledger_row(e, &doc.currency, lang))
        .collect();
    let activity = state
        .store
        .audit_log(doc.company_id.as_deref(), 50)
        .await?
        .iter()
        .filter(|a| doc.company_id.is_some() || a.contact_id == doc.contact_id)
        .map(activity_row)
        .collect();
    let t = agent.tr;
    let can_write = agent.user.role == Role::Admin;
    let open = !matches!(d.status.as_str(), "void" | "paid" | "accepted" | "declined");
    let page = DocPage {
        p: Page::agent(
            &state,
            &agent,
            format!("{} {}", d.kind_word, d.number),
            "billing",
        )
        .await?,
        paid: amount(doc.paid, &doc.currency, lang),
        can_send: can_write
            && matches!(doc.status.as_str(), "draft" | "sent" | "viewed")
            && !matches!(d.status.as_str(), "paid" | "expired"),
        can_pay: can_write && doc.kind == "invoice" && doc.status != "void" && doc.total > doc.paid,
        can_void: can_write && doc.kind == "invoice" && open && doc.paid == 0,
        can_write,
        default_amount: switchboard_portal::locale::plain_amount(
            (doc.total - doc.paid).max(0),
            exponent(&doc.currency),
        ),
        notice: match q.done.as_str() {
            "sent" => Some(t.t("billing-sent-done")),
            "paid" => Some(t.t("billing-paid-done")),
            "void" => Some(t.t("billing-void-done")),
            _ => None,
        },
        error: (!q.error.is_empty()).then(|| t.t("billing-amount-error")),
        d,
        doc,
        ledger,
        activity,
    };
    Ok(render(&page))
}

fn back(id: &str, query: &str) -> Response {
    Redirect::to(&format!("/billing/documents/{id}?{query}")).into_response()
}

pub async fn send(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let doc = state
        .store
        .invoice(&id)
        .await
        .map_err(|_| WebError::NotFound(agent.tr))?;
    dispatch(&state, &doc, Some(&agent.user.id)).await?;
    Ok(back(&id, "done=sent"))
}

#[derive(Debug, Deserialize)]
pub struct PaymentForm {
    #[serde(default)]
    amount: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    kind: String,
}

pub async fn payment(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
    Form(f): Form<PaymentForm>,
) -> Result<Response, WebError> {
    let doc = state
        .store
        .invoice(&id)
        .await
        .map_err(|_| WebError::NotFound(agent.tr))?;
    let kind = if f.kind == "refund" {
        "refund"
    } else {
        "payment"
    };
    let Some(value) = parse_amount(&f.amount, exponent(&doc.currency)).filter(|v| *v > 0) else {
        return Ok(back(&id, "error=amount"));
    };
    let reference = if f.reference.trim().is_empty() {
        format!("manual:{}:{}", agent.user.id, state.ids.now_ms())
    } else {
        f.reference.trim().to_owned()
    };
    match state
        .store
        .record_payment(
            &state.ids,
            &id,
            kind,
            value,
            &doc.currency,
            "manual",
            &reference,
        )
        .await
    {
        Ok(PaymentOutcome::Recorded { .. }) => {
            after_payment(&state, &id, &reference, value, kind == "refund").await?;
            Ok(back(&id, "done=paid"))
        }
        Ok(PaymentOutcome::Duplicate { .. }) => Ok(back(&id, "done=paid")),
        Err(switchboard_core::Error::Invalid(_) | switchboard_core::Error::Conflict(_)) => {
            Ok(back(&id, "error=amount"))
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn void(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let doc = state
        .store
        .set_document_status(
            &id,
            &["draft", "sent", "viewed"],
            "void",
            state.ids.now_ms(),
        )
        .await
        .map_err(|_| WebError::NotFound(agent.tr))?;
    refresh_card(&state, &doc).await?;
    Ok(back(&id, "done=void"))
}
