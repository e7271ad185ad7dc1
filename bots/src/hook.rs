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
use switchboard_core::domain::{Channel, Handoff, Identity, IdentityKind, Tier};
use switchboard_core::store::Store;
use switchboard_core::store::kb::BotGap;
use switchboard_core::{Ids, Result};

use crate::brain::Brain;
use switchboard_kb::Lang;

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
        // A WhatsApp number says where its client lives: the language of a first message
        // that shows none of its own ("T-01??" from +55 is Portuguese).
        let hint = sender_language(&input.envelope.sender);
        let outcome = policy::decide_in(&brain, &kb.settings, channel, &text, memory, hint);
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

/// The language of the country a WhatsApp sender's number (its calling code) or hidden
/// user id (its two letters) belongs to, where one of the bot's languages is the
/// country's own. `None` elsewhere, for other identities, and for +1 (the United States,
/// Canada and the Caribbean speak more than one).
pub fn sender_language(sender: &Identity) -> Option<Lang> {
    // Calling codes; the three-digit ones first, where a two-digit one is their start.
    const CODES: &[(&str, Lang)] = &[
        ("351", Lang::Pt),
        ("244", Lang::Pt),
        ("258", Lang::Pt),
        ("238", Lang::Pt),
        ("353", Lang::En),
        ("591", Lang::Es),
        ("593", Lang::Es),
        ("595", Lang::Es),
        ("598", Lang::Es),
        ("502", Lang::Es),
        ("503", Lang::Es),
        ("504", Lang::Es),
        ("505", Lang::Es),
        ("506", Lang::Es),
        ("507", Lang::Es),
        ("55", Lang::Pt),
        ("34", Lang::Es),
        ("51", Lang::Es),
        ("52", Lang::Es),
        ("53", Lang::Es),
        ("54", Lang::Es),
        ("56", Lang::Es),
        ("57", Lang::Es),
        ("58", Lang::Es),
        ("44", Lang::En),
        ("61", Lang::En),
        ("64", Lang::En),
    ];
    const COUNTRIES: &[(&str, Lang)] = &[
        ("BR", Lang::Pt),
        ("PT", Lang::Pt),
        ("AO", Lang::Pt),
        ("MZ", Lang::Pt),
        ("ES", Lang::Es),
        ("MX", Lang::Es),
        ("AR", Lang::Es),
        ("CO", Lang::Es),
        ("CL", Lang::Es),
        ("PE", Lang::Es),
        ("VE", Lang::Es),
        ("UY", Lang::Es),
        ("PY", Lang::Es),
        ("BO", Lang::Es),
        ("EC", Lang::Es),
        ("CR", Lang::Es),
        ("PA", Lang::Es),
        ("GT", Lang::Es),
        ("SV", Lang::Es),
        ("HN", Lang::Es),
        ("NI", Lang::Es),
        ("CU", Lang::Es),
        ("DO", Lang::Es),
        ("GB", Lang::En),
        ("IE", Lang::En),
        ("AU", Lang::En),
        ("NZ", Lang::En),
    ];
    match sender.kind() {
        IdentityKind::Whatsapp => CODES
            .iter()
            .find(|(code, _)| sender.value().starts_with(code))
            .map(|(_, lang)| *lang),
        IdentityKind::WhatsappUser => {
            let (country, _) = sender.value().split_once('.')?;
            COUNTRIES
                .iter()
                .find(|(c, _)| *c == country)
                .map(|(_, lang)| *lang)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_whatsapp_senders_country_gives_the_language_of_a_message_that_shows_none() {
        let number = |n: &str| sender_language(&Identity::whatsapp(n).unwrap());
        assert_eq!(number("5511987654321"), Some(Lang::Pt));
        assert_eq!(number("+351 912 345 678"), Some(Lang::Pt));
        assert_eq!(number("5215512345678"), Some(Lang::Es));
        assert_eq!(number("5491112345678"), Some(Lang::Es));
        assert_eq!(number("34612345678"), Some(Lang::Es));
        assert_eq!(number("59171234567"), Some(Lang::Es));
        assert_eq!(number("447700900123"), Some(Lang::En));
        assert_eq!(number("353861234567"), Some(Lang::En));
        // +1 is several countries and languages; +33, +599 (Curaçao) none of the bot's.
        assert_eq!(number("14155550123"), None);
        assert_eq!(number("33612345678"), None);
        assert_eq!(number("5999512345"), None);
        let user = |u: &str| sender_language(&Identity::whatsapp_user(u).unwrap());
        assert_eq!(user("BR.13491208655302741918"), Some(Lang::Pt));
        assert_eq!(user("CO.1349120865530"), Some(Lang::Es));
        assert_eq!(user("US.13491208655302741918"), None);
        assert_eq!(sender_language(&Identity::visitor("v-1").unwrap()), None);
    }
}
