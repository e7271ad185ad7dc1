//! What the portal's pages share about documents: today's day number, the status a
//! document shows, money in the client's language, and the PDF.

pub mod dispatch;
pub mod documents;

use switchboard_core::money::Currency;
use switchboard_core::store::Invoice;
use switchboard_portal::document::{Document, Party};
use switchboard_portal::locale::{Lang, money};
use switchboard_portal::pdf::{PdfInvoice, render};
use switchboard_portal::status::{EstimateStored, Stored, estimate, invoice};

use crate::kit::AppState;
use crate::kit::error::ApiError;

/// Today, as days since 1970-01-01 (UTC), through the clock.
pub fn today(state: &AppState) -> i64 {
    state.ids.now_ms().div_euclid(86_400_000)
}

pub fn exponent(currency: &str) -> u8 {
    Currency::parse(currency).map_or(2, Currency::exponent)
}

pub fn amount(minor: i64, currency: &str, lang: Lang) -> String {
    money(minor, currency, exponent(currency), lang)
}

/// The status a document shows today (`paid`, `overdue`, `expired`, …).
pub fn shown(doc: &Invoice, today: i64) -> String {
    let v = if doc.kind == "estimate" {
        let stored = match doc.status.as_str() {
            "draft" => EstimateStored::Draft,
            "accepted" => EstimateStored::Accepted,
            "declined" => EstimateStored::Declined,
            _ => EstimateStored::Sent,
        };
        serde_json::to_value(estimate(stored, doc.due_day, today))
    } else {
        let stored = match doc.status.as_str() {
            "draft" => Stored::Draft,
            "viewed" => Stored::Viewed,
            "void" => Stored::Void,
            _ => Stored::Sent,
        };
        serde_json::to_value(invoice(stored, doc.total, doc.paid, doc.due_day, today))
    };
    v.ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| doc.status.clone())
}

/// The document's PDF, in the client's language.
pub async fn pdf(state: &AppState, doc: &Invoice, lang: Lang) -> Result<Vec<u8>, ApiError> {
    let mut names = std::collections::HashMap::new();
    pdf_named(state, doc, lang, &mut names).await
}

/// The PDF, with company names looked up once per `names` (a ZIP of one company's
/// thousand invoices asks for its name once).
pub async fn pdf_named(
    state: &AppState,
    doc: &Invoice,
    lang: Lang,
    names: &mut std::collections::HashMap<String, String>,
) -> Result<Vec<u8>, ApiError> {
    let document =
        Document::parse(&doc.document).map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let totals = document
        .totals()
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let mut bill_to = document.bill_to.clone();
    if bill_to.name.is_empty()
        && let Some(c) = &doc.company_id
    {
        bill_to.name = match names.get(c) {
            Some(n) => n.clone(),
            None => {
                let n = state.store.company_name(c).await?.unwrap_or_default();
                names.insert(c.clone(), n.clone());
                n
            }
        };
    }
    let business = Party {
        name: state.config.web.business_name.clone(),
        address: state.config.portal.business_address.clone(),
        tax_id: state.config.portal.business_tax_id.clone(),
    };
    let status = shown(doc, today(state));
    let accent = state.config.web.accent.clone();
    let doc = doc.clone();
    // Rendering is CPU work: off the async threads.
    tokio::task::spawn_blocking(move || {
        render(&PdfInvoice {
            lang,
            kind: &doc.kind,
            number: &doc.number,
            status: &status,
            business: &business,
            accent: &accent,
            bill_to: &bill_to,
            issue_day: doc.issue_day,
            due_day: doc.due_day,
            currency: &doc.currency,
            exponent: exponent(&doc.currency),
            document: &document,
            totals: &totals,
            paid: doc.paid,
        })
    })
    .await
    .map_err(|e| ApiError::Unavailable(e.to_string()))?
    .map_err(|e| ApiError::Unavailable(e.to_string()))
}
