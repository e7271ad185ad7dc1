//! The agent inbox's workflow: what people do to conversations, each checked against the
//! caller (not found when it may not see the conversation, forbidden when it may only
//! read it) and, where a version is given, against what the caller saw (a conflict,
//! changing nothing, when someone changed it meanwhile). Replies never conflict: two
//! agents answering at once are both stored, in order.
//!
//! Also here: round-robin auto-assignment among online agents under their capacity,
//! escalation with a reason, snoozes woken by the clock, merges, internal notes with
//! @mentions and notifications, canned responses filled in for a conversation, the SLA
//! of a conversation and the sweep that marks missed targets, and the supervisor
//! dashboard. [`Workflow::run`] drives the timers (snoozes, SLA) on every node; the
//! database makes each effect happen once.
//!
//! **Architecture Invariant:** an internal note is never sent, never in the customer's
//! history and never on a widget's socket (`workflow::notes_never_reach_the_customer`;
//! browser `inbox.test.mjs`). A change made from a stale version is refused with a conflict
//! and changes nothing; replies never conflict
//! (`workflow::a_stale_version_is_refused_and_changes_nothing`,
//! `workflow::two_agents_replying_at_once_are_both_stored_in_order`, e2e
//! `inbox::two_agents_at_once_lose_nothing`). The store's side is `store/workflow.rs`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::canned::{PlaceholderValues, render_canned};
use crate::changes::{Change, apply_versioned, publish};
use crate::clock::Ids;
use crate::dashboard::{Dashboard, assemble};
use crate::dispatcher::Outbox;
use crate::domain::{AuthorKind, Conversation, Message, Role, Scope, Status, Tier, User};
use crate::error::{Error, Result};
use crate::mentions::{names, parse_mentions};
use crate::metrics::Metrics;
use crate::realtime::{Event, Realtime};
use crate::sla::{SlaConfig, SlaState, sla_state};
use crate::store::{
    Caller, ConversationFilter, Merged, NewOutbound, Notification, NotificationKind, Queued, Store,
    WriteTx,
};

/// Longest note or reason, in bytes.
const MAX_TEXT: usize = 64 * 1024;
/// Most conversations one bulk action takes.
const MAX_BULK: usize = 500;
/// How long after a clock stopped the sweep still judges it (a reply that came late
/// between two sweeps, a node that was down for a while).
const SWEEP_LOOKBACK_MS: i64 = 7 * 24 * 3_600_000;
const DAY_MS: i64 = 24 * 3_600_000;

/// What became of one conversation of a bulk action.
#[derive(Debug)]
pub struct BulkResult {
    pub conversation_id: String,
    /// The conversation as it is now, or why it was left alone (not found, forbidden,
    /// invalid, conflict).
    pub outcome: Result<Conversation>,
}

/// The targets the SLA sweep found missed, by conversation id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlaSweep {
    pub first_response: Vec<String>,
    pub resolution: Vec<String>,
}

/// The inbox's workflow over the store, the realtime bus and the clock.
#[derive(Debug, Clone)]
pub struct Workflow {
    pub store: Store,
    pub realtime: Arc<dyn Realtime>,
    pub ids: Ids,
    pub metrics: Arc<Metrics>,
    pub sla: Arc<SlaConfig>,
    /// Told when a conversation's status changes, to let its customer know.
    pub notices: Vec<Arc<dyn StatusNotices>>,
}

/// Lets a conversation's customer know its status changed (the email channel mails a
/// notice). Called after the change is stored; it must not fail the change.
#[async_trait::async_trait]
pub trait StatusNotices: Send + Sync + std::fmt::Debug {
    async fn status_changed(&self, before: &Conversation, after: &Conversation);
}

impl Workflow {
    /// With the default SLA targets and calendar ([`SlaConfig::default`]).
    pub fn new(store: Store, realtime: Arc<dyn Realtime>, ids: Ids, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            realtime,
            ids,
            metrics,
            sla: Arc::new(SlaConfig::default()),
            notices: Vec::new(),
        }
    }

    pub fn with_sla(mut self, sla: SlaConfig) -> Self {
        self.sla = Arc::new(sla);
        self
    }

    /// Adds one more party to tell about status changes.
    pub fn with_notices(mut self, notices: Arc<dyn StatusNotices>) -> Self {
        self.notices.push(notices);
        self
    }

    async fn publish_all(&self, events: &[Event]) {
        if let Err(e) = self.realtime.publish_all(events).await {
            tracing::debug!(error = %e, "realtime publish failed");
        }
    }

    /// A conversation the caller may change.
    pub async fn writable(&self, caller: &Caller, id: &str) -> Result<Conversation> {
        let c = self.store.conversation_for(caller, id).await?;
        caller.check_write(&c)?;
        Ok(c)
    }

    /// Someone's name as a line in a thread shows it.
    async fn who(&self, user_id: &str) -> String {
        match self.store.user_by_id(user_id).await {
            Ok(Some(u)) => display_name(&u),
            _ => "someone".into(),
        }
    }

    /// Changes a conversation: status, snooze, assignee, team, priority or labels. The
    /// tier changes only by escalating or de-escalating, with a reason. With
    /// `expected_version`, a conversation someone changed since is refused unchanged.
    pub async fn change(
        &self,
        caller: &Caller,
        id: &str,
        change: &Change,
        expected_version: Option<i64>,
    ) -> Result<Conversation> {
        if let Change::Tier(_) = change {
            return Err(Error::invalid(
                "the tier changes by escalating or de-escalating, with a reason",
            ));
        }
        let before = self.writable(caller, id).await?;
        let conversation = apply_versioned(
            &self.store,
            &self.realtime,
            &self.ids,
            id,
            change,
            expected_version,
        )
        .await?;
        if let Change::Assignee(Some(agent)) = change
            && agent != &caller.user_id
        {
            self.notify(agent, NotificationKind::Assigned, &conversation, None)
                .await;
        }
        if before.status != conversation.status {
            for n in &self.notices {
                n.status_changed(&before, &conversation).await;
            }
        }
        Ok(conversation)
    }

    /// Assigns a conversation to an agent, or to nobody.
    pub async fn assign(
        &self,
        caller: &Caller,
        id: &str,
        assignee: Option<&str>,
        expected_version: Option<i64>,
    ) -> Result<Conversation> {
        let change = Change::Assignee(assignee.map(str::to_owned));
        self.change(caller, id, &change, expected_version).await
    }

    /// Snoozes a conversation until `until` (epoch ms); [`Workflow::wake_snoozed`] opens
    /// it again then, and so does a message from the customer before.
    pub async fn snooze(
        &self,
        caller: &Caller,
        id: &str,
        until: i64,
        expected_version: Option<i64>,
    ) -> Result<Conversation> {
        self.change(caller, id, &Change::Snooze(until), expected_version)
            .await
    }

    /// Applies one change to each of a selection. Each conversation stands alone: one the
    /// caller may not see or change is reported and the others still change.
    pub async fn bulk(
        &self,
        caller: &Caller,
        ids: &[String],
        change: &Change,
    ) -> Result<Vec<BulkResult>> {
        if ids.len() > MAX_BULK {
            return Err(Error::invalid(format!(
                "a bulk action takes at most {MAX_BULK} conversations"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids.iter().filter(|id| seen.insert(id.as_str())) {
            out.push(BulkResult {
                conversation_id: id.clone(),
                outcome: self.change(caller, id, change, None).await,
            });
        }
        Ok(out)
    }

    /// Moves a conversation one tier up (N1 → N2 → N3). The reason is required and kept
    /// in the thread as a line only agents see. An assignee whose tier is below the new
    /// one is unassigned, and the conversation is offered to the new tier's agents.
    pub async fn escalate(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<Conversation> {
        self.retier(caller, id, true, reason, expected_version)
            .await
    }

    /// Moves a conversation one tier down, with a reason kept in the thread.
    pub async fn de_escalate(
        &self,
        caller: &Caller,
        id: &str,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<Conversation> {
        self.retier(caller, id, false, reason, expected_version)
            .await
    }

    async fn retier(
        &self,
        caller: &Caller,
        id: &str,
        up: bool,
        reason: &str,
        expected_version: Option<i64>,
    ) -> Result<Conversation> {
        let what = if up {
            "an escalation"
        } else {
            "a de-escalation"
        };
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::invalid(format!("{what} needs a reason")));
        }
        if reason.len() > MAX_TEXT {
            return Err(Error::invalid(format!(
                "the reason is over {MAX_TEXT} bytes"
            )));
        }
        self.writable(caller, id).await?;
        let who = self.who(&caller.user_id).await;
        let now = self.ids.now_ms();
        let mut tx = self.store.begin_write().await?;
        let before = self
            .store
            .lock_conversation(&mut tx, id, expected_version)
            .await?;
        let from = before.conversation.tier;
        let to = match (from, up) {
            (Tier::N1, true) => Tier::N2,
            (Tier::N2, true) => Tier::N3,
            (Tier::N3, false) => Tier::N2,
            (Tier::N2, false) => Tier::N1,
            (Tier::N3, true) => {
                return Err(Error::invalid("already at N3, the highest tier"));
            }
            (Tier::N1, false) => return Err(Error::invalid("already at N1, the first tier")),
        };
        let mut after = before.clone();
        after.conversation.tier = to;
        let mut unassigned = None;
        if up && let Some(assignee) = before.conversation.assignee_id.clone() {
            let tier = self.store.user_by_id(&assignee).await?.and_then(|u| u.tier);
            if tier.is_some_and(|t| t < to) {
                after.assign(None, now);
                unassigned = Some(assignee);
            }
        }
        let saved = self
            .store
            .save_conversation(&mut tx, &before, &after, now)
            .await?;
        let verb = if up { "Escalated" } else { "De-escalated" };
        let mut text = format!("{verb} from {from} to {to} by {who}: {reason}");
        if let Some(a) = &unassigned {
            let name = self.who(a).await;
            text.push_str(&format!(
                "\n{name} was unassigned: their tier is below {to}."
            ));
        }
        let note = Store::insert_internal(
            &mut tx,
            &self.ids,
            &saved,
            AuthorKind::System,
            Some(&caller.user_id),
            &text,
        )
        .await?;
        Store::record_event(
            &mut tx,
            &self.ids,
            Some(id),
            if up { "escalated" } else { "de_escalated" },
            &serde_json::json!({"from": from, "to": to, "reason": reason, "by": caller.user_id, "unassigned": unassigned}),
        )
        .await?;
        tx.commit().await?;
        self.publish_all(&[
            Event::ConversationChanged {
                change: "tier".into(),
                conversation: saved.clone(),
            },
            Event::Note {
                scope: saved.scope(),
                message: note,
            },
        ])
        .await;
        if unassigned.is_some() {
            match self.auto_assign(id).await {
                Ok(Some(c)) => return Ok(c),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "auto-assignment after escalation failed"),
            }
        }
        Ok(saved)
    }

    /// Offers a conversation that needs a person to the next online agent of its team
    /// (round robin) whose tier reaches it and who is under capacity. `None` when it is
    /// taken already or nobody is free; it then waits in the team's queue.
    pub async fn auto_assign(&self, conversation_id: &str) -> Result<Option<Conversation>> {
        auto_assign(&self.store, &self.realtime, &self.ids, conversation_id).await
    }

    /// Conversations that go straight to people (no bot runs, as opened by one batch):
    /// their SLA clocks start now (one statement), and each is offered for
    /// auto-assignment when an agent is online at all.
    pub async fn need_people(&self, conversation_ids: &[String]) -> Result<()> {
        let now = self.ids.now_ms();
        self.store.mark_people_since(conversation_ids, now).await?;
        self.offer(conversation_ids).await
    }

    /// Offers conversations already marked for people to the agents online (round
    /// robin); nothing when nobody is online.
    pub async fn offer(&self, conversation_ids: &[String]) -> Result<()> {
        let now = self.ids.now_ms();
        if !self.store.any_agent_online(now).await? {
            return Ok(());
        }
        for id in conversation_ids {
            if let Err(e) = self.auto_assign(id).await {
                tracing::warn!(error = %e, conversation = %id, "auto-assignment failed");
            }
        }
        Ok(())
    }

    /// Opens every snoozed conversation whose time has come; returns their ids. Safe to
    /// run on every node at once: each is woken once.
    pub async fn wake_snoozed(&self, now: i64) -> Result<Vec<String>> {
        let woken = self.store.wake_due(&self.ids, now).await?;
        let events: Vec<Event> = woken
            .iter()
            .map(|c| Event::ConversationChanged {
                change: "status".into(),
                conversation: c.clone(),
            })
            .collect();
        self.publish_all(&events).await;
        Ok(woken.into_iter().map(|c| c.id).collect())
    }

    /// Queues an agent's reply. Replies take no version: two agents answering at once are
    /// both stored, in the order they were accepted. An idempotency key makes a retried
    /// request a no-op.
    pub async fn reply(
        &self,
        caller: &Caller,
        outbox: &Outbox,
        conversation_id: &str,
        text: &str,
        idempotency_key: Option<String>,
    ) -> Result<Queued> {
        self.reply_with(caller, outbox, conversation_id, text, None, idempotency_key)
            .await
    }

    /// Queues an agent's reply with structured content beside the text (a WhatsApp
    /// template, reply buttons, a reaction, the message it answers).
    pub async fn reply_with(
        &self,
        caller: &Caller,
        outbox: &Outbox,
        conversation_id: &str,
        text: &str,
        content: Option<crate::domain::RichContent>,
        idempotency_key: Option<String>,
    ) -> Result<Queued> {
        self.writable(caller, conversation_id).await?;
        let mut new = NewOutbound::text(
            conversation_id,
            AuthorKind::Agent,
            Some(&caller.user_id),
            text,
        );
        new.content = content.filter(|c| !c.is_empty());
        new.idempotency_key = idempotency_key;
        outbox.queue(&new).await
    }

    /// Adds an internal note: agents only, never sent to the customer nor shown in its
    /// history. Each agent it @mentions who may see the conversation is notified.
    pub async fn add_note(
        &self,
        caller: &Caller,
        conversation_id: &str,
        text: &str,
    ) -> Result<Message> {
        let text = text.trim();
        if text.is_empty() {
            return Err(Error::invalid("a note needs some text"));
        }
        if text.len() > MAX_TEXT {
            return Err(Error::invalid(format!(
                "a note is at most {MAX_TEXT} bytes"
            )));
        }
        let conversation = self.writable(caller, conversation_id).await?;
        let scope = conversation.scope();
        let mentions = parse_mentions(text);
        let mut mentioned: Vec<User> = Vec::new();
        if !mentions.is_empty() {
            for user in self.store.agents().await? {
                if user.id == caller.user_id || !mentions.iter().any(|m| names(m, &user)) {
                    continue;
                }
                if self.store.caller(&user).await?.may_see(&scope) {
                    mentioned.push(user);
                }
            }
        }
        let mut tx = self.store.begin_write().await?;
        let note = Store::insert_internal(
            &mut tx,
            &self.ids,
            &conversation,
            AuthorKind::Agent,
            Some(&caller.user_id),
            text,
        )
        .await?;
        let mut notified = Vec::with_capacity(mentioned.len());
        for user in &mentioned {
            notified.push(
                Store::add_notification(
                    &mut tx,
                    &self.ids,
                    &user.id,
                    NotificationKind::Mention,
                    &conversation,
                    Some(&note.id),
                )
                .await?,
            );
        }
        sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
            .bind(note.created_at)
            .bind(conversation_id)
            .execute(&mut **tx)
            .await?;
        tx.commit().await?;
        let mut events = vec![Event::Note {
            scope: scope.clone(),
            message: note.clone(),
        }];
        events.extend(
            notified
                .into_iter()
                .map(|n| notification_event(&conversation, n)),
        );
        self.publish_all(&events).await;
        Ok(note)
    }

    /// Tells agents of events, each once per user, kind and event however often and on
    /// however many nodes it is seen (outside any change's transaction: a notification
    /// lost to an error is logged, the change stands).
    pub async fn notify_once(&self, list: &[crate::store::NewNotification<'_>]) {
        match self.store.add_notifications_once(&self.ids, list).await {
            Ok(added) => {
                let events: Vec<Event> = added
                    .into_iter()
                    .filter_map(|n| {
                        list.iter()
                            .find(|x| x.conversation.id == n.conversation_id)
                            .map(|x| notification_event(x.conversation, n))
                    })
                    .collect();
                self.publish_all(&events).await;
            }
            Err(e) => tracing::warn!(error = %e, "notifications not added"),
        }
    }

    /// Tells an agent about a conversation (outside any change's transaction: a
    /// notification lost to an error is logged, the change stands).
    async fn notify(
        &self,
        user_id: &str,
        kind: NotificationKind,
        conversation: &Conversation,
        message_id: Option<&str>,
    ) {
        let added = async {
            let mut tx = self.store.begin_write().await?;
            let n = Store::add_notification(
                &mut tx,
                &self.ids,
                user_id,
                kind,
                conversation,
                message_id,
            )
            .await?;
            tx.commit().await?;
            Ok::<_, Error>(n)
        }
        .await;
        match added {
            Ok(n) => {
                self.publish_all(&[notification_event(conversation, n)])
                    .await
            }
            Err(e) => tracing::warn!(error = %e, "notification not stored"),
        }
    }

    /// The caller's notifications, newest first.
    pub async fn notifications(
        &self,
        caller: &Caller,
        unread_only: bool,
    ) -> Result<Vec<Notification>> {
        self.store.notifications(&caller.user_id, unread_only).await
    }

    /// Marks the caller's notifications read: the given ones, or all.
    pub async fn mark_notifications_read(
        &self,
        caller: &Caller,
        ids: Option<&[String]>,
    ) -> Result<u64> {
        self.store
            .mark_notifications_read(&caller.user_id, ids, self.ids.now_ms())
            .await
    }

    /// Merges `source` into `target`, two conversations of one contact that the caller
    /// may change: messages and cards move to the target, and the source is resolved
    /// with a line pointing to the target. Returns the target as it is now.
    pub async fn merge_conversations(
        &self,
        caller: &Caller,
        source: &str,
        target: &str,
    ) -> Result<Conversation> {
        self.check_mergeable(caller, source, target).await?;
        let who = self.who(&caller.user_id).await;
        let now = self.ids.now_ms();
        let mut tx = self.store.begin_write().await?;
        let (s_saved, t_saved) = self.merge_rows(&mut tx, source, target, now).await?;
        let (s_note, t_note) = self
            .merge_notes(&mut tx, caller, &who, &s_saved, &t_saved)
            .await?;
        self.record_merge_events(&mut tx, caller, source, target)
            .await?;
        tx.commit().await?;
        self.publish_merge(&s_saved, &t_saved, s_note, t_note).await;
        Ok(t_saved)
    }

    /// Refuses a merge before anything is locked: of a conversation into itself, of one
    /// the caller may not change, or of two contacts' conversations.
    async fn check_mergeable(&self, caller: &Caller, source: &str, target: &str) -> Result<()> {
        if source == target {
            return Err(Error::invalid(
                "a conversation cannot be merged into itself",
            ));
        }
        let s = self.writable(caller, source).await?;
        let t = self.writable(caller, target).await?;
        if s.contact_id != t.contact_id {
            return Err(Error::invalid(
                "only conversations of the same contact can be merged; merge the two contacts first",
            ));
        }
        Ok(())
    }

    /// The merge's changes to the two rows, under their locks: refuses a conversation
    /// merged already, moves the source's contents, resolves the source into the target
    /// and gives the target the later last activity of the two. Returns both as stored.
    async fn merge_rows(
        &self,
        tx: &mut WriteTx,
        source: &str,
        target: &str,
        now: i64,
    ) -> Result<(Conversation, Conversation)> {
        // Both rows locked, always in id order, so two merges cannot wait on each other.
        let (first, second) = if source < target {
            (source, target)
        } else {
            (target, source)
        };
        let a = self.store.lock_conversation(tx, first, None).await?;
        let b = self.store.lock_conversation(tx, second, None).await?;
        let (s_before, t_before) = if first == source { (a, b) } else { (b, a) };
        for c in [&s_before, &t_before] {
            if c.merged_into.is_some() {
                return Err(Error::invalid(format!(
                    "#{} was merged into another conversation already",
                    c.conversation.number
                )));
            }
        }
        move_merged_contents(tx, source, target).await?;
        let mut s_after = s_before.clone();
        s_after.set_status(Status::Resolved, None, now);
        s_after.merged_into = Some(target.to_owned());
        let s_saved = self
            .store
            .save_conversation(tx, &s_before, &s_after, now)
            .await?;
        let last = s_before
            .conversation
            .last_message_at
            .max(t_before.conversation.last_message_at);
        set_last_message_at(tx, target, last).await?;
        let mut t_after = t_before.clone();
        t_after.conversation.last_message_at = last;
        let t_saved = self
            .store
            .save_conversation(tx, &t_before, &t_after, now)
            .await?;
        Ok((s_saved, t_saved))
    }

    /// The system lines telling agents of the merge, one in each conversation: the source
    /// points to the target, the target says what it took in.
    async fn merge_notes(
        &self,
        tx: &mut WriteTx,
        caller: &Caller,
        who: &str,
        s_saved: &Conversation,
        t_saved: &Conversation,
    ) -> Result<(Message, Message)> {
        let (sn, tn) = (s_saved.number, t_saved.number);
        let s_note = Store::insert_internal(
            tx,
            &self.ids,
            s_saved,
            AuthorKind::System,
            Some(&caller.user_id),
            &format!("Merged into #{tn} by {who}; the conversation goes on there."),
        )
        .await?;
        let t_note = Store::insert_internal(
            tx,
            &self.ids,
            t_saved,
            AuthorKind::System,
            Some(&caller.user_id),
            &format!("#{sn} was merged into this conversation by {who}: its messages and cards are here now."),
        )
        .await?;
        Ok((s_note, t_note))
    }

    /// The `merged` event of each conversation, for the audit trail and webhooks.
    async fn record_merge_events(
        &self,
        tx: &mut WriteTx,
        caller: &Caller,
        source: &str,
        target: &str,
    ) -> Result<()> {
        for (id, payload) in [
            (
                source,
                serde_json::json!({"into": target, "by": caller.user_id}),
            ),
            (
                target,
                serde_json::json!({"from": source, "by": caller.user_id}),
            ),
        ] {
            Store::record_event(tx, &self.ids, Some(id), "merged", &payload).await?;
        }
        Ok(())
    }

    /// Tells the open inboxes of a stored merge: both conversations changed, and each has
    /// its new line.
    async fn publish_merge(
        &self,
        s_saved: &Conversation,
        t_saved: &Conversation,
        s_note: Message,
        t_note: Message,
    ) {
        self.publish_all(&[
            Event::ConversationChanged {
                change: "merged".into(),
                conversation: s_saved.clone(),
            },
            Event::ConversationChanged {
                change: "merged".into(),
                conversation: t_saved.clone(),
            },
            Event::Note {
                scope: s_saved.scope(),
                message: s_note,
            },
            Event::Note {
                scope: t_saved.scope(),
                message: t_note,
            },
        ])
        .await;
    }

    /// Merges contact `from` into `into` (see [`Store::merge_contacts`]), both contacts
    /// the caller may change: an admin any; a coordinator those of its companies; a
    /// support agent those with a conversation it may change.
    ///
    /// Merging contacts of two companies, or a contact with a portal account, needs an
    /// admin: such a merge moves a person's conversations and addresses across a trust
    /// boundary. (Signing in is never granted by a merge: a link signs in the portal user
    /// of its own address only.)
    pub async fn merge_contacts(&self, caller: &Caller, from: &str, into: &str) -> Result<Merged> {
        self.contact_writable(caller, from).await?;
        self.contact_writable(caller, into).await?;
        if caller.role != Role::Admin {
            let crossing = self.store.merge_crosses_boundary(from, into).await?;
            if crossing {
                return Err(Error::forbidden(
                    "merging contacts of different companies, or with portal access, needs an admin",
                ));
            }
        }
        self.store.merge_contacts(&self.ids, from, into).await
    }

    /// Sets a contact's mail language (`None` keeps it) and whether they get status
    /// notices by email, for a caller who may change that contact.
    pub async fn set_contact_mail_preferences(
        &self,
        caller: &Caller,
        contact_id: &str,
        language: Option<&str>,
        notices: bool,
    ) -> Result<(Option<String>, bool)> {
        self.contact_writable(caller, contact_id).await?;
        let id = self.store.surviving_contact(contact_id).await?;
        let language = language.map(crate::domain::parse_locale).transpose()?;
        self.store
            .set_contact_mail_preferences(&id, language, notices)
            .await?;
        self.store.contact_mail_preferences(&id).await
    }

    /// Sets the channel a contact's notices go by (`email` or `whatsapp`), for an agent
    /// who may edit the contact.
    pub async fn set_contact_notice_channel(
        &self,
        caller: &Caller,
        contact_id: &str,
        channel: &str,
    ) -> Result<String> {
        self.contact_writable(caller, contact_id).await?;
        let id = self.store.surviving_contact(contact_id).await?;
        self.store.set_contact_notice_channel(&id, channel).await?;
        self.store.contact_notice_channel(&id).await
    }

    async fn contact_writable(&self, caller: &Caller, contact_id: &str) -> Result<()> {
        let hidden = || Error::not_found(format!("contact {contact_id}"));
        let id = self
            .store
            .surviving_contact(contact_id)
            .await
            .map_err(|_| hidden())?;
        let visible = match caller.role {
            Role::Admin | Role::Supervisor => true,
            Role::Coordinator | Role::Technician => {
                let company: Option<String> =
                    sqlx::query_scalar("SELECT company_id FROM contacts WHERE id = $1")
                        .bind(&id)
                        .fetch_optional(self.store.pool())
                        .await?
                        .flatten();
                company.is_some_and(|c| caller.companies.contains(&c))
            }
            Role::Support => {
                let filter = ConversationFilter {
                    contact_id: Some(id.clone()),
                    limit: 1,
                    ..Default::default()
                };
                !self
                    .store
                    .conversations_for(caller, &filter)
                    .await?
                    .is_empty()
            }
            Role::ClientUser | Role::ClientAdmin => false,
        };
        if !visible {
            return Err(hidden());
        }
        if !caller.role.can_reply() {
            return Err(Error::forbidden("you may read contacts but not merge them"));
        }
        Ok(())
    }

    /// A canned response filled in for a conversation the caller may see: its contact's
    /// name, its number, the caller's name (see [`crate::canned`] for fallbacks).
    pub async fn render_canned_for(
        &self,
        caller: &Caller,
        conversation_id: &str,
        canned_id: &str,
    ) -> Result<String> {
        let conversation = self.store.conversation_for(caller, conversation_id).await?;
        let canned = self.store.canned_response(canned_id).await?;
        let contact_name: Option<String> =
            sqlx::query_scalar("SELECT name FROM contacts WHERE id = $1")
                .bind(&conversation.contact_id)
                .fetch_optional(self.store.pool())
                .await?
                .flatten();
        let agent_name = self
            .store
            .user_by_id(&caller.user_id)
            .await?
            .and_then(|u| u.name);
        Ok(render_canned(
            &canned.body,
            &PlaceholderValues {
                contact_name,
                conversation_number: Some(conversation.number),
                agent_name,
                locale: canned.locale,
            },
        ))
    }

    /// A conversation's SLA at `now`, for its countdowns.
    pub async fn sla_state(&self, caller: &Caller, id: &str, now: i64) -> Result<SlaState> {
        self.store.conversation_for(caller, id).await?;
        let input = self.store.sla_input(id).await?;
        Ok(sla_state(&self.sla, &input, now))
    }

    /// The SLA of conversations the caller has just been shown (a list page), by id;
    /// two queries for the whole page.
    pub async fn sla_states(
        &self,
        conversations: &[&Conversation],
        now: i64,
    ) -> Result<std::collections::HashMap<String, SlaState>> {
        let ids: Vec<String> = conversations.iter().map(|c| c.id.clone()).collect();
        Ok(self
            .store
            .sla_inputs(&ids)
            .await?
            .into_iter()
            .map(|(id, input)| {
                let state = sla_state(&self.sla, &input, now);
                (id, state)
            })
            .collect())
    }

    /// Marks the SLA targets missed since the last sweep, once each whatever the number
    /// of nodes sweeping, and counts them in `switchboard_sla_breaches_total{kind}`.
    pub async fn sla_sweep(&self, now: i64) -> Result<SlaSweep> {
        let shortest = self.sla.shortest();
        let min_age = shortest.first_response_ms.min(shortest.resolution_ms);
        let candidates = self
            .store
            .sla_candidates(now, min_age, now - SWEEP_LOOKBACK_MS)
            .await?;
        let mut out = SlaSweep::default();
        for (id, input, fr_marked, res_marked) in candidates {
            let state = sla_state(&self.sla, &input, now);
            let clocks = [
                ("first_response", state.first_response, fr_marked),
                ("resolution", state.resolution, res_marked),
            ];
            for (kind, clock, marked) in clocks {
                let Some(clock) = clock.filter(|c| c.breached && !marked) else {
                    continue;
                };
                let Some(due) = clock.due_at else { continue };
                if self.store.mark_breach(&self.ids, &id, kind, due).await? {
                    self.metrics.sla_breach(kind);
                    tracing::info!(conversation = %id, kind, "SLA target missed");
                    match kind {
                        "first_response" => out.first_response.push(id.clone()),
                        _ => out.resolution.push(id.clone()),
                    }
                }
            }
        }
        let mut breached: Vec<&String> = out.first_response.iter().chain(&out.resolution).collect();
        breached.sort();
        breached.dedup();
        for id in breached {
            if let Ok(c) = self.store.conversation(id).await {
                publish(&self.realtime, "sla", &c).await;
                // Its assignee hears of each target missed.
                if let Some(user) = c.assignee_id.as_deref() {
                    let events: Vec<String> = [
                        ("first_response", &out.first_response),
                        ("resolution", &out.resolution),
                    ]
                    .iter()
                    .filter(|(_, ids)| ids.contains(id))
                    .map(|(kind, _)| format!("{id}:{kind}"))
                    .collect();
                    let list: Vec<_> = events
                        .iter()
                        .map(|event| crate::store::NewNotification {
                            user_id: user,
                            kind: NotificationKind::Breach,
                            conversation: &c,
                            message_id: None,
                            event,
                        })
                        .collect();
                    self.notify_once(&list).await;
                }
            }
        }
        Ok(out)
    }

    /// The supervisor dashboard over the last `days` local days (1 to 366), within the
    /// caller's scope (supervisors and admins see everything).
    pub async fn dashboard(&self, caller: &Caller, now: i64, days: i64) -> Result<Dashboard> {
        if !(1..=366).contains(&days) {
            return Err(Error::invalid("the dashboard covers 1 to 366 days"));
        }
        if !caller.role.is_agent() {
            return Err(Error::forbidden("the dashboard is for agents"));
        }
        let cal = &self.sla.calendar;
        let start = cal
            .local_date(now)
            .and_then(|d| d.checked_sub(jiff::Span::new().days(days - 1)).ok())
            .and_then(|d| cal.start_of(d))
            .unwrap_or(now - days * DAY_MS);
        let rows = self.store.dashboard_rows(caller, start, now + 1).await?;
        let labels: HashMap<String, String> = self
            .store
            .agents()
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), display_name(&u)))
            .collect();
        Ok(assemble(rows, now, days, start, cal, &labels))
    }

    /// One round of the timers at the clock's now: wakes snoozed conversations and
    /// sweeps the SLA.
    pub async fn tick(&self) -> Result<(Vec<String>, SlaSweep)> {
        let now = self.ids.now_ms();
        let woken = self.wake_snoozed(now).await?;
        let sweep = self.sla_sweep(now).await?;
        Ok((woken, sweep))
    }

    /// Runs the timers every `every` until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken, every: Duration) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = shutdown.cancelled() => return,
            }
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "workflow timers failed; trying again later");
            }
        }
    }
}

/// A user's name, else its email address.
fn display_name(u: &User) -> String {
    u.name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map_or_else(|| u.email.clone(), str::to_owned)
}

/// Moves a merged conversation's messages, cards (but those the target has already) and
/// participants to the conversation it was merged into.
async fn move_merged_contents(tx: &mut WriteTx, source: &str, target: &str) -> Result<()> {
    for sql in [
        "UPDATE messages SET conversation_id = $1 WHERE conversation_id = $2",
        "DELETE FROM cards WHERE conversation_id = $2 AND EXISTS (SELECT 1 FROM cards t \
         WHERE t.conversation_id = $1 AND t.kind = cards.kind AND t.subject_id = cards.subject_id)",
        "UPDATE cards SET conversation_id = $1 WHERE conversation_id = $2",
        "INSERT INTO conversation_participants (conversation_id, contact_id, role, created_at) \
         SELECT $1, contact_id, role, created_at FROM conversation_participants WHERE conversation_id = $2 ON CONFLICT DO NOTHING",
    ] {
        sqlx::query(sql)
            .bind(target)
            .bind(source)
            .execute(&mut ***tx)
            .await?;
    }
    Ok(())
}

/// Sets a conversation's last activity: a merge's target takes the later of the two.
async fn set_last_message_at(tx: &mut WriteTx, id: &str, last: i64) -> Result<()> {
    sqlx::query("UPDATE conversations SET last_message_at = $1 WHERE id = $2")
        .bind(last)
        .bind(id)
        .execute(&mut ***tx)
        .await?;
    Ok(())
}

/// The event of a notification: addressed to its user only.
fn notification_event(conversation: &Conversation, notification: Notification) -> Event {
    let scope = Scope {
        recipient: Some(notification.user_id.clone()),
        ..conversation.scope()
    };
    Event::Notification {
        scope,
        notification,
    }
}

/// See [`Workflow::auto_assign`]; for workers that hold no `Workflow` (the bot).
pub async fn auto_assign(
    store: &Store,
    realtime: &Arc<dyn Realtime>,
    ids: &Ids,
    conversation_id: &str,
) -> Result<Option<Conversation>> {
    let Some((conversation, notification)) = store.assign_round_robin(ids, conversation_id).await?
    else {
        return Ok(None);
    };
    let events = [
        Event::ConversationChanged {
            change: "assignee".into(),
            conversation: conversation.clone(),
        },
        notification_event(&conversation, notification),
    ];
    if let Err(e) = realtime.publish_all(&events).await {
        tracing::debug!(error = %e, "realtime publish failed");
    }
    Ok(Some(conversation))
}
