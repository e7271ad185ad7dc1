//! The admins' document editor: a new invoice or estimate (for a contact named by its
//! address), and a draft edited until it is sent. Amounts, quantities and rates are typed
//! as people write them (`1.234,50`, `1,5`, `23`), read back into minor units, thousandths
//! and basis points; the totals are always the lines'. Bad input shows the form again with
//! every problem named and stores nothing.
//!
//! The pages: `/billing/new` (a new document) and `/billing/documents/{id}/edit` (a draft).
//! Amounts are read by `portal::locale::parse_amount`, which refuses a sign or letters
//! inside the number; "Save and send" dispatches the document. Tests: unit
//! `billing::form::tests::*`, e2e
//! `portal::admins_write_invoices_on_their_pages_and_edit_drafts` (totals worked out by
//! hand, a sent document no longer edited, supervisors refused).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use switchboard_core::domain::Identity;
use switchboard_portal::document::{DocLine, Document, Party};
use switchboard_portal::locale::{iso_date, parse_amount, parse_date, plain_amount};
use switchboard_portal::totals::{Discount, Rounding};

use crate::kit::AppState;
use crate::kit::billing::dispatch::dispatch;
use crate::kit::billing::documents::{NewDocument, create_document};
use crate::kit::billing::{exponent, today};
use crate::kit::page::{Page, WebError, render};
use crate::kit::session::AdminAgent;

/// Line rows a form shows at least, and at most.
const MIN_ROWS: usize = 5;
const MAX_ROWS: usize = 50;

/// One line as typed.
#[derive(Debug, Clone, Default)]
pub struct LineInput {
    pub description: String,
    pub quantity: String,
    pub price: String,
    pub tax: String,
    pub discount: String,
    pub inclusive: bool,
}

/// The whole form as typed.
#[derive(Debug, Clone, Default)]
pub struct DocInput {
    pub kind: String,
    pub contact: String,
    pub currency: String,
    pub issue: String,
    pub due: String,
    pub per_invoice: bool,
    pub notes: String,
    pub terms: String,
    pub lines: Vec<LineInput>,
    pub send: bool,
}

impl DocInput {
    fn from_pairs(pairs: &[(String, String)]) -> Self {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.trim().to_owned())
                .unwrap_or_default()
        };
        let lines = (0..MAX_ROWS)
            .map(|i| LineInput {
                description: get(&format!("desc_{i}")),
                quantity: get(&format!("qty_{i}")),
                price: get(&format!("price_{i}")),
                tax: get(&format!("tax_{i}")),
                discount: get(&format!("disc_{i}")),
                inclusive: !get(&format!("incl_{i}")).is_empty(),
            })
            .filter(|l| {
                !(l.description.is_empty()
                    && l.quantity.is_empty()
                    && l.price.is_empty()
                    && l.tax.is_empty()
                    && l.discount.is_empty())
            })
            .collect();
        Self {
            kind: if get("kind") == "estimate" {
                "estimate".into()
            } else {
                "invoice".into()
            },
            contact: get("contact"),
            currency: get("currency").to_ascii_uppercase(),
            issue: get("issue"),
            due: get("due"),
            per_invoice: get("rounding") == "per_invoice",
            notes: get("notes"),
            terms: get("terms"),
            lines,
            send: get("send") == "1",
        }
    }

    /// The document the form describes, or every problem with it (line numbers from 1).
    pub fn document(&self) -> Result<Document, Vec<String>> {
        let mut errors = Vec::new();
        let exp = exponent(&self.currency);
        let mut lines = Vec::new();
        if self.lines.is_empty() {
            errors.push("add at least one line".to_owned());
        }
        for (i, l) in self.lines.iter().enumerate() {
            let n = i + 1;
            if l.description.is_empty() {
                errors.push(format!("line {n}: describe it"));
            }
            let quantity = if l.quantity.is_empty() {
                Some(1000)
            } else {
                parse_amount(&l.quantity, 3)
            };
            let Some(quantity) = quantity.filter(|q| *q > 0) else {
                errors.push(format!(
                    "line {n}: the quantity {:?} is not a number above 0",
                    l.quantity
                ));
                continue;
            };
            let Some(price) = parse_amount(&l.price, exp).filter(|p| *p >= 0) else {
                errors.push(format!(
                    "line {n}: the price {:?} is not an amount",
                    l.price
                ));
                continue;
            };
            let rate = |s: &str, what: &str, errors: &mut Vec<String>| -> Option<u32> {
                if s.is_empty() {
                    return Some(0);
                }
                match parse_amount(s.trim_end_matches('%').trim(), 2)
                    .and_then(|v| u32::try_from(v).ok())
                    .filter(|v| *v <= 10_000)
                {
                    Some(v) => Some(v),
                    None => {
                        errors.push(format!(
                            "line {n}: the {what} {s:?} is not a percentage from 0 to 100"
                        ));
                        None
                    }
                }
            };
            let (Some(tax), Some(discount)) = (
                rate(&l.tax, "tax", &mut errors),
                rate(&l.discount, "discount", &mut errors),
            ) else {
                continue;
            };
            lines.push(DocLine {
                description: l.description.clone(),
                quantity_milli: quantity,
                unit_price: price,
                discount: if discount == 0 {
                    Discount::None
                } else {
                    Discount::Percent(discount)
                },
                tax_rate_bp: tax,
                tax_inclusive: l.inclusive,
            });
        }
        let doc = Document {
            lines,
            rounding: if self.per_invoice {
                Rounding::PerInvoice
            } else {
                Rounding::PerLine
            },
            notes: self.notes.clone(),
            terms: self.terms.clone(),
            bill_to: Party::default(),
        };
        if errors.is_empty()
            && let Err(e) = doc.check()
        {
            errors.push(e.to_string());
        }
        if errors.is_empty() {
            Ok(doc)
        } else {
            Err(errors)
        }
    }

    fn from_document(doc: &Document, currency: &str) -> Self {
        let exp = exponent(currency);
        let pct = |bp: u32| {
            if bp == 0 {
                String::new()
            } else {
                plain_amount(i64::from(bp), 2)
            }
        };
        Self {
            currency: currency.to_owned(),
            per_invoice: doc.rounding == Rounding::PerInvoice,
            notes: doc.notes.clone(),
            terms: doc.terms.clone(),
            lines: doc
                .lines
                .iter()
                .map(|l| LineInput {
                    description: l.description.clone(),
                    quantity: plain_amount(l.quantity_milli, 3),
                    price: plain_amount(l.unit_price, exp),
                    tax: pct(l.tax_rate_bp),
                    discount: match l.discount {
                        Discount::Percent(bp) => pct(bp),
                        _ => String::new(),
                    },
                    inclusive: l.tax_inclusive,
                })
                .collect(),
            ..Self::default()
        }
    }
}

#[derive(Template)]
#[template(path = "billing_form.html")]
struct FormPage {
    p: Page,
    f: DocInput,
    /// `(index, line)`, with empty rows to fill.
    rows: Vec<(usize, LineInput)>,
    errors: Vec<String>,
    /// Editing this draft (its id and number); `None`: a new document.
    editing: Option<(String, String)>,
}

fn form_page(
    p: Page,
    f: DocInput,
    errors: Vec<String>,
    editing: Option<(String, String)>,
) -> Response {
    let mut rows: Vec<(usize, LineInput)> = f.lines.iter().cloned().enumerate().collect();
    let want = (rows.len() + 3).clamp(MIN_ROWS, MAX_ROWS);
    while rows.len() < want {
        rows.push((rows.len(), LineInput::default()));
    }
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut resp = render(&FormPage {
        p,
        f,
        rows,
        errors,
        editing,
    });
    *resp.status_mut() = status;
    resp
}

#[derive(Debug, Deserialize, Default)]
pub struct NewQuery {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    contact: String,
}

/// `GET /billing/new`: an empty invoice or estimate.
pub async fn new_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Query(q): Query<NewQuery>,
) -> Result<Response, WebError> {
    let f = DocInput {
        kind: if q.kind == "estimate" {
            "estimate".into()
        } else {
            "invoice".into()
        },
        contact: q.contact,
        currency: "BRL".into(),
        issue: iso_date(today(&state)),
        due: iso_date(today(&state) + 30),
        ..DocInput::default()
    };
    let p = Page::agent(&state, &agent, agent.tr.t("billing-new"), "billing").await?;
    Ok(form_page(p, f, Vec::new(), None))
}

fn pairs(body: &[u8]) -> Vec<(String, String)> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// `POST /billing/new`: creates the draft (and sends it, if asked).
pub async fn create(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    body: Bytes,
) -> Result<Response, WebError> {
    let f = DocInput::from_pairs(&pairs(&body));
    let mut errors = Vec::new();
    let contact = match Identity::email(&f.contact) {
        Ok(identity) => match state.store.contact_for_identity(&identity).await? {
            Some(c) => Some(c),
            None => {
                errors.push(format!("no contact has the address {:?}", f.contact));
                None
            }
        },
        Err(_) => {
            errors.push("the client's email address is missing or not an address".into());
            None
        }
    };
    let doc = f.document().map_err(|e| errors.extend(e)).ok();
    let title = agent.tr.t("billing-new");
    let (Some(contact), Some(document), true) = (contact, doc, errors.is_empty()) else {
        let p = Page::agent(&state, &agent, title, "billing").await?;
        return Ok(form_page(p, f, errors, None));
    };
    let new = NewDocument {
        contact_id: contact,
        company_id: None,
        currency: f.currency.clone(),
        issue_date: Some(f.issue.clone()),
        due_date: Some(f.due.clone()).filter(|d| !d.is_empty()),
        document,
        external_id: None,
        send: f.send,
    };
    let created = match create_document(&state, &f.kind, &new).await {
        Ok(d) => d,
        Err(crate::kit::error::ApiError::Invalid(m)) => {
            let p = Page::agent(&state, &agent, title, "billing").await?;
            return Ok(form_page(p, f, vec![m], None));
        }
        Err(e) => return Err(e.into()),
    };
    if f.send {
        dispatch(&state, &created, Some(&agent.user.id)).await?;
    }
    tracing::info!(target: "audit", by = %agent.user.id, document = %created.id, "document created");
    Ok(Redirect::to(&format!("/billing/documents/{}?done=created", created.id)).into_response())
}

/// `GET /billing/documents/{id}/edit`: a draft's form.
pub async fn edit_page(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    let doc = state
        .store
        .invoice(&id)
        .await
        .map_err(|_| WebError::NotFound(agent.tr))?;
    if doc.status != "draft" {
        return Ok(Redirect::to(&format!("/billing/documents/{id}")).into_response());
    }
    let parsed = Document::parse(&doc.document).map_err(|e| {
        WebError::from(crate::kit::error::ApiError::Invalid(format!(
            "document: {e}"
        )))
    })?;
    let mut f = DocInput::from_document(&parsed, &doc.currency);
    f.kind = doc.kind.clone();
    f.issue = iso_date(doc.issue_day);
    f.due = doc.due_day.map(iso_date).unwrap_or_default();
    let p = Page::agent(&state, &agent, doc.number.clone(), "billing").await?;
    Ok(form_page(p, f, Vec::new(), Some((doc.id, doc.number))))
}

/// `POST /billing/documents/{id}/edit`: saves the draft (a sent document is not edited).
pub async fn save(
    State(state): State<AppState>,
    AdminAgent(agent): AdminAgent,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, WebError> {
    let doc = state
        .store
        .invoice(&id)
        .await
        .map_err(|_| WebError::NotFound(agent.tr))?;
    let mut f = DocInput::from_pairs(&pairs(&body));
    f.kind = doc.kind.clone();
    let editing = Some((doc.id.clone(), doc.number.clone()));
    let mut errors = Vec::new();
    if switchboard_core::money::Currency::parse(&f.currency).is_err() {
        errors.push(format!("the currency {:?} is not one we know", f.currency));
    }
    let issue = parse_date(&f.issue);
    if issue.is_none() {
        errors.push(format!("the issue date {:?} is not a date", f.issue));
    }
    let due = if f.due.is_empty() {
        Ok(None)
    } else {
        parse_date(&f.due).map(Some).ok_or(())
    };
    if due.is_err() {
        errors.push(format!("the due date {:?} is not a date", f.due));
    }
    if let (Some(i), Ok(Some(d))) = (issue, due)
        && d < i
    {
        errors.push("the due date is before the issue date".into());
    }
    let document = f.document().map_err(|e| errors.extend(e)).ok();
    let (Some(document), Some(issue), Ok(due), true) = (document, issue, due, errors.is_empty())
    else {
        let p = Page::agent(&state, &agent, doc.number.clone(), "billing").await?;
        return Ok(form_page(p, f, errors, editing));
    };
    let totals = document
        .check()
        .map_err(|e| WebError::from(crate::kit::error::ApiError::Invalid(e.to_string())))?;
    let saved = state
        .store
        .update_draft(
            &id,
            &document.to_json(),
            totals.subtotal,
            totals.tax,
            totals.total,
            &f.currency,
            issue,
            due,
            state.ids.now_ms(),
        )
        .await;
    match saved {
        Ok(_) => {}
        Err(switchboard_core::Error::Conflict(m)) => {
            let p = Page::agent(&state, &agent, doc.number.clone(), "billing").await?;
            return Ok(form_page(p, f, vec![m], editing));
        }
        Err(e) => return Err(e.into()),
    }
    if f.send {
        let fresh = state.store.invoice(&id).await?;
        dispatch(&state, &fresh, Some(&agent.user.id)).await?;
    }
    Ok(Redirect::to(&format!("/billing/documents/{id}?done=saved")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs_of(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn typed_lines_become_minor_units_thousandths_and_basis_points() {
        let f = DocInput::from_pairs(&pairs_of(&[
            ("currency", "brl"),
            ("desc_0", "Manutenção"),
            ("qty_0", "1,5"),
            ("price_0", "1.234,50"),
            ("tax_0", "23%"),
            ("disc_0", "10"),
            ("desc_2", "Toner"),
            ("price_2", "50"),
            ("incl_2", "1"),
        ]));
        assert_eq!(f.currency, "BRL");
        assert_eq!(f.lines.len(), 2, "the empty row in between is skipped");
        let d = f.document().unwrap();
        assert_eq!(d.lines[0].quantity_milli, 1_500);
        assert_eq!(d.lines[0].unit_price, 123_450);
        assert_eq!(d.lines[0].tax_rate_bp, 2_300);
        assert_eq!(d.lines[0].discount, Discount::Percent(1_000));
        assert_eq!(d.lines[1].quantity_milli, 1_000, "no quantity is one");
        assert!(d.lines[1].tax_inclusive);
        let back = DocInput::from_document(&d, "BRL");
        assert_eq!(back.lines[0].price, "1234.50");
        assert_eq!(back.lines[0].tax, "23.00");
    }

    #[test]
    fn every_bad_line_is_named() {
        let f = DocInput::from_pairs(&pairs_of(&[
            ("currency", "BRL"),
            ("desc_0", ""),
            ("price_0", "10"),
            ("desc_1", "x"),
            ("qty_1", "-2"),
            ("price_1", "10"),
            ("desc_2", "y"),
            ("price_2", "dez"),
            ("desc_3", "z"),
            ("price_3", "1"),
            ("tax_3", "150"),
        ]));
        let errors = f.document().unwrap_err();
        for want in [
            "line 1: describe it",
            "line 2: the quantity",
            "line 3: the price",
            "line 4: the tax",
        ] {
            assert!(
                errors.iter().any(|e| e.starts_with(want)),
                "{want}: {errors:?}"
            );
        }
        assert_eq!(
            DocInput::from_pairs(&[]).document().unwrap_err(),
            vec!["add at least one line".to_owned()]
        );
    }
}
