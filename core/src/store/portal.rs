//! The client portal's reads and writes. Every read of a client's documents goes through a
//! [`ClientScope`] built from the signed-in portal user, never from an id in a URL: a
//! document of another company is simply not found.
//!
//! - A portal user is made on the first use of a magic link: the link's address becomes a
//!   verified identity of its contact, and the user belongs to that contact's company. The
//!   company's first portal user is its client admin.
//! - Clients never see drafts. A company's users see the company's documents; a contact
//!   with no company sees its own.
//! - The audit log records sign-ins, views, downloads and payments.
//!
//! One portal user per contact; a staff address is refused. A client's documents, its
//! totals per currency and its audit log are read only through a `ClientScope` built from
//! the session. The status filter and sort run on SQL that derives the shown status, held
//! equal to `portal::status` by `portal::the_database_derives_the_status_portal_derives`
//! (conformance, every backend).

use sqlx::{AssertSqlSafe, Row};

use super::MagicLink;
use super::Store;
use super::billing::{COLUMNS, Invoice, LIST_COLUMNS, invoice};
use crate::clock::Ids;
use crate::domain::{Identity, Role};
use crate::error::{Error, Result};

/// A signed-in client: who, for which contact and company, with which role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientScope {
    pub user_id: String,
    pub contact_id: String,
    pub company_id: Option<String>,
    pub role: Role,
    pub email: String,
    pub name: Option<String>,
    pub locale: String,
    /// The contact's own language (`pt-BR`), when they or the desk chose one: pages, mail
    /// and documents follow it before the browser's.
    pub language: Option<String>,
    /// The user has two-step verification (TOTP) on.
    pub two_factor: bool,
    /// The user's company requires two-step verification of all its portal users.
    pub company_requires_2fa: bool,
}

impl ClientScope {
    pub fn is_admin(&self) -> bool {
        self.role == Role::ClientAdmin
    }
}

/// How the portal lists documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentQuery {
    /// `invoice` or `estimate`.
    pub kind: String,
    /// A shown status to keep (`overdue`, `paid`, …), or none.
    pub status: Option<String>,
    /// `issued` (default), `status`, `number`, `total`, `due`.
    pub sort: String,
    pub descending: bool,
    /// From 1.
    pub page: i64,
    pub per_page: i64,
    /// Today in the business's calendar, for Overdue and Expired.
    pub today: i64,
}

/// A client's totals in one currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CurrencyTotals {
    pub currency: String,
    /// Paid to date (payments less refunds), every invoice sent.
    pub paid: i64,
    /// What is owed on open invoices (sent, viewed, partially paid, overdue).
    pub outstanding: i64,
    /// The part of `outstanding` that is past due.
    pub overdue: i64,
    pub invoices: i64,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEntry {
    pub id: String,
    pub company_id: Option<String>,
    pub contact_id: String,
    pub user_id: Option<String>,
    pub who: Option<String>,
    pub action: String,
    pub subject: Option<String>,
    pub detail: Option<String>,
    pub created_at: i64,
}

/// The status a document shows, as SQL over its stored columns (`$1` is today); it is
/// `portal::status::invoice` and `::estimate` written for the database, and the
/// conformance tests hold the two together.
pub(crate) fn shown_status_sql(today: &str) -> String {
    format!(
        "CASE WHEN kind = 'estimate' THEN \
            (CASE WHEN status = 'sent' AND due_day IS NOT NULL AND due_day < {today} THEN 'expired' ELSE status END) \
         WHEN status IN ('void', 'draft') THEN status \
         WHEN paid >= total AND total > 0 THEN 'paid' \
         WHEN due_day IS NOT NULL AND due_day < {today} AND paid < total THEN 'overdue' \
         WHEN paid > 0 THEN 'partially_paid' \
         ELSE status END"
    )
}

const SHOWN: &[&str] = &[
    "sent",
    "viewed",
    "partially_paid",
    "paid",
    "overdue",
    "void",
    "accepted",
    "declined",
    "expired",
];

/// `(clause, binds)`: the documents a client may see. `$1`, `$2` are taken.
fn scope_clause(s: &ClientScope) -> (&'static str, Vec<String>) {
    match &s.company_id {
        Some(c) => (
            "(company_id = $1 OR (company_id IS NULL AND contact_id = $2))",
            vec![c.clone(), s.contact_id.clone()],
        ),
        None => (
            "(company_id IS NULL AND contact_id = $1 AND contact_id = $2)",
            vec![s.contact_id.clone(), s.contact_id.clone()],
        ),
    }
}

pub(crate) fn client(r: &sqlx::any::AnyRow) -> Result<ClientScope> {
    let role: String = r.try_get("role")?;
    Ok(ClientScope {
        user_id: r.try_get("id")?,
        contact_id: r.try_get("contact_id")?,
        company_id: r.try_get("company_id")?,
        role: Role::parse(&role)?,
        email: r.try_get("email")?,
        name: r.try_get("name")?,
        locale: r.try_get("locale")?,
        language: r.try_get("contact_language")?,
        two_factor: r.try_get::<i64, _>("two_factor")? != 0,
        company_requires_2fa: r.try_get::<i64, _>("company_requires_2fa")? != 0,
    })
}

/// The portal scope of a row read with [`CLIENT_COLUMNS`] whatever the user is: `None`
/// for staff and for a user without a contact (what [`Store::portal_user`] filters out).
pub(crate) fn client_if_any(r: &sqlx::any::AnyRow) -> Result<Option<ClientScope>> {
    let role = Role::parse(&r.try_get::<String, _>("role")?)?;
    let contact: Option<String> = r.try_get("contact_id")?;
    if contact.is_none() || !matches!(role, Role::ClientUser | Role::ClientAdmin) {
        return Ok(None);
    }
    client(r).map(Some)
}

/// A portal user's company is its contact's, read at every request: the one source of
/// truth, so moving the contact to another company moves what its portal user sees (and
/// [`Store::set_contact_company`] ends its sessions).
pub(crate) const CLIENT_COLUMNS: &str = "users.id, users.contact_id, pc.company_id AS company_id, users.role, users.email, users.name, users.locale, pc.language AS contact_language, \
     CAST(CASE WHEN users.totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS two_factor, \
     CAST(COALESCE(companies.portal_require_2fa, 0) AS BIGINT) AS company_requires_2fa";
pub(crate) const CLIENT_FROM: &str = "users LEFT JOIN contacts pc ON pc.id = users.contact_id LEFT JOIN companies ON companies.id = pc.company_id";

/// A new portal user's row.
struct PortalUserRow<'a> {
    id: &'a str,
    email: &'a str,
    role: Role,
    contact: &'a str,
    now: i64,
    invited_by: Option<&'a str>,
}

/// Inserts a portal user unless its address or its contact has one already; whether it did.
/// Its company is its contact's (`CLIENT_FROM`): the user row keeps no copy.
async fn insert_portal_user(tx: &mut super::WriteTx, u: &PortalUserRow<'_>) -> Result<bool> {
    let done = sqlx::query(
        "INSERT INTO users (id, email, name, role, tier, company_id, contact_id, created_at, active, locale, capacity, invited_by) \
         SELECT $1, $2, c.name, $3, NULL, NULL, $4, $5, 1, 'en', 0, $6 FROM contacts c WHERE c.id = $4 \
         ON CONFLICT DO NOTHING",
    )
    .bind(u.id)
    .bind(u.email)
    .bind(u.role.as_str())
    .bind(u.contact)
    .bind(u.now)
    .bind(u.invited_by)
    .execute(&mut ***tx)
    .await?;
    Ok(done.rows_affected() == 1)
}

impl Store {
    /// The portal user a used sign-in link signs in: the portal user of the link's own
    /// address, never another's. The address becomes a verified identity of its contact
    /// (merging the contact into the one that already proved it). With no portal user
    /// yet, one is made for the address if its contact has none (the company's first is
    /// its client admin); a contact whose portal belongs to another address is refused,
    /// so a merge or a second address never opens someone else's portal. An address that
    /// belongs to a staff account is refused: a staff account is never signed in by a link.
    pub async fn portal_user_for_link(
        &self,
        ids: &Ids,
        contact_id: &str,
        email: &str,
    ) -> Result<ClientScope> {
        let identity = Identity::email(email)?;
        let existing = self.user_by_email(identity.value()).await?;
        if existing.as_ref().is_some_and(|u| u.role.is_agent()) {
            return Err(Error::Conflict(
                "this address belongs to a staff account".into(),
            ));
        }
        let contact = self.verify_identity(ids, contact_id, &identity).await?;
        if let Some(user) = existing {
            return self.own_portal_user(&user.id, &contact).await;
        }
        let company = self.contact_company(&contact).await?.flatten();
        let mut tx = self.begin_write().await?;
        let admins: i64 = match &company {
            Some(c) => {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM users u JOIN contacts c ON c.id = u.contact_id \
                     WHERE c.company_id = $1 AND u.role = 'client_admin' AND u.active = 1",
                )
                .bind(c)
                .fetch_one(&mut **tx)
                .await?
            }
            None => 1,
        };
        let role = if company.is_some() && admins == 0 {
            Role::ClientAdmin
        } else {
            Role::ClientUser
        };
        let user_id = ids.new_id();
        let inserted = insert_portal_user(
            &mut tx,
            &PortalUserRow {
                id: &user_id,
                email: identity.value(),
                role,
                contact: &contact,
                now: ids.now_ms(),
                invited_by: None,
            },
        )
        .await?;
        tx.commit().await?;
        if !inserted {
            // The contact's portal is another address's, or a racing sign-in made it.
            return match self.user_by_email(identity.value()).await? {
                Some(u) => self.own_portal_user(&u.id, &contact).await,
                None => Err(Error::Conflict(
                    "the contact's portal belongs to another address".into(),
                )),
            };
        }
        self.portal_user(&user_id)
            .await?
            .ok_or_else(|| Error::Conflict("the portal user was removed meanwhile".into()))
    }

    /// The active portal user `user_id` (the address's own), given a contact to attach
    /// it to if it has none yet.
    async fn own_portal_user(&self, user_id: &str, contact: &str) -> Result<ClientScope> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "UPDATE users SET contact_id = $1 WHERE id = $2 AND contact_id IS NULL \
             AND NOT EXISTS (SELECT 1 FROM users o WHERE o.contact_id = $1)",
        )
        .bind(contact)
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        self.portal_user(user_id)
            .await?
            .ok_or_else(|| Error::Conflict("the address's portal access was taken away".into()))
    }

    /// The portal user an invitation link signs in, joining the invited company: only an
    /// address whose contact belongs to no company (or to the inviting one already) joins,
    /// and only if the contact's portal is not another address's. The join and the new
    /// user are one transaction; nothing changes when the invitation is refused.
    pub async fn join_by_invitation(&self, ids: &Ids, link: &MagicLink) -> Result<ClientScope> {
        let refused = || Error::Conflict("this invitation cannot be used by this address".into());
        let (Some(company), Some(role)) = (link.company_id.as_deref(), link.role.as_deref()) else {
            return Err(refused());
        };
        let role = Role::parse(role)?;
        if !matches!(role, Role::ClientUser | Role::ClientAdmin) {
            return Err(refused());
        }
        let identity = Identity::email(&link.email)?;
        let existing = self.user_by_email(identity.value()).await?;
        if existing.as_ref().is_some_and(|u| u.role.is_agent()) {
            return Err(refused());
        }
        // Whose the address is, before proving it: another company's contact stays theirs.
        let owner = match self.contact_for_identity(&identity).await? {
            Some(o) => o,
            None => self.surviving_contact(&link.contact_id).await?,
        };
        let owner_company = self.contact_company(&owner).await?.flatten();
        if owner_company.as_deref().is_some_and(|c| c != company) {
            return Err(refused());
        }
        if let Some(user) = &existing {
            // Already a portal user: signed in if it is this company's, else refused.
            let scope = self.portal_user(&user.id).await?.ok_or_else(refused)?;
            return if scope.company_id.as_deref() == Some(company) {
                Ok(scope)
            } else {
                Err(refused())
            };
        }
        let contact = self
            .verify_identity(ids, &link.contact_id, &identity)
            .await?;
        let now = ids.now_ms();
        let user_id = ids.new_id();
        let mut tx = self.begin_write().await?;
        let joined = sqlx::query(
            "UPDATE contacts SET company_id = $1 WHERE id = $2 AND (company_id IS NULL OR company_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM users WHERE contact_id = $2)",
        )
        .bind(company)
        .bind(&contact)
        .execute(&mut **tx)
        .await?;
        if joined.rows_affected() == 0 {
            return Err(refused());
        }
        sqlx::query(
            "UPDATE conversations SET company_id = $1 WHERE contact_id = $2 AND company_id IS NULL",
        )
        .bind(company)
        .bind(&contact)
        .execute(&mut **tx)
        .await?;
        let inserted = insert_portal_user(
            &mut tx,
            &PortalUserRow {
                id: &user_id,
                email: identity.value(),
                role,
                contact: &contact,
                now,
                invited_by: link.invited_by.as_deref(),
            },
        )
        .await?;
        if !inserted {
            return Err(refused());
        }
        tx.commit().await?;
        self.portal_user(&user_id)
            .await?
            .ok_or_else(|| Error::Conflict("the portal user was removed meanwhile".into()))
    }

    /// The portal user behind a session's user id; `None` for agents and deactivated users.
    pub async fn portal_user(&self, user_id: &str) -> Result<Option<ClientScope>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM {CLIENT_FROM} WHERE users.id = $1 AND users.active = 1 AND users.contact_id IS NOT NULL AND users.role IN ('client_user', 'client_admin')"
        )))
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client).transpose()
    }

    /// The contact a sign-in link may be mailed to for this address: the contact that
    /// proved it, else the one whose portal user has it. `None` when nobody has it (the
    /// page answers the same either way).
    pub async fn contact_for_portal_email(&self, email: &str) -> Result<Option<String>> {
        let Ok(identity) = Identity::email(email) else {
            return Ok(None);
        };
        if let Some(c) = self.contact_for_identity(&identity).await? {
            return Ok(Some(c));
        }
        let row: Option<Option<String>> = sqlx::query_scalar(
            "SELECT contact_id FROM users WHERE email = $1 AND active = 1 AND role IN ('client_user', 'client_admin')",
        )
        .bind(identity.value())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.flatten())
    }

    /// A page of the client's documents and how many there are in all.
    pub async fn client_documents(
        &self,
        scope: &ClientScope,
        q: &DocumentQuery,
    ) -> Result<(Vec<Invoice>, i64)> {
        if !matches!(q.kind.as_str(), "invoice" | "estimate") {
            return Err(Error::invalid("documents are invoices or estimates"));
        }
        if let Some(s) = &q.status
            && !SHOWN.contains(&s.as_str())
        {
            return Err(Error::invalid(format!("no status {s:?}")));
        }
        let (clause, binds) = scope_clause(scope);
        let shown = shown_status_sql("$4");
        let order = match q.sort.as_str() {
            "status" => "shown",
            "number" => "number",
            "total" => "total",
            "due" => "due_day",
            _ => "issue_day",
        };
        let dir = if q.descending { "DESC" } else { "ASC" };
        let filter = if q.status.is_some() {
            "AND shown = $5"
        } else {
            "AND $5 = $5"
        };
        let per_page = q.per_page.clamp(1, 200);
        let offset = (q.page.max(1) - 1).saturating_mul(per_page);
        // One query: the page, and how many there are in all (a window over the filter).
        let sql = format!(
            "SELECT *, CAST(COUNT(*) OVER () AS BIGINT) AS matching FROM (SELECT {LIST_COLUMNS}, {shown} AS shown FROM invoices WHERE {clause} AND kind = $3 AND status <> 'draft') d \
             WHERE 1 = 1 {filter} ORDER BY {order} {dir}, id {dir} LIMIT {per_page} OFFSET {offset}"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query
            .bind(&q.kind)
            .bind(q.today)
            .bind(q.status.as_deref().unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        let docs = rows.iter().map(invoice).collect::<Result<Vec<_>>>()?;
        if let Some(first) = rows.first() {
            let total: i64 = first.try_get("matching")?;
            return Ok((docs, total));
        }
        // A page past the end: count on its own.
        let count_sql = format!(
            "SELECT COUNT(*) FROM (SELECT {shown} AS shown FROM invoices WHERE {clause} AND kind = $3 AND status <> 'draft') d WHERE 1 = 1 {filter}"
        );
        let mut count = sqlx::query_scalar::<_, i64>(AssertSqlSafe(count_sql));
        for b in &binds {
            count = count.bind(b);
        }
        let total = count
            .bind(&q.kind)
            .bind(q.today)
            .bind(q.status.as_deref().unwrap_or(""))
            .fetch_one(&self.pool)
            .await?;
        Ok((docs, total))
    }

    /// The client's lifetime totals, per currency.
    pub async fn client_totals(
        &self,
        scope: &ClientScope,
        today: i64,
    ) -> Result<Vec<CurrencyTotals>> {
        let (clause, binds) = scope_clause(scope);
        let sql = format!(
            "SELECT currency, CAST(SUM(paid) AS BIGINT), \
             CAST(SUM(CASE WHEN status <> 'void' AND paid < total THEN total - paid ELSE 0 END) AS BIGINT), \
             CAST(SUM(CASE WHEN status <> 'void' AND paid < total AND due_day IS NOT NULL AND due_day < $3 THEN total - paid ELSE 0 END) AS BIGINT), \
             CAST(COUNT(*) AS BIGINT) \
             FROM invoices WHERE {clause} AND kind = 'invoice' AND status <> 'draft' GROUP BY currency ORDER BY currency"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(today).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(CurrencyTotals {
                    currency: r.try_get(0)?,
                    paid: r.try_get(1)?,
                    outstanding: r.try_get(2)?,
                    overdue: r.try_get(3)?,
                    invoices: r.try_get(4)?,
                })
            })
            .collect()
    }

    /// One of the client's documents by its number; `None` when it is not theirs, a
    /// draft, or does not exist (the three look alike).
    pub async fn client_document(
        &self,
        scope: &ClientScope,
        kind: &str,
        number: &str,
    ) -> Result<Option<Invoice>> {
        let (clause, binds) = scope_clause(scope);
        let sql = format!(
            "SELECT {COLUMNS} FROM invoices WHERE {clause} AND kind = $3 AND number = $4 AND status <> 'draft'"
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b);
        }
        let row = query
            .bind(kind)
            .bind(number)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(invoice).transpose()
    }

    /// The client's documents with these numbers, in the order asked; numbers that are
    /// not theirs are left out.
    pub async fn client_documents_by_number(
        &self,
        scope: &ClientScope,
        numbers: &[String],
    ) -> Result<Vec<Invoice>> {
        let mut out = Vec::with_capacity(numbers.len());
        for chunk in numbers.chunks(200) {
            let (clause, binds) = scope_clause(scope);
            let placeholders: Vec<String> =
                (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            let sql = format!(
                "SELECT {COLUMNS} FROM invoices WHERE {clause} AND kind = 'invoice' AND status <> 'draft' AND number IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for b in &binds {
                query = query.bind(b);
            }
            for n in chunk {
                query = query.bind(n);
            }
            for r in query.fetch_all(&self.pool).await? {
                out.push(invoice(&r)?);
            }
        }
        let order: std::collections::HashMap<&str, usize> = numbers
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        out.sort_by_key(|d| order.get(d.number.as_str()).copied().unwrap_or(usize::MAX));
        out.dedup_by(|a, b| a.id == b.id);
        Ok(out)
    }

    /// Marks a sent invoice Viewed (the first time only). True when this call did it.
    pub async fn mark_invoice_viewed(&self, id: &str, now: i64) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE invoices SET status = 'viewed', viewed_at = $1, updated_at = $1 WHERE id = $2 AND kind = 'invoice' AND status = 'sent'",
        )
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(r.rows_affected() == 1)
    }

    /// Moves a document's stored status from one of `from` to `to`; a document in any
    /// other status is a conflict, and nothing changes.
    pub async fn set_document_status(
        &self,
        id: &str,
        from: &[&str],
        to: &str,
        now: i64,
    ) -> Result<Invoice> {
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 4)).collect();
        let sent = if to == "sent" {
            ", sent_at = COALESCE(sent_at, $1)"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE invoices SET status = $2, updated_at = $1{sent} WHERE id = $3 AND status IN ({})",
            placeholders.join(", ")
        );
        let mut tx = self.begin_write().await?;
        let mut query = sqlx::query(AssertSqlSafe(sql)).bind(now).bind(to).bind(id);
        for f in from {
            query = query.bind(*f);
        }
        let r = query.execute(&mut **tx).await?;
        tx.commit().await?;
        let doc = self.invoice(id).await?;
        if r.rows_affected() == 0 && doc.status != to {
            return Err(Error::Conflict(format!(
                "{} {} is {}",
                doc.kind, doc.number, doc.status
            )));
        }
        Ok(doc)
    }

    /// Replaces a draft's document and totals. Sent documents are not edited.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_draft(
        &self,
        id: &str,
        document: &str,
        subtotal: i64,
        tax: i64,
        total: i64,
        currency: &str,
        issue_day: i64,
        due_day: Option<i64>,
        now: i64,
    ) -> Result<Invoice> {
        crate::money::Money::new(total, currency)?;
        let mut tx = self.begin_write().await?;
        let r = sqlx::query(
            "UPDATE invoices SET document = $1, subtotal = $2, tax = $3, total = $4, currency = $5, issue_day = $6, due_day = $7, updated_at = $8 \
             WHERE id = $9 AND status = 'draft'",
        )
        .bind(document)
        .bind(subtotal)
        .bind(tax)
        .bind(total)
        .bind(currency)
        .bind(issue_day)
        .bind(due_day)
        .bind(now)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        if r.rows_affected() == 0 {
            let doc = self.invoice(id).await?;
            return Err(Error::Conflict(format!(
                "{} {} was sent: it can no longer be edited",
                doc.kind, doc.number
            )));
        }
        self.invoice(id).await
    }

    /// Remembers the conversation a document's card is in.
    pub async fn set_document_conversation(&self, id: &str, conversation_id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("UPDATE invoices SET conversation_id = $1 WHERE id = $2")
            .bind(conversation_id)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A document by its kind and number, for agents.
    pub async fn document_by_number(&self, kind: &str, number: &str) -> Result<Invoice> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM invoices WHERE kind = $1 AND number = $2"
        )))
        .bind(kind)
        .bind(number)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| Error::not_found(format!("{kind} {number}")))?;
        invoice(&row)
    }

    /// Documents for the agents' billing pages: newest first, optionally one company's
    /// or one shown status's.
    pub async fn documents(
        &self,
        kind: &str,
        company_id: Option<&str>,
        status: Option<&str>,
        today: i64,
        limit: i64,
    ) -> Result<Vec<Invoice>> {
        let shown = shown_status_sql("$2");
        let sql = format!(
            "SELECT * FROM (SELECT {COLUMNS}, {shown} AS shown FROM invoices WHERE kind = $1) d \
             WHERE ($3 = '' OR company_id = $3) AND ($4 = '' OR shown = $4) ORDER BY issue_day DESC, id DESC LIMIT {}",
            limit.clamp(1, 1000)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(kind)
            .bind(today)
            .bind(company_id.unwrap_or(""))
            .bind(status.unwrap_or(""))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(invoice).collect()
    }

    /// A contact's company: `None` when there is no such contact, `Some(None)` when it
    /// belongs to none.
    pub async fn contact_company(&self, contact_id: &str) -> Result<Option<Option<String>>> {
        Ok(sqlx::query_scalar(
            "SELECT company_id FROM contacts WHERE id = $1 AND merged_into IS NULL",
        )
        .bind(contact_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// A company's name.
    pub async fn company_name(&self, id: &str) -> Result<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT name FROM companies WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Adds a line to the audit log.
    #[allow(clippy::too_many_arguments)]
    pub async fn audit(
        &self,
        ids: &Ids,
        company_id: Option<&str>,
        contact_id: &str,
        user_id: Option<&str>,
        action: &str,
        subject: Option<&str>,
        detail: Option<&str>,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO portal_audit (id, company_id, contact_id, user_id, action, subject, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(ids.new_id())
        .bind(company_id)
        .bind(contact_id)
        .bind(user_id)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .bind(ids.now_ms())
        .execute(&mut **tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit log a client may read: a client admin the company's, a client user its
    /// own; newest first.
    pub async fn client_audit_log(
        &self,
        scope: &ClientScope,
        limit: i64,
    ) -> Result<Vec<AuditEntry>> {
        let (clause, bind) = match (&scope.company_id, scope.is_admin()) {
            (Some(c), true) => ("a.company_id = $1", c.clone()),
            _ => ("a.contact_id = $1", scope.contact_id.clone()),
        };
        self.audit_rows(clause, &bind, limit).await
    }

    /// The audit log of one company (or, with `None`, every entry), for agents.
    pub async fn audit_log(&self, company_id: Option<&str>, limit: i64) -> Result<Vec<AuditEntry>> {
        match company_id {
            Some(c) => self.audit_rows("a.company_id = $1", c, limit).await,
            None => self.audit_rows("$1 = $1", "", limit).await,
        }
    }

    async fn audit_rows(&self, clause: &str, bind: &str, limit: i64) -> Result<Vec<AuditEntry>> {
        let sql = format!(
            "SELECT a.id, a.company_id, a.contact_id, a.user_id, u.email, a.action, a.subject, a.detail, a.created_at \
             FROM portal_audit a LEFT JOIN users u ON u.id = a.user_id WHERE {clause} ORDER BY a.created_at DESC, a.id DESC LIMIT {}",
            limit.clamp(1, 1000)
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(bind)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0)?,
                    company_id: r.try_get(1)?,
                    contact_id: r.try_get(2)?,
                    user_id: r.try_get(3)?,
                    who: r.try_get(4)?,
                    action: r.try_get(5)?,
                    subject: r.try_get(6)?,
                    detail: r.try_get(7)?,
                    created_at: r.try_get(8)?,
                })
            })
            .collect()
    }
}
