//! Every action of the agent inbox over the JSON API: the list and its counts, assignment,
//! status, priority, tiers, labels, notes, merges, bulk changes, saved replies,
//! notifications, the dashboard and users. Each goes through the same store and workflow
//! checks as the pages (scope first, then the body).

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_core::changes::Change;
use switchboard_core::domain::{Priority, Role, Status, Tier};
use switchboard_core::store::{CannedInput, ListFilter, ListQuery, SortBy, View};

use crate::kit::AppState;
use crate::kit::api::{Agent, body};
use crate::kit::error::ApiError;

type Reply = Result<Json<Value>, ApiError>;

/// Supervisors read everything and change nothing; checked before a body is read.
fn writer(role: Role) -> Result<(), ApiError> {
    if role.can_reply() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!("a {role} cannot change this")))
    }
}

pub(crate) fn require(caller_role: Role, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&caller_role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "a {caller_role} cannot do this"
        )))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboxQuery {
    view: Option<String>,
    status: Option<String>,
    channel: Option<String>,
    priority: Option<String>,
    label: Option<String>,
    company_id: Option<String>,
    assignee_id: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    after: Option<String>,
    limit: Option<i64>,
}

/// A page of a view, with filters, sort, search and a cursor for the next page.
pub async fn inbox(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    query: Result<Query<InboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(q) = query.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let statuses = match q.status.as_deref() {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(Status::parse)
            .collect::<switchboard_core::Result<Vec<_>>>()?,
    };
    let query = ListQuery {
        view: match q.view.as_deref() {
            Some(v) => View::parse(v)?,
            None if user.role == Role::Support => View::Mine,
            None => View::All,
        },
        filter: ListFilter {
            statuses,
            channel: q
                .channel
                .as_deref()
                .map(switchboard_core::domain::Channel::parse)
                .transpose()?,
            priority: q.priority.as_deref().map(Priority::parse).transpose()?,
            label: q.label,
            company_id: q.company_id,
            assignee_id: q.assignee_id,
            search: q.q,
        },
        sort: q
            .sort
            .as_deref()
            .map(SortBy::parse)
            .transpose()?
            .unwrap_or_default(),
        after: q.after,
        limit: q.limit.unwrap_or(50),
    };
    let page = state.store.inbox_list(&caller, &query).await?;
    Ok(Json(json!({ "items": page.items, "next": page.next })))
}

/// Each view's unresolved and unread conversations.
pub async fn counts(State(state): State<AppState>, Agent(_, caller): Agent) -> Reply {
    Ok(Json(
        json!({ "views": state.store.inbox_counts(&caller).await? }),
    ))
}

/// Reads a JSON body only after the scope check passed, so a conversation out of reach is
/// "not found" whatever the body says.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    assignee_id: Option<String>,
    version: Option<i64>,
}

pub async fn assign(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<AssignBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let c = state
        .workflow
        .assign(&caller, &id, b.assignee_id.as_deref(), b.version)
        .await?;
    Ok(Json(json!({ "conversation": c })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    status: String,
    /// For `snoozed`: when it opens again (epoch ms).
    until: Option<i64>,
    version: Option<i64>,
}

pub async fn status(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<StatusBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let status = Status::parse(&b.status)?;
    let c = match (status, b.until) {
        (Status::Snoozed, Some(until)) => {
            state
                .workflow
                .snooze(&caller, &id, until, b.version)
                .await?
        }
        (Status::Snoozed, None) => {
            return Err(ApiError::Invalid("a snooze needs `until`".into()));
        }
        (s, _) => {
            state
                .workflow
                .change(&caller, &id, &Change::Status(s), b.version)
                .await?
        }
    };
    Ok(Json(json!({ "conversation": c })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityBody {
    priority: String,
    version: Option<i64>,
}

pub async fn priority(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<PriorityBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let c = state
        .workflow
        .change(
            &caller,
            &id,
            &Change::Priority(Priority::parse(&b.priority)?),
            b.version,
        )
        .await?;
    Ok(Json(json!({ "conversation": c })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierBody {
    /// `up` (escalate) or `down` (de-escalate).
    direction: String,
    reason: String,
    version: Option<i64>,
}

pub async fn tier(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<TierBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let c = match b.direction.as_str() {
        "up" => {
            state
                .workflow
                .escalate(&caller, &id, &b.reason, b.version)
                .await?
        }
        "down" => {
            state
                .workflow
                .de_escalate(&caller, &id, &b.reason, b.version)
                .await?
        }
        _ => return Err(ApiError::Invalid("direction must be up or down".into())),
    };
    Ok(Json(json!({ "conversation": c })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamBody {
    team: Option<String>,
    tier: Option<String>,
    version: Option<i64>,
}

/// Moves a conversation to a team (or none) and, optionally, sets its tier directly.
pub async fn team(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<TeamBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    // Everything is checked before anything is written: a tier here is refused whole
    // (it changes by escalating, with a reason), never after the team has moved.
    if let Some(t) = &b.tier {
        Tier::parse(t)?;
        return Err(switchboard_core::Error::invalid(
            "the tier changes by escalating or de-escalating, with a reason (POST /conversations/{id}/tier)",
        )
        .into());
    }
    let c = state
        .workflow
        .change(&caller, &id, &Change::Team(b.team), b.version)
        .await?;
    Ok(Json(json!({ "conversation": c })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelsBody {
    labels: Vec<String>,
    version: Option<i64>,
}

pub async fn labels(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<LabelsBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let c = state
        .workflow
        .change(&caller, &id, &Change::Labels(b.labels), b.version)
        .await?;
    Ok(Json(json!({ "conversation": c })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    text: String,
}

/// An internal note; `@name` mentions notify those agents.
pub async fn note(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<NoteBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let m = state.workflow.add_note(&caller, &id, &b.text).await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "message": m })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeBody {
    into: String,
}

/// Merges this conversation into another of the same contact.
pub async fn merge_conversation(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<MergeBody>, JsonRejection>,
) -> Reply {
    state.workflow.writable(&caller, &id).await?;
    let b = body(b)?;
    let c = state
        .workflow
        .merge_conversations(&caller, &id, &b.into)
        .await?;
    Ok(Json(json!({ "conversation": c })))
}

/// Merges this contact into another: identities, conversations and history move.
pub async fn merge_contact(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<MergeBody>, JsonRejection>,
) -> Reply {
    writer(user.role)?;
    let b = body(b)?;
    let merged = state.workflow.merge_contacts(&caller, &id, &b.into).await?;
    Ok(Json(
        json!({ "survivor": merged.survivor, "merged": merged.merged, "moved_conversations": merged.conversations }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailPreferencesBody {
    #[serde(default)]
    language: Option<String>,
    notices: bool,
}

/// Sets a contact's mail language and whether they get status notices by email.
pub async fn contact_email_preferences(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<MailPreferencesBody>, JsonRejection>,
) -> Reply {
    writer(user.role)?;
    let b = body(b)?;
    let (language, notices) = state
        .workflow
        .set_contact_mail_preferences(&caller, &id, b.language.as_deref(), b.notices)
        .await?;
    Ok(Json(
        json!({ "contact_id": id, "language": language, "notices": notices }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeChannelBody {
    channel: String,
}

/// Sets the channel a contact's notices go by: `email` or `whatsapp`.
pub async fn contact_notice_channel(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<NoticeChannelBody>, JsonRejection>,
) -> Reply {
    writer(user.role)?;
    let b = body(b)?;
    let channel = state
        .workflow
        .set_contact_notice_channel(&caller, &id, &b.channel)
        .await?;
    Ok(Json(json!({ "contact_id": id, "channel": channel })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    ids: Vec<String>,
    status: Option<String>,
    assignee_id: Option<String>,
    #[serde(default)]
    unassign: bool,
    priority: Option<String>,
    labels: Option<Vec<String>>,
}

/// The same change on many conversations; each reports its own outcome.
pub async fn bulk(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    b: Result<Json<BulkBody>, JsonRejection>,
) -> Reply {
    if !user.role.can_reply() {
        return Err(ApiError::Forbidden(format!(
            "a {} cannot change conversations",
            user.role
        )));
    }
    let b = body(b)?;
    let change = match (b.status, b.assignee_id, b.unassign, b.priority, b.labels) {
        (Some(s), None, false, None, None) => Change::Status(Status::parse(&s)?),
        (None, Some(a), false, None, None) => Change::Assignee(Some(a)),
        (None, None, true, None, None) => Change::Assignee(None),
        (None, None, false, Some(p), None) => Change::Priority(Priority::parse(&p)?),
        (None, None, false, None, Some(l)) => Change::Labels(l),
        _ => {
            return Err(ApiError::Invalid(
                "give exactly one of status, assignee_id, unassign, priority, labels".into(),
            ));
        }
    };
    let results = state.workflow.bulk(&caller, &b.ids, &change).await?;
    let out: Vec<Value> = results
        .into_iter()
        .map(|r| match r.outcome {
            Ok(c) => json!({ "id": r.conversation_id, "ok": true, "version": c.version }),
            Err(e) => {
                let e = ApiError::from(e);
                json!({ "id": r.conversation_id, "ok": false, "error": { "code": e.code().1, "message": e.to_string() } })
            }
        })
        .collect();
    Ok(Json(json!({ "results": out })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedQuery {
    locale: Option<String>,
}

pub async fn canned_list(
    State(state): State<AppState>,
    Agent(..): Agent,
    Query(q): Query<CannedQuery>,
) -> Reply {
    Ok(Json(
        json!({ "canned_responses": state.store.canned_responses(q.locale.as_deref()).await? }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CannedBody {
    shortcut: String,
    locale: String,
    title: String,
    body: String,
}

impl From<CannedBody> for CannedInput {
    fn from(b: CannedBody) -> Self {
        CannedInput {
            shortcut: b.shortcut,
            locale: b.locale,
            title: b.title,
            body: b.body,
        }
    }
}

pub async fn canned_create(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    b: Result<Json<CannedBody>, JsonRejection>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    writer(user.role)?;
    let b = body(b)?;
    let c = state
        .store
        .create_canned(&state.ids, &caller, &b.into())
        .await?;
    Ok((
        axum::http::StatusCode::CREATED,
        Json(json!({ "canned_response": c })),
    ))
}

pub async fn canned_update(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
    b: Result<Json<CannedBody>, JsonRejection>,
) -> Reply {
    writer(user.role)?;
    state.store.canned_response(&id).await?;
    let b = body(b)?;
    let c = state
        .store
        .update_canned(&state.ids, &caller, &id, &b.into())
        .await?;
    Ok(Json(json!({ "canned_response": c })))
}

pub async fn canned_delete(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Path(id): Path<String>,
) -> Result<axum::http::StatusCode, ApiError> {
    writer(user.role)?;
    state.store.delete_canned(&caller, &id).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationsQuery {
    #[serde(default)]
    unread: bool,
}

pub async fn notifications(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    Query(q): Query<NotificationsQuery>,
) -> Reply {
    Ok(Json(
        json!({ "notifications": state.workflow.notifications(&caller, q.unread).await? }),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    ids: Option<Vec<String>>,
}

pub async fn notifications_read(
    State(state): State<AppState>,
    Agent(_, caller): Agent,
    b: Result<Json<ReadBody>, JsonRejection>,
) -> Reply {
    let b = body(b)?;
    let n = state
        .workflow
        .mark_notifications_read(&caller, b.ids.as_deref())
        .await?;
    Ok(Json(json!({ "marked": n })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DashboardQuery {
    days: Option<i64>,
}

pub async fn dashboard(
    State(state): State<AppState>,
    Agent(user, caller): Agent,
    Query(q): Query<DashboardQuery>,
) -> Reply {
    require(
        user.role,
        &[Role::Admin, Role::Supervisor, Role::Coordinator],
    )?;
    let d = state
        .workflow
        .dashboard(&caller, state.ids.now_ms(), q.days.unwrap_or(14))
        .await?;
    Ok(Json(json!({ "dashboard": d })))
}
