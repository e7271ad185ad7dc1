//! The client's pages: home (totals per currency and the invoice table), one invoice (its
//! page, PDF and live status), Download All, and the activity log. Documents are found by
//! number in the client's scope only: another company's number is "not found".

use askama::Template;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use switchboard_core::store::{AuditEntry, CurrencyTotals, DocumentQuery, Invoice};
use switchboard_portal::document::Document;
use switchboard_portal::locale::{Lang, date, doc_words, percent, quantity};
use switchboard_portal::zip::ZipStream;

use super::{Client, Layout, not_found, private};
use crate::kit::AppState;
use crate::kit::billing::{amount, pdf, shown, today};
use crate::kit::page::render;

type PageResult = Result<Response, Response>;

fn api(e: impl Into<crate::kit::error::ApiError>) -> Response {
    e.into().into_response()
}

/// A row of the invoice table.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: String,
    pub issued: String,
    pub due: String,
    pub status: String,
    pub status_word: &'static str,
    pub total: String,
    pub balance: String,
}

fn row(doc: &Invoice, today: i64, lang: Lang) -> Row {
    let status = shown(doc, today);
    Row {
        number: doc.number.clone(),
        issued: date(doc.issue_day, lang),
        due: doc.due_day.map(|d| date(d, lang)).unwrap_or_default(),
        status_word: doc_words(lang).status(&status),
        status,
        total: amount(doc.total, &doc.currency, lang),
        balance: amount((doc.total - doc.paid).max(0), &doc.currency, lang),
    }
}

/// One currency's totals, formatted.
#[derive(Debug, Clone)]
pub struct Totals {
    pub currency: String,
    pub paid: String,
    pub outstanding: String,
    pub overdue: String,
    pub has_overdue: bool,
}

fn totals(t: &CurrencyTotals, lang: Lang) -> Totals {
    Totals {
        currency: t.currency.clone(),
        paid: amount(t.paid, &t.currency, lang),
        outstanding: amount(t.outstanding, &t.currency, lang),
        overdue: amount(t.overdue, &t.currency, lang),
        has_overdue: t.overdue > 0,
    }
}

/// A column header that sorts.
#[derive(Debug, Clone)]
pub struct SortLink {
    pub label: &'static str,
    pub href: String,
    /// `ascending`, `descending` or `none` (aria-sort).
    pub aria: &'static str,
}

#[derive(Template)]
#[template(path = "portal/home.html")]
struct HomePage {
    l: Layout,
    totals: Vec<Totals>,
    rows: Vec<Row>,
    estimates: Vec<Row>,
    sorts: Vec<SortLink>,
    statuses: Vec<(&'static str, &'static str, bool)>,
    page_label: String,
    prev: Option<String>,
    next: Option<String>,
    error: Option<String>,
    any: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct ListQuery {
    sort: Option<String>,
    dir: Option<String>,
    status: Option<String>,
    page: Option<i64>,
    error: Option<String>,
}

const PER_PAGE: i64 = 25;

fn list_href(sort: &str, dir: &str, status: Option<&str>, page: i64) -> String {
    let mut href = format!("/portal/invoices?sort={sort}&dir={dir}");
    if let Some(s) = status {
        href.push_str(&format!("&status={s}"));
    }
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

pub async fn home(
    State(state): State<AppState>,
    client: Client,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let lang = client.lang;
    let w = client_words(&client);
    let today = today(&state);
    let sort = q
        .sort
        .as_deref()
        .filter(|s| ["status", "number", "total", "due", "issued"].contains(s))
        .unwrap_or("issued");
    let descending = q.dir.as_deref() != Some("asc");
    let status = q.status.as_deref().filter(|s| {
        [
            "sent",
            "viewed",
            "partially_paid",
            "paid",
            "overdue",
            "void",
        ]
        .contains(s)
    });
    let page = q.page.unwrap_or(1).max(1);
    let query = DocumentQuery {
        kind: "invoice".into(),
        status: status.map(str::to_owned),
        sort: sort.to_owned(),
        descending,
        page,
        per_page: PER_PAGE,
        today,
    };
    // The page, the estimates and the totals are read at once, each on its own connection.
    let estimates_query = DocumentQuery {
        kind: "estimate".into(),
        status: None,
        sort: "issued".into(),
        descending: true,
        page: 1,
        per_page: 50,
        today,
    };
    let (page_of, estimates_of, all) = tokio::join!(
        state.store.client_documents(&client.scope, &query),
        state
            .store
            .client_documents(&client.scope, &estimates_query),
        state.store.client_totals(&client.scope, today),
    );
    let (docs, count) = page_of.map_err(api)?;
    let (estimates, _) = estimates_of.map_err(api)?;
    let all = all.map_err(api)?;
    let dw = doc_words(lang);
    let sorts = [
        ("number", w.number),
        ("issued", w.issued),
        ("due", w.due),
        ("status", w.status),
        ("total", w.total),
    ]
    .into_iter()
    .map(|(key, label)| {
        let current = key == sort;
        let dir = if current && descending { "asc" } else { "desc" };
        SortLink {
            label,
            href: list_href(key, dir, status, 1),
            aria: match (current, descending) {
                (false, _) => "none",
                (true, true) => "descending",
                (true, false) => "ascending",
            },
        }
    })
    .collect();
    let pages = ((count + PER_PAGE - 1) / PER_PAGE).max(1);
    let dir = if descending { "desc" } else { "asc" };
    let statuses = [
        "sent",
        "viewed",
        "partially_paid",
        "paid",
        "overdue",
        "void",
    ]
    .into_iter()
    .map(|s| (s, dw.status(s), status == Some(s)))
    .collect();
    let page_view = HomePage {
        l: Layout::client(&state, &client, w.invoices.to_owned(), "invoices"),
        totals: all.iter().map(|t| totals(t, lang)).collect(),
        any: count > 0 || status.is_some(),
        rows: docs.iter().map(|d| row(d, today, lang)).collect(),
        estimates: estimates.iter().map(|d| row(d, today, lang)).collect(),
        sorts,
        statuses,
        page_label: w
            .page_of
            .replace("{n}", &page.to_string())
            .replace("{of}", &pages.to_string()),
        prev: (page > 1).then(|| list_href(sort, dir, status, page - 1)),
        next: (page < pages).then(|| list_href(sort, dir, status, page + 1)),
        error: q
            .error
            .as_deref()
            .filter(|e| *e == "none")
            .map(|_| w.nothing_selected.to_owned()),
    };
    Ok(private(render(&page_view)))
}

/// The client's own document of this kind and number, or the "not found" page.
pub async fn own(
    state: &AppState,
    client: &Client,
    kind: &str,
    number: &str,
) -> Result<Invoice, Response> {
    state
        .store
        .client_document(&client.scope, kind, number)
        .await
        .map_err(api)?
        .ok_or_else(|| not_found(state, client.lang))
}

fn client_words(c: &Client) -> &'static crate::kit::words::Words {
    crate::kit::words::words(c.lang)
}

/// A line of the invoice page.
#[derive(Debug, Clone)]
pub struct LineView {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub tax: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "portal/invoice.html")]
struct InvoicePage {
    l: Layout,
    d: Row,
    kind_word: &'static str,
    lines: Vec<LineView>,
    sums: Vec<(String, String, bool)>,
    notes: String,
    terms: String,
    bill_to: String,
    dw: &'static switchboard_portal::locale::DocWords,
    is_invoice: bool,
    can_pay: bool,
    pay_default: String,
    pay_error: bool,
    paid_notice: bool,
    /// An estimate still open for an answer.
    can_answer: bool,
}

#[derive(Debug, Deserialize, Default)]
pub struct DocQuery {
    paid: Option<String>,
    error: Option<String>,
}

async fn document_page(
    state: &AppState,
    client: &Client,
    doc: &Invoice,
    q: &DocQuery,
) -> PageResult {
    let lang = client.lang;
    let dw = doc_words(lang);
    let today = today(state);
    let document = Document::parse(&doc.document)
        .map_err(|e| crate::kit::error::ApiError::Unavailable(e.to_string()).into_response())?;
    let t = document
        .totals()
        .map_err(|e| crate::kit::error::ApiError::Unavailable(e.to_string()).into_response())?;
    let money = |m: i64| amount(m, &doc.currency, lang);
    let lines = document
        .lines
        .iter()
        .zip(&t.lines)
        .map(|(l, lt)| LineView {
            description: l.description.clone(),
            quantity: quantity(l.quantity_milli, lang),
            unit_price: money(l.unit_price),
            tax: if l.tax_rate_bp == 0 {
                "—".into()
            } else {
                percent(l.tax_rate_bp, lang)
            },
            amount: money(lt.net),
        })
        .collect();
    let mut sums = Vec::new();
    if t.discount > 0 {
        sums.push((
            dw.discount.to_owned(),
            format!("−{}", money(t.discount)),
            false,
        ));
    }
    sums.push((dw.subtotal.to_owned(), money(t.subtotal), false));
    for tax in t.taxes.iter().filter(|x| x.rate_bp > 0) {
        sums.push((
            format!("{} {}", dw.tax, percent(tax.rate_bp, lang)),
            money(tax.tax),
            false,
        ));
    }
    sums.push((dw.total.to_owned(), money(t.total), true));
    if doc.kind == "invoice" && doc.paid != 0 {
        sums.push((dw.paid.to_owned(), format!("−{}", money(doc.paid)), false));
    }
    let mut bill_to = document.bill_to.name.clone();
    if bill_to.is_empty()
        && let Some(c) = &doc.company_id
    {
        bill_to = state
            .store
            .company_name(c)
            .await
            .map_err(api)?
            .unwrap_or_default();
    }
    let kind_word = if doc.kind == "estimate" {
        dw.estimate
    } else {
        dw.invoice
    };
    let page = InvoicePage {
        l: Layout::client(
            state,
            client,
            format!("{kind_word} {}", doc.number),
            "invoices",
        ),
        d: row(doc, today, lang),
        kind_word,
        lines,
        sums,
        notes: document.notes,
        terms: document.terms,
        bill_to,
        dw,
        is_invoice: doc.kind == "invoice",
        can_pay: doc.kind == "invoice"
            && state.config.stripe.secret_key.is_some()
            && doc.total > doc.paid
            && !matches!(shown(doc, today).as_str(), "paid" | "void"),
        pay_default: switchboard_portal::locale::plain_amount(
            (doc.total - doc.paid).max(0),
            crate::kit::billing::exponent(&doc.currency),
        ),
        pay_error: q.error.as_deref() == Some("amount"),
        paid_notice: q.paid.is_some(),
        can_answer: doc.kind == "estimate" && shown(doc, today) == "sent",
    };
    Ok(private(render(&page)))
}

pub(crate) async fn audit(
    state: &AppState,
    client: &Client,
    action: &str,
    subject: Option<&str>,
    detail: Option<&str>,
) {
    if let Err(e) = state
        .store
        .audit(
            &state.ids,
            client.scope.company_id.as_deref(),
            &client.scope.contact_id,
            Some(&client.scope.user_id),
            action,
            subject,
            detail,
        )
        .await
    {
        tracing::warn!(error = %e, action, "audit entry not written");
    }
}

pub async fn invoice(
    State(state): State<AppState>,
    client: Client,
    headers: axum::http::HeaderMap,
    Path(number): Path<String>,
    query: Result<Query<DocQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let doc = own(&state, &client, "invoice", &number).await?;
    // Viewed means a signed-in client's page view (a link's GET signs nobody in); a
    // browser's speculative prefetch is no view.
    let prefetch = ["sec-purpose", "purpose"].iter().any(|h| {
        headers
            .get(*h)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("prefetch"))
    });
    let first = !prefetch
        && state
            .store
            .mark_invoice_viewed(&doc.id, state.ids.now_ms())
            .await
            .map_err(api)?;
    let doc = if first {
        audit(
            &state,
            &client,
            "view",
            Some(&doc.number),
            Some("first view"),
        )
        .await;
        let viewed = state.store.invoice(&doc.id).await.map_err(api)?;
        if let Err(e) = crate::kit::billing::dispatch::refresh_card(&state, &viewed).await {
            tracing::warn!(error = %e, "card not updated after a view");
        }
        viewed
    } else {
        audit(&state, &client, "view", Some(&doc.number), None).await;
        doc
    };
    document_page(&state, &client, &doc, &q).await
}

pub async fn estimate(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
) -> PageResult {
    let doc = own(&state, &client, "estimate", &number).await?;
    audit(&state, &client, "view", Some(&doc.number), None).await;
    document_page(&state, &client, &doc, &DocQuery::default()).await
}

pub async fn invoice_pdf(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
) -> PageResult {
    let doc = own(&state, &client, "invoice", &number).await?;
    let bytes = pdf(&state, &doc, client.lang).await.map_err(api)?;
    audit(&state, &client, "download", Some(&doc.number), Some("pdf")).await;
    let name = format!("{}.pdf", switchboard_portal::zip::safe_name(&doc.number));
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/pdf"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(private(resp))
}

/// The invoice's status and balance, for the page to follow a payment without reload.
pub async fn invoice_state(
    State(state): State<AppState>,
    client: Client,
    Path(number): Path<String>,
) -> PageResult {
    let doc = own(&state, &client, "invoice", &number).await?;
    let r = row(&doc, today(&state), client.lang);
    Ok(private(
        Json(serde_json::json!({
            "number": r.number,
            "status": r.status,
            "status_word": r.status_word,
            "balance": r.balance,
            "paid": doc.paid,
            "total": doc.total,
        }))
        .into_response(),
    ))
}

/// Download All: the selected invoices' PDFs as one ZIP, written as it is sent. One PDF
/// is in memory at a time (the channel holds two entries at most), and the first bytes
/// leave as soon as the first PDF is made.
pub async fn zip(State(state): State<AppState>, client: Client, body: Bytes) -> PageResult {
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| crate::kit::error::ApiError::BadRequest(e.to_string()).into_response())?;
    let numbers: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "n")
        .map(|(_, v)| v)
        .take(switchboard_portal::zip::MAX_ENTRIES)
        .collect();
    if numbers.is_empty() {
        return Ok(axum::response::Redirect::to("/portal/invoices?error=none").into_response());
    }
    let docs = state
        .store
        .client_documents_by_number(&client.scope, &numbers)
        .await
        .map_err(api)?;
    if docs.is_empty() {
        return Err(not_found(&state, client.lang));
    }
    audit(
        &state,
        &client,
        "download",
        None,
        Some(&format!("zip of {} invoices", docs.len())),
    )
    .await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(2);
    let lang = client.lang;
    let now_s = state.ids.now_ms() / 1000;
    let count = docs.len();
    tokio::spawn(async move {
        let mut z = ZipStream::new(now_s);
        let mut names = std::collections::HashMap::new();
        for doc in docs {
            let bytes = match crate::kit::billing::pdf_named(&state, &doc, lang, &mut names).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(invoice = %doc.number, error = %e, "PDF for the ZIP failed");
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            let entry = match z.entry(&format!("{}.pdf", doc.number), &bytes) {
                Ok(e) => e,
                Err(e) => {
                    let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                    return;
                }
            };
            if tx.send(Ok(Bytes::from(entry))).await.is_err() {
                return; // the client went away
            }
        }
        match z.finish() {
            Ok(end) => {
                let _ = tx.send(Ok(Bytes::from(end))).await;
            }
            Err(e) => {
                let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
            }
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"invoices.zip\""),
    );
    if let Ok(v) = HeaderValue::from_str(&count.to_string()) {
        h.insert("x-entries", v);
    }
    Ok(private(resp))
}

/// An audit line, formatted.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub when: String,
    pub when_iso: String,
    pub who: String,
    pub what: String,
    pub subject: String,
}

#[derive(Template)]
#[template(path = "portal/activity.html")]
struct ActivityPage {
    l: Layout,
    rows: Vec<ActivityRow>,
}

/// A moment as pages show it (the date in the client's words, hours and minutes in UTC)
/// and as `<time datetime>` takes it.
pub(crate) fn stamp(ms: i64, lang: Lang) -> (String, String) {
    let day = ms.div_euclid(86_400_000);
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    (
        format!(
            "{} {:02}:{:02}",
            date(day, lang),
            secs / 3600,
            (secs % 3600) / 60
        ),
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            switchboard_portal::locale::iso_date(day),
            secs / 3600,
            (secs % 3600) / 60,
            secs % 60
        ),
    )
}

/// An action of the activity log in words; one not listed shows as stored.
fn action_word(action: &str, lang: Lang) -> &str {
    let words: [&str; 3] = match action {
        "login" => ["Signed in", "Inició sesión", "Entrou"],
        "view" => ["Opened", "Abrió", "Abriu"],
        "download" => ["Downloaded", "Descargó", "Baixou"],
        "pay" => [
            "Started a payment",
            "Inició un pago",
            "Iniciou um pagamento",
        ],
        "accepted" => ["Accepted", "Aceptó", "Aceitou"],
        "declined" => ["Declined", "Rechazó", "Recusou"],
        "invite" => ["Invited", "Invitó", "Convidou"],
        "remove_user" => ["Removed a user", "Quitó un usuario", "Removeu um usuário"],
        "password" => [
            "Changed the password",
            "Cambió la contraseña",
            "Trocou a senha",
        ],
        "2fa_on" => [
            "Turned on two-step verification",
            "Activó la verificación en dos pasos",
            "Ativou a verificação em duas etapas",
        ],
        "2fa_off" => [
            "Turned off two-step verification",
            "Desactivó la verificación en dos pasos",
            "Desativou a verificação em duas etapas",
        ],
        "require_2fa" => [
            "Required two-step verification for everyone",
            "Exigió la verificación en dos pasos a todos",
            "Exigiu a verificação em duas etapas de todos",
        ],
        "ticket" => [
            "Opened a request",
            "Abrió una solicitud",
            "Abriu uma solicitação",
        ],
        "reading" => [
            "Entered a reading",
            "Registró una lectura",
            "Registrou uma leitura",
        ],
        "survey_answered" => [
            "Answered a survey",
            "Respondió una encuesta",
            "Respondeu uma pesquisa",
        ],
        "company_switched" => [
            "Came in from the group",
            "Entró desde el grupo",
            "Entrou pelo grupo",
        ],
        _ => return action,
    };
    match lang {
        Lang::En => words[0],
        Lang::Es => words[1],
        Lang::PtBr => words[2],
    }
}

fn activity_row(a: &AuditEntry, lang: Lang) -> ActivityRow {
    let (when, when_iso) = stamp(a.created_at, lang);
    ActivityRow {
        when,
        when_iso,
        who: a.who.clone().unwrap_or_default(),
        what: [
            action_word(&a.action, lang),
            a.detail.as_deref().unwrap_or(""),
        ]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" · "),
        subject: a.subject.clone().unwrap_or_default(),
    }
}

pub async fn activity(State(state): State<AppState>, client: Client) -> PageResult {
    let log = state
        .store
        .client_audit_log(&client.scope, 200)
        .await
        .map_err(api)?;
    let page = ActivityPage {
        l: Layout::client(
            &state,
            &client,
            client_words(&client).activity.to_owned(),
            "activity",
        ),
        rows: log.iter().map(|a| activity_row(a, client.lang)).collect(),
    };
    Ok(private(render(&page)))
}
