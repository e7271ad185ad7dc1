//! Surveys for every surface: made when a request is resolved (a `StatusNotices` hook) or
//! a visit is done, once per subject; shown as a card in the conversation; sent to the
//! client as a notice on the channel they used (a mail with the link, a WhatsApp
//! message, a banner on the portal's home); answered through the link, where a GET only
//! shows the survey and only a POST records, one answer kept and changeable for a day.
//!
//! Tests: conformance `surveys.rs`, e2e `surveys.rs`, browser `portal.test.mjs`.

use serde_json::json;
use switchboard_core::domain::{CardPayload, Channel, Conversation, Status};
use switchboard_core::store::{NewSurvey, Survey};
use switchboard_portal::surveys::{OPEN_MS, survey_words};

use crate::kit::AppState;

/// Makes the survey of a subject and announces it: the card, the client's notice.
async fn make(
    store: &switchboard_core::store::Store,
    realtime: &std::sync::Arc<dyn switchboard_core::realtime::Realtime>,
    ids: &switchboard_core::clock::Ids,
    new: &NewSurvey<'_>,
) {
    let made = match store.create_survey(ids, new).await {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(subject = new.subject, error = %e, "survey not made");
            return;
        }
    };
    if let Some(conversation) = &made.conversation_id {
        let lang = switchboard_portal::locale::Lang::from_tag(&made.lang);
        let payload = CardPayload::Survey {
            id: made.id.clone(),
            question: survey_words(lang).title.to_owned(),
            scale: 5,
            answer: None,
        };
        if let Err(e) =
            switchboard_core::cards::show(store, realtime, ids, conversation, payload).await
        {
            tracing::warn!(survey = %made.id, error = %e, "survey card not posted");
        }
    }
    crate::kit::notify::record_in(
        store,
        ids,
        crate::kit::notify::Happened {
            contact_id: made.contact_id.clone(),
            company_id: made.company_id.clone(),
            kind: "survey_waiting",
            event: format!("survey:{}", made.id),
            params: json!({"n": made.number, "channel": made.channel}),
            link: format!("/survey/{}", made.token),
            sent_by: None,
        },
    )
    .await;
}

/// Where a conversation's survey goes: the channel the client wrote on.
fn channel_of(c: &Conversation) -> Option<&'static str> {
    match c.channel {
        Channel::Email => Some("email"),
        Channel::Whatsapp => Some("whatsapp"),
        Channel::Portal => Some("portal"),
        // A chat on a web page has no way back to its visitor once it closes.
        Channel::Webchat | Channel::Api => None,
    }
}

/// Makes a request's survey when its conversation is resolved.
#[derive(Debug)]
pub struct Surveys {
    pub store: switchboard_core::store::Store,
    pub realtime: std::sync::Arc<dyn switchboard_core::realtime::Realtime>,
    pub ids: switchboard_core::clock::Ids,
}

#[async_trait::async_trait]
impl switchboard_core::workflow::StatusNotices for Surveys {
    async fn status_changed(&self, before: &Conversation, after: &Conversation) {
        if after.status != Status::Resolved || before.status == Status::Resolved {
            return;
        }
        let Some(channel) = channel_of(after) else {
            return;
        };
        let lang = match self.store.contact_mail_preferences(&after.contact_id).await {
            Ok((Some(l), _)) => l,
            _ => "en".to_owned(),
        };
        let subject = format!("conversation:{}", after.id);
        let new = NewSurvey {
            subject: &subject,
            contact_id: &after.contact_id,
            company_id: after.company_id.as_deref(),
            conversation_id: Some(&after.id),
            visit_id: None,
            number: after.number,
            agent_id: after.assignee_id.as_deref(),
            technician_id: None,
            team: after.team.as_deref(),
            channel,
            lang: &lang,
            expires_at: self.ids.now_ms() + OPEN_MS,
        };
        make(&self.store, &self.realtime, &self.ids, &new).await;
    }
}

/// Makes a finished visit's survey, for the client it was for.
pub async fn after_visit(state: &AppState, v: &switchboard_core::store::Visit) {
    let Some((contact, _)) = crate::kit::notify::visit_contact(state, v).await else {
        return;
    };
    let mut channel = "portal";
    if let Some(c) = &v.conversation_id
        && let Ok(conv) = state.store.conversation(c).await
    {
        channel = channel_of(&conv).unwrap_or("portal");
    }
    let lang = match state.store.contact_mail_preferences(&contact).await {
        Ok((Some(l), _)) => l,
        _ => "en".to_owned(),
    };
    let subject = format!("visit:{}", v.id);
    let new = NewSurvey {
        subject: &subject,
        contact_id: &contact,
        company_id: Some(&v.company_id),
        conversation_id: v.conversation_id.as_deref(),
        visit_id: Some(&v.id),
        number: v.number,
        agent_id: None,
        technician_id: Some(&v.technician_id),
        team: None,
        channel,
        lang: &lang,
        expires_at: state.ids.now_ms() + OPEN_MS,
    };
    make(&state.store, &state.realtime, &state.ids, &new).await;
}

/// An answer in words, for the card: `CSAT 4/5 · NPS 9`.
pub fn answer_words(s: &Survey) -> String {
    let mut parts = Vec::new();
    if let Some(c) = s.csat {
        parts.push(format!("CSAT {c}/5"));
    }
    if let Some(n) = s.nps {
        parts.push(format!("NPS {n}"));
    }
    parts.join(" · ")
}

/// The survey's card follows its answer.
pub async fn answered(state: &AppState, s: &Survey) {
    // Subscribers hear of each answer and each change of it; the link's token stays here.
    let at = s
        .changed_at
        .or(s.answered_at)
        .unwrap_or_else(|| state.ids.now_ms());
    let event = switchboard_core::webhooks::event(
        "survey.answered",
        &format!("{}:{at}", s.id),
        at,
        serde_json::json!({ "survey": {
            "id": s.id, "number": s.number, "contact_id": s.contact_id, "company_id": s.company_id,
            "conversation_id": s.conversation_id, "visit_id": s.visit_id, "agent_id": s.agent_id,
            "technician_id": s.technician_id, "team": s.team, "channel": s.channel, "lang": s.lang,
            "csat": s.csat, "nps": s.nps, "comment": s.comment, "answered_at": s.answered_at,
        } }),
    );
    switchboard_core::webhooks::emit(&state.store, &state.stream, &state.ids, &[event]).await;
    let lang = switchboard_portal::locale::Lang::from_tag(&s.lang);
    let payload = CardPayload::Survey {
        id: s.id.clone(),
        question: survey_words(lang).title.to_owned(),
        scale: 5,
        answer: Some(answer_words(s)),
    };
    if let Err(e) =
        switchboard_core::cards::update_subject(&state.store, &state.realtime, &state.ids, &payload)
            .await
    {
        tracing::warn!(survey = %s.id, error = %e, "survey card not updated");
    }
    // The company's activity log keeps the answer (the link's holder, no signed-in user).
    if let Err(e) = state
        .store
        .audit(
            &state.ids,
            s.company_id.as_deref(),
            &s.contact_id,
            None,
            "survey_answered",
            Some(&format!("#{}", s.number)),
            Some(&answer_words(s)),
        )
        .await
    {
        tracing::warn!(survey = %s.id, error = %e, "survey answer not logged");
    }
    // Whose work it rates hears of it, once per survey (a changed answer tells no one
    // again).
    let Some(conversation) = s.conversation_id.as_deref() else {
        return;
    };
    let Ok(c) = state.store.conversation(conversation).await else {
        return;
    };
    let mut who: Vec<&str> = [s.agent_id.as_deref(), s.technician_id.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    who.dedup();
    let list: Vec<_> = who
        .into_iter()
        .map(|user_id| switchboard_core::store::NewNotification {
            user_id,
            kind: switchboard_core::store::NotificationKind::Survey,
            conversation: &c,
            message_id: None,
            event: &s.id,
        })
        .collect();
    state.workflow.notify_once(&list).await;
}
