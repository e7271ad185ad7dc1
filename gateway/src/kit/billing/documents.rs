//! A new invoice or estimate, checked and numbered: shared by the billing API, CSV
//! import, the billing form, the portal (an accepted estimate becomes an invoice) and the
//! demo.

use serde::Deserialize;
use switchboard_core::store::{Invoice, NewInvoice};
use switchboard_portal::document::Document;
use switchboard_portal::locale::{civil, parse_date};
use switchboard_portal::numbering::Pattern;

use crate::kit::AppState;
use crate::kit::billing::today;
use crate::kit::error::ApiError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    pub contact_id: String,
    #[serde(default)]
    pub company_id: Option<String>,
    pub currency: String,
    /// `YYYY-MM-DD`; today when left out.
    #[serde(default)]
    pub issue_date: Option<String>,
    /// Due (invoices) or valid until (estimates).
    #[serde(default)]
    pub due_date: Option<String>,
    pub document: Document,
    #[serde(default)]
    pub external_id: Option<String>,
    /// Send it at once (mail and card).
    #[serde(default)]
    pub send: bool,
}

/// Checks and stores a new document; shared by the API and CSV import.
pub async fn create_document(
    state: &AppState,
    kind: &str,
    new: &NewDocument,
) -> Result<Invoice, ApiError> {
    let totals = new
        .document
        .check()
        .map_err(|e| ApiError::Invalid(format!("document: {e}")))?;
    let currency = new.currency.trim().to_ascii_uppercase();
    switchboard_core::money::Currency::parse(&currency)
        .map_err(|e| ApiError::Invalid(format!("currency: {e}")))?;
    let day = |field: &str, v: &Option<String>| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                parse_date(s).ok_or_else(|| {
                    ApiError::Invalid(format!("{field}: {s:?} is not a date like 2026-11-23"))
                })
            })
            .transpose()
    };
    let issue_day = day("issue_date", &new.issue_date)?.unwrap_or_else(|| today(state));
    let due_day = day("due_date", &new.due_date)?;
    if due_day.is_some_and(|d| d < issue_day) {
        return Err(ApiError::Invalid(
            "due_date: it is before the issue date".into(),
        ));
    }
    if new
        .external_id
        .as_deref()
        .is_some_and(|e| e.trim().is_empty() || e.len() > 200)
    {
        return Err(ApiError::Invalid("external_id: 1 to 200 characters".into()));
    }
    let contact_company = state
        .store
        .contact_company(&new.contact_id)
        .await?
        .ok_or_else(|| ApiError::Invalid(format!("contact_id: no contact {}", new.contact_id)))?;
    let company = match (&new.company_id, contact_company) {
        (Some(c), Some(cc)) if *c != cc => {
            return Err(ApiError::Invalid(
                "company_id: the contact belongs to another company".into(),
            ));
        }
        (Some(c), _) => {
            if state.store.company_name(c).await?.is_none() {
                return Err(ApiError::Invalid(format!("company_id: no company {c}")));
            }
            Some(c.clone())
        }
        (None, cc) => cc,
    };
    let source = if kind == "estimate" {
        &state.config.portal.estimate_pattern
    } else {
        &state.config.portal.invoice_pattern
    };
    let pattern = Pattern::parse(source)
        .map_err(|e| ApiError::Unavailable(format!("the numbering pattern {source:?}: {e}")))?;
    let (year, month, _) = civil(issue_day);
    let counter = if pattern.yearly() {
        format!("{kind}:{year}")
    } else {
        kind.to_owned()
    };
    let doc = state
        .store
        .create_invoice(
            &state.ids,
            &NewInvoice {
                kind,
                company_id: company.as_deref(),
                contact_id: &new.contact_id,
                status: "draft",
                currency: &currency,
                document: &new.document.to_json(),
                subtotal: totals.subtotal,
                tax: totals.tax,
                total: totals.total,
                issue_day,
                due_day,
                external_id: new.external_id.as_deref(),
            },
            &counter,
            &|seq| pattern.format(i32::try_from(year).unwrap_or(1970), month, seq),
        )
        .await?;
    Ok(doc)
}
