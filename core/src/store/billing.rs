//! Invoices, estimates and their ledger. The arithmetic (totals, numbering patterns,
//! statuses) is the `portal` crate's and pure; this keeps what it decided: numbers issued
//! once each, per counter scope, even with writers racing; and payments and refunds
//! recorded once per provider reference, in the document's currency, never refunding more
//! than was paid, with `paid` moved in the same transaction.
//!
//! A number is taken from a per-scope counter in the inserting transaction (eight racing
//! writers get eight consecutive numbers); an accounting system's `external_id` is stored
//! once; a payment or refund is recorded once per (method, kind, reference), and `paid`
//! always equals the ledger's sum (conformance `billing::*` on every backend; eight
//! deliveries of one Stripe payment record one).

use sqlx::Row;

use super::Store;
use crate::clock::Ids;
use crate::error::{Error, Result};

/// A document to store; its totals are computed by the caller.
#[derive(Debug, Clone)]
pub struct NewInvoice<'a> {
    /// `invoice` or `estimate`.
    pub kind: &'a str,
    pub company_id: Option<&'a str>,
    pub contact_id: &'a str,
    pub status: &'a str,
    pub currency: &'a str,
    /// The document as JSON: lines with descriptions, notes, terms, rounding.
    pub document: &'a str,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub issue_day: i64,
    pub due_day: Option<i64>,
    /// The id an accounting system gave it: pushing it again changes nothing.
    pub external_id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invoice {
    pub id: String,
    pub kind: String,
    pub number: String,
    pub company_id: Option<String>,
    pub contact_id: String,
    pub status: String,
    pub currency: String,
    pub document: String,
    pub subtotal: i64,
    pub tax: i64,
    pub total: i64,
    pub paid: i64,
    pub issue_day: i64,
    pub due_day: Option<i64>,
    pub external_id: Option<String>,
    /// When the client first opened it in the portal.
    pub viewed_at: Option<i64>,
    pub sent_at: Option<i64>,
    /// The conversation its card was posted in.
    pub conversation_id: Option<String>,
    pub updated_at: i64,
}

/// One row of the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LedgerEntry {
    pub id: String,
    /// `payment` or `refund`.
    pub kind: String,
    pub amount: i64,
    pub method: String,
    pub reference: String,
    pub created_at: i64,
}

/// What recording a payment or refund did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// Recorded; the invoice's paid amount after it.
    Recorded { paid: i64 },
    /// This reference was recorded before: nothing changed.
    Duplicate { paid: i64 },
}

pub(crate) const COLUMNS: &str = "id, kind, number, company_id, contact_id, status, currency, document, subtotal, tax, total, paid, issue_day, due_day, external_id, viewed_at, sent_at, conversation_id, updated_at";
/// The same, without the document's JSON: for lists, which sort many rows and show none
/// of their lines.
pub(crate) const LIST_COLUMNS: &str = "id, kind, number, company_id, contact_id, status, currency, '' AS document, subtotal, tax, total, paid, issue_day, due_day, external_id, viewed_at, sent_at, conversation_id, updated_at";

pub(crate) fn invoice(r: &sqlx::any::AnyRow) -> Result<Invoice> {
    Ok(Invoice {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        number: r.try_get("number")?,
        company_id: r.try_get("company_id")?,
        contact_id: r.try_get("contact_id")?,
        status: r.try_get("status")?,
        currency: r.try_get("currency")?,
        document: r.try_get("document")?,
        subtotal: r.try_get("subtotal")?,
        tax: r.try_get("tax")?,
        total: r.try_get("total")?,
        paid: r.try_get("paid")?,
        issue_day: r.try_get("issue_day")?,
        due_day: r.try_get("due_day")?,
        external_id: r.try_get("external_id")?,
        viewed_at: r.try_get("viewed_at")?,
        sent_at: r.try_get("sent_at")?,
        conversation_id: r.try_get("conversation_id")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Inserts a document under the next number of `counter`, in the caller's transaction.
pub(crate) async fn insert_invoice(
    tx: &mut sqlx::AnyConnection,
    ids: &Ids,
    new: &NewInvoice<'_>,
    counter: &str,
    number: &(dyn Fn(u64) -> String + Sync),
) -> Result<String> {
    let now = ids.now_ms();
    let seq: i64 = sqlx::query_scalar(
        "INSERT INTO billing_counters (scope, value) VALUES ($1, 1) \
         ON CONFLICT (scope) DO UPDATE SET value = billing_counters.value + 1 RETURNING value",
    )
    .bind(counter)
    .fetch_one(&mut *tx)
    .await?;
    let id = ids.new_id();
    let formatted = number(u64::try_from(seq).unwrap_or(0));
    sqlx::query(
        "INSERT INTO invoices (id, kind, number, company_id, contact_id, status, currency, document, subtotal, tax, total, paid, issue_day, due_day, external_id, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $15, $15)",
    )
    .bind(&id)
    .bind(new.kind)
    .bind(&formatted)
    .bind(new.company_id)
    .bind(new.contact_id)
    .bind(new.status)
    .bind(new.currency)
    .bind(new.document)
    .bind(new.subtotal)
    .bind(new.tax)
    .bind(new.total)
    .bind(new.issue_day)
    .bind(new.due_day)
    .bind(new.external_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| match Error::from(e) {
        Error::Conflict(_) => Error::Conflict(format!("the number {formatted} is taken")),
        other => other,
    })?;
    Ok(id)
}

impl Store {
    /// Stores a document under the next number of `counter` (`invoice:2026`, or
    /// `invoice` for a pattern without a year), formatted by `number`. An `external_id`
    /// already stored returns that document and issues no number.
    pub async fn create_invoice(
        &self,
        ids: &Ids,
        new: &NewInvoice<'_>,
        counter: &str,
        number: &(dyn Fn(u64) -> String + Sync),
    ) -> Result<Invoice> {
        if !matches!(new.kind, "invoice" | "estimate") {
            return Err(Error::invalid("a document is an invoice or an estimate"));
        }
        if new.total < 0 || new.subtotal < 0 || new.tax < 0 {
            return Err(Error::invalid("amounts must not be negative"));
        }
        crate::money::Money::new(new.total, new.currency)?;
        let mut tx = self.begin_write().await?;
        if let Some(ext) = new.external_id {
            let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {COLUMNS} FROM invoices WHERE kind = $1 AND external_id = $2"
            )))
            .bind(new.kind)
            .bind(ext)
            .fetch_optional(&mut **tx)
            .await?;
            if let Some(r) = row {
                return invoice(&r);
            }
        }
        let id = insert_invoice(&mut tx, ids, new, counter, number).await?;
        tx.commit().await?;
        self.invoice(&id).await
    }

    /// Invoices sent and not yet paid whose due day is in `[from, to]` (the notices of
    /// invoices due soon and overdue), at most `limit`, by due day.
    pub async fn unpaid_invoices_due(
        &self,
        from: i64,
        to: i64,
        limit: i64,
    ) -> Result<Vec<Invoice>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {LIST_COLUMNS} FROM invoices WHERE kind = 'invoice' AND status IN ('sent', 'viewed', 'partially_paid') \
             AND paid < total AND due_day >= $1 AND due_day <= $2 ORDER BY due_day, id LIMIT $3"
        )))
        .bind(from)
        .bind(to)
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(invoice).collect()
    }

    pub async fn invoice(&self, id: &str) -> Result<Invoice> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM invoices WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("invoice {id}")))?;
        invoice(&row)
    }

    /// Records a payment or a refund once per (method, kind, reference), in the
    /// invoice's currency; a refund never takes back more than was paid.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_payment(
        &self,
        ids: &Ids,
        invoice_id: &str,
        kind: &str,
        amount: i64,
        currency: &str,
        method: &str,
        reference: &str,
    ) -> Result<PaymentOutcome> {
        if !matches!(kind, "payment" | "refund") {
            return Err(Error::invalid("a ledger entry is a payment or a refund"));
        }
        if amount <= 0 {
            return Err(Error::invalid("the amount must be more than zero"));
        }
        if reference.trim().is_empty() {
            return Err(Error::invalid("a payment needs a reference"));
        }
        let mut tx = self.begin_write().await?;
        let lock = match self.backend {
            super::Backend::Postgres => " FOR UPDATE",
            super::Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT currency, paid, status FROM invoices WHERE id = $1{lock}"
        )))
        .bind(invoice_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| Error::not_found(format!("invoice {invoice_id}")))?;
        let (stored_currency, paid, status): (String, i64, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let duplicate = sqlx::query_scalar::<_, String>(
            "SELECT id FROM invoice_payments WHERE method = $1 AND kind = $2 AND reference = $3",
        )
        .bind(method)
        .bind(kind)
        .bind(reference)
        .fetch_optional(&mut **tx)
        .await?;
        if duplicate.is_some() {
            return Ok(PaymentOutcome::Duplicate { paid });
        }
        if !stored_currency.eq_ignore_ascii_case(currency) {
            return Err(Error::invalid(format!(
                "the payment is in {currency}; the invoice is in {stored_currency}"
            )));
        }
        if status == "void" && kind == "payment" {
            return Err(Error::Conflict("the invoice is void".into()));
        }
        let after = if kind == "refund" {
            if amount > paid {
                return Err(Error::invalid(format!(
                    "a refund of {amount} is more than the {paid} paid"
                )));
            }
            paid - amount
        } else {
            paid.checked_add(amount)
                .ok_or_else(|| Error::invalid("the amount is too large"))?
        };
        let now = ids.now_ms();
        sqlx::query(
            "INSERT INTO invoice_payments (id, invoice_id, kind, amount, currency, method, reference, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ids.new_id())
        .bind(invoice_id)
        .bind(kind)
        .bind(amount)
        .bind(stored_currency.as_str())
        .bind(method)
        .bind(reference)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        sqlx::query("UPDATE invoices SET paid = $1, updated_at = $2 WHERE id = $3")
            .bind(after)
            .bind(now)
            .bind(invoice_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(PaymentOutcome::Recorded { paid: after })
    }

    /// An invoice's ledger, oldest first.
    pub async fn ledger(&self, invoice_id: &str) -> Result<Vec<LedgerEntry>> {
        let rows = sqlx::query(
            "SELECT id, kind, amount, method, reference, created_at FROM invoice_payments WHERE invoice_id = $1 ORDER BY created_at, id",
        )
        .bind(invoice_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(LedgerEntry {
                    id: r.try_get(0)?,
                    kind: r.try_get(1)?,
                    amount: r.try_get(2)?,
                    method: r.try_get(3)?,
                    reference: r.try_get(4)?,
                    created_at: r.try_get(5)?,
                })
            })
            .collect()
    }

    /// Whether a Stripe event was handled already.
    pub async fn stripe_event_seen(&self, id: &str) -> Result<bool> {
        let row: Option<String> = sqlx::query_scalar("SELECT id FROM stripe_events WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// Records a handled Stripe event (the first record of an id stays).
    pub async fn record_stripe_event(
        &self,
        id: &str,
        kind: &str,
        outcome: &str,
        now: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO stripe_events (id, kind, outcome, received_at) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(kind)
        .bind(outcome)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}
