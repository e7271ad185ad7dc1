//! The bot as the bot worker calls it: what the conversation's memory says, what the
//! policy decides, what is learned and which questions are gaps, all stored.
//!
//! This is the `BotHook` the `BotWorker` calls: it keeps the conversation's memory
//! (`bot_memory`), learns questions, records what it could not answer (`bot_gaps`) and
//! returns a structured `BotDecision`; the handoff is that decision, never a match on the
//! bot's text (conformance `kb::the_bot_answers_learns_hands_off_and_stays_silent`).

use std::sync::Arc;

use async_trait::async_trait;
use switchboard_core::bot::{BotAnswer, BotDecision, BotHook, BotInput};
use switchboard_core::domain::{Channel, Handoff, Tier};
use switchboard_core::store::Store;
use switchboard_core::store::kb::BotGap;
use switchboard_core::{Ids, Result};

use crate::brain::Brain;
use crate::policy::{self, Action, Memory, Settings};

/// Where the bot gets the classifier it answers with (rebuilt as articles change).
pub trait BrainSource: Send + Sync + std::fmt::Debug {
    fn brain(&self) -> Arc<Brain>;
    /// A question was learned: the classifier should be trained again.
    fn learned(&self);
}

/// A classifier that never changes (tests, one-off tools).
#[derive(Debug)]
pub struct FixedBrain(pub Arc<Brain>);

impl BrainSource for FixedBrain {
    fn brain(&self) -> Arc<Brain> {
        self.0.clone()
    }
    fn learned(&self) {}
}

/// The bot: the knowledge base's answers, the handoff rules, and what it remembers per
/// conversation.
#[derive(Debug)]
pub struct KbBot {
    pub store: Store,
    pub ids: Ids,
    pub brains: Arc<dyn BrainSource>,
    pub settings: Settings,
}

#[async_trait]
impl BotHook for KbBot {
    async fn on_message(&self, input: &BotInput<'_>) -> Result<BotDecision> {
        let kb = self;
        let conversation = input.conversation;
        let memory: Memory = kb
            .store
            .bot_memory(&conversation.id)
            .await?
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let brain = self.brains.brain();
        let text = input.message.text.clone();
        let channel = conversation.channel;
        let outcome = policy::decide(&brain, &kb.settings, channel, &text, memory);
        let now = kb.ids.now_ms();
        kb.store
            .set_bot_memory(
                &conversation.id,
                &serde_json::to_string(&outcome.memory)?,
                now,
            )
            .await?;
        if let Some((article, question)) = &outcome.learn
            && kb
                .store
                .learn_question(&kb.ids, article, question, "client_confirmed")
                .await?
        {
            self.brains.learned();
        }
        let best = outcome
            .best
            .map(|g| (brain.article(g.article).clone(), g.confidence));
        Ok(match outcome.action {
            Action::Answer | Action::Reply => BotDecision {
                answer: Some(BotAnswer {
                    text: outcome.text,
                    content: switchboard_core::domain::RichContent {
                        confidence: (outcome.action == Action::Answer)
                            .then(|| {
                                best.as_ref()
                                    .map(|b| (b.1.clamp(0.0, 1.0) * 1000.0).round() as u16)
                            })
                            .flatten(),
                        ..outcome.content
                    },
                    confidence: best.as_ref().map_or(1.0, |b| b.1),
                }),
                handoff: None,
            },
            Action::Handoff(reason) => {
                if reason.is_gap() {
                    let gap = BotGap {
                        message_id: input.message.id.clone(),
                        conversation_id: conversation.id.clone(),
                        text: policy::clean(&text),
                        lang: Some(outcome.lang.code().to_owned()),
                        reason: reason.code(),
                        best_article_id: best.as_ref().map(|b| b.0.id.clone()),
                        confidence: best.as_ref().map_or(0.0, |b| b.1),
                        created_at: now,
                    };
                    kb.store.record_bot_gap(&kb.ids, &gap).await?;
                }
                BotDecision {
                    // By mail the person's reply is the answer; elsewhere the client is
                    // told someone is coming.
                    answer: (channel != Channel::Email).then(|| BotAnswer {
                        text: outcome.text,
                        content: outcome.content,
                        confidence: best.as_ref().map_or(0.0, |b| b.1),
                    }),
                    handoff: Some(Handoff {
                        tier: Tier::N1,
                        reason: reason.code(),
                        summary: outcome.summary,
                    }),
                }
            }
        })
    }
}
