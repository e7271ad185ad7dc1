//! Decoding rows into domain types. Columns are read by name so a query's column order
//! does not matter.

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::domain::{
    Attachment, AuthorKind, Channel, Conversation, DeliveryState, Direction, Message, Priority,
    Role, Status, Tier, User,
};
use crate::error::Result;
use crate::html::SanitizedHtml;

pub(crate) const CONVERSATION_COLUMNS: &str = "id, number, inbox, channel, contact_id, company_id, thread_key, subject, status, priority, tier, assignee_id, team, labels, bot_active, created_at, updated_at, last_message_at, version, snoozed_until";

/// A user's columns, named through the `users` table so they also serve joins. Whether
/// TOTP is on is computed, so the secret itself never leaves the store.
pub(crate) const USER_COLUMNS: &str = "users.id, users.email, users.name, users.role, users.tier, users.created_at, users.active, users.locale, users.capacity, CAST(CASE WHEN users.totp_secret IS NULL THEN 0 ELSE 1 END AS BIGINT) AS totp_enabled";

pub(crate) const MESSAGE_COLUMNS: &str = "id, conversation_id, direction, author_kind, author_id, channel, text, full_text, html, attachments, content, delivery_state, last_error, delivery_detail, external_id, created_at, internal";

pub(crate) fn conversation(row: &AnyRow) -> Result<Conversation> {
    let labels: String = row.try_get("labels")?;
    Ok(Conversation {
        id: row.try_get("id")?,
        number: row.try_get("number")?,
        inbox: row.try_get("inbox")?,
        channel: Channel::parse(&row.try_get::<String, _>("channel")?)?,
        contact_id: row.try_get("contact_id")?,
        company_id: row.try_get("company_id")?,
        thread_key: row.try_get("thread_key")?,
        subject: row.try_get("subject")?,
        status: Status::parse(&row.try_get::<String, _>("status")?)?,
        priority: Priority::parse(&row.try_get::<String, _>("priority")?)?,
        tier: Tier::parse(&row.try_get::<String, _>("tier")?)?,
        assignee_id: row.try_get("assignee_id")?,
        team: row.try_get("team")?,
        labels: serde_json::from_str(&labels)?,
        bot_active: row.try_get::<i64, _>("bot_active")? != 0,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        last_message_at: row.try_get("last_message_at")?,
        version: row.try_get("version")?,
        snoozed_until: row.try_get("snoozed_until")?,
    })
}

pub(crate) fn message(row: &AnyRow) -> Result<Message> {
    let attachments: String = row.try_get("attachments")?;
    let attachments: Vec<Attachment> = serde_json::from_str(&attachments)?;
    let html: Option<String> = row.try_get("html")?;
    let content: Option<String> = row.try_get("content")?;
    Ok(Message {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        direction: Direction::parse(&row.try_get::<String, _>("direction")?)?,
        author_kind: AuthorKind::parse(&row.try_get::<String, _>("author_kind")?)?,
        author_id: row.try_get("author_id")?,
        channel: Channel::parse(&row.try_get::<String, _>("channel")?)?,
        text: row.try_get("text")?,
        full_text: row.try_get("full_text")?,
        // Stored sanitized; sanitizing again on the way out keeps the type's promise even
        // for rows written by hand.
        html: html.as_deref().map(SanitizedHtml::sanitize),
        attachments,
        content: content.as_deref().map(serde_json::from_str).transpose()?,
        delivery_state: DeliveryState::parse(&row.try_get::<String, _>("delivery_state")?)?,
        delivery_error: row.try_get("last_error")?,
        delivery_detail: row
            .try_get::<Option<String>, _>("delivery_detail")?
            .and_then(|d| serde_json::from_str(&d).ok()),
        external_id: row.try_get("external_id")?,
        created_at: row.try_get("created_at")?,
        internal: row.try_get::<i64, _>("internal")? != 0,
    })
}

pub(crate) fn user(row: &AnyRow) -> Result<User> {
    let tier: Option<String> = row.try_get("tier")?;
    Ok(User {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(&row.try_get::<String, _>("role")?)?,
        tier: tier.as_deref().map(Tier::parse).transpose()?,
        created_at: row.try_get("created_at")?,
        active: row.try_get::<i64, _>("active")? != 0,
        locale: row.try_get("locale")?,
        capacity: row.try_get("capacity")?,
        totp_enabled: row.try_get::<i64, _>("totp_enabled")? != 0,
    })
}

/// Typed rows: `sqlx::query_as::<_, Conversation>(…)` reads a row straight into the domain
/// type, with the same checks (a status or channel the code does not know is an error,
/// not a silent default).
macro_rules! from_row {
    ($($ty:ty => $f:ident),+ $(,)?) => {
        $(
            impl<'r> sqlx::FromRow<'r, AnyRow> for $ty {
                fn from_row(row: &'r AnyRow) -> std::result::Result<Self, sqlx::Error> {
                    $f(row).map_err(|e| match e {
                        crate::error::Error::Db(e) => e,
                        other => sqlx::Error::Decode(Box::new(other)),
                    })
                }
            }
        )+
    };
}

from_row!(Conversation => conversation, Message => message, User => user);
