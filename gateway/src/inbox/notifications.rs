//! The agent's notifications (`/notifications`): mentions, conversations assigned, a
//! client's message on one's own conversation, an SLA target missed, a survey answered,
//! newest first, unread ones marked; one button marks them all read. Each event notifies
//! a user once (`Store::add_notifications_once`); the rail shows the unread count.
//!
//! Tests: e2e `inbox::an_agent_hears_of_replies_breaches_and_surveys_once`, the sweep
//! `inbox::every_route_keeps_to_the_callers_scope_*`, browser `inbox.test.mjs`.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use switchboard_core::store::NotificationKind;

use crate::kit::AppState;
use crate::kit::page::{Page, WebError, render};
use crate::kit::session::WebAgent;

pub struct Row {
    pub text: String,
    pub href: String,
    pub when: String,
    pub when_title: String,
    pub icon: &'static str,
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    p: Page,
    rows: Vec<Row>,
    unread: i64,
}

fn words(kind: NotificationKind) -> (&'static str, &'static str) {
    match kind {
        NotificationKind::Mention => ("notif-mention", "i-note"),
        NotificationKind::Assigned => ("notif-assigned", "i-user"),
        NotificationKind::Reply => ("notif-reply", "i-chat"),
        NotificationKind::Breach => ("notif-breach", "i-alert"),
        NotificationKind::Survey => ("notif-survey", "i-check"),
    }
}

/// `GET /notifications`.
pub async fn page(State(state): State<AppState>, agent: WebAgent) -> Result<Response, WebError> {
    let t = agent.tr;
    let now = state.ids.now_ms();
    let list = state.workflow.notifications(&agent.caller, false).await?;
    let cal = crate::kit::visits::calendar(&state);
    let unread = list.iter().filter(|n| n.read_at.is_none()).count() as i64;
    let rows = list
        .iter()
        .map(|n| {
            let (key, icon) = words(n.kind);
            Row {
                text: t.t1(key, "n", n.conversation_number),
                href: format!("/conversations/{}", n.conversation_number),
                when: t.relative(n.created_at - now),
                when_title: crate::kit::visits::moment(
                    &cal,
                    n.created_at,
                    switchboard_portal::locale::Lang::from_tag(t.lang()),
                ),
                icon,
                unread: n.read_at.is_none(),
            }
        })
        .collect();
    let p = Page::agent(&state, &agent, t.t("notif-title"), "notifications").await?;
    Ok(render(&NotificationsPage { p, rows, unread }))
}

/// `POST /notifications/read`: every notification of the agent's read.
pub async fn read_all(
    State(state): State<AppState>,
    agent: WebAgent,
) -> Result<Response, WebError> {
    state
        .workflow
        .mark_notifications_read(&agent.caller, None)
        .await?;
    Ok(Redirect::to("/notifications").into_response())
}
