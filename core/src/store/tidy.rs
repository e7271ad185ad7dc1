//! A rule the build checks (in the spirit of rust-analyzer's `tidy.rs`): every public
//! store function that returns conversation or message data takes the reader's scope, a
//! `Caller` for agents or a `ClientScope` for clients, unless it is on the list below with
//! the reason it may not. A new unscoped reader fails this test until it is scoped or
//! listed; a listed function that is gone fails it too, so the list stays true.

use std::collections::BTreeSet;

/// Types whose values carry conversation or message data (client words, previews).
const SENSITIVE: &[&str] = &[
    "Message",
    "Conversation",
    "BotGap",
    "ListPage",
    "InboxRow",
    "StoredCard",
    "Card",
    "DeadLetter",
    "Attachment",
    "Ticket",
    "ContactHit",
    "ContactSummary",
    "Notification",
    "LearnedQuestion",
    "Machine",
    "MeterReading",
    "Contract",
    "ClosedPeriod",
    "MachineRequest",
    "Visit",
    "Notice",
    "HookDelivery",
    "HookClaim",
];

/// What a scoped reader takes: an agent's `Caller`, a client's `ClientScope`, or a
/// ticket that was itself read through a `ClientScope`.
const SCOPES: &[&str] = &["Caller", "&ClientScope", "&Ticket"];

/// `(file, function, why it takes no scope)`.
const UNSCOPED: &[(&str, &str, &str)] = &[
    (
        "webhooks.rs",
        "claim_hook",
        "the dispatcher's worker: a delivery to post to its subscriber",
    ),
    (
        "webhooks.rs",
        "hook_delivery",
        "the webhook log, admins only (the admin pages and API require the admin role)",
    ),
    (
        "webhooks.rs",
        "hook_deliveries",
        "the webhook log, admins only (the admin pages and API require the admin role)",
    ),
    (
        "notes.rs",
        "add_notifications_once",
        "a writer (an event told to the agents it concerns); returns what it stored",
    ),
    (
        "notices.rs",
        "add_notice",
        "a writer (an event's notice); returns what it stored",
    ),
    (
        "notices.rs",
        "claim_waiting_notices",
        "the sending worker: every contact's waiting notices, to send to that contact",
    ),
    (
        "visits.rs",
        "schedule_visit",
        "a writer (the desk books a visit); returns what it stored",
    ),
    ("visits.rs", "visit", "workers; people read visit_for_*"),
    (
        "visits.rs",
        "machine_visits",
        "a machine's visits, after a scoped lookup of the machine",
    ),
    (
        "equipment.rs",
        "add_machine",
        "a writer (an admin's import); returns what it stored",
    ),
    (
        "equipment.rs",
        "machine",
        "workers and the message readers; people read machine_for_*",
    ),
    (
        "equipment.rs",
        "company_machines",
        "the message readers match a serial against the sender's own company",
    ),
    (
        "equipment.rs",
        "meter_readings",
        "a machine's readings, after a scoped lookup of the machine",
    ),
    (
        "equipment.rs",
        "machine_requests",
        "a machine's requests, after a scoped lookup of the machine",
    ),
    (
        "equipment.rs",
        "conversation_request",
        "a conversation's request, after a scoped lookup of the conversation",
    ),
    (
        "equipment.rs",
        "contract_requests",
        "a contract's requests, after a scoped lookup of the contract",
    ),
    (
        "contracts.rs",
        "add_contract",
        "a writer (an admin); returns what it stored",
    ),
    (
        "contracts.rs",
        "contract",
        "the period job; people read contract_for_*",
    ),
    ("contracts.rs", "contracts_after", "the period job's pages"),
    (
        "contracts.rs",
        "contract_of_machine",
        "a machine's contract, after a scoped lookup of the machine",
    ),
    (
        "contracts.rs",
        "contract_periods",
        "a contract's periods, after a scoped lookup of the contract",
    ),
    ("contracts.rs", "readings_of_machines", "the period job"),
    (
        "contracts.rs",
        "last_readings",
        "the machine lists, after a scoped lookup of the machines",
    ),
    ("contracts.rs", "close_period", "the period job, a write"),
    (
        "attachments.rs",
        "settle_remote_media",
        "a writer (the WhatsApp media fetcher records what became of a file)",
    ),
    (
        "attachments.rs",
        "attachment_for_contact",
        "the widget's own files: its visitor's contact and inbox",
    ),
    (
        "cards.rs",
        "put_card",
        "a writer (billing and tickets post cards)",
    ),
    (
        "cards.rs",
        "update_subject_cards",
        "a writer (a document's cards follow its status)",
    ),
    ("cards.rs", "cards", "internal: card updates"),
    ("cards.rs", "cards_of_subject", "internal: card updates"),
    (
        "conversations.rs",
        "conversation",
        "router, dispatcher, bot, workers; agents read conversation_for",
    ),
    (
        "conversations.rs",
        "conversations",
        "the widget's own history, filtered by its contact",
    ),
    (
        "conversations.rs",
        "messages",
        "the widget's and a ticket's own thread, no notes, after a scoped lookup",
    ),
    ("conversations.rs", "message", "dispatcher and bot"),
    ("conversations.rs", "hand_off", "the bot's handoff, a write"),
    (
        "ingest.rs",
        "open_conversation_for",
        "billing opens a document's conversation, a write",
    ),
    (
        "notes.rs",
        "notifications",
        "the user's own notifications, by its own id",
    ),
    (
        "outbound.rs",
        "dead_letters",
        "the command line, an operator's",
    ),
    (
        "pages.rs",
        "contact_summary",
        "agent pages, after a scoped conversation lookup",
    ),
    (
        "pages.rs",
        "stored_cards",
        "agent pages, after a scoped conversation lookup",
    ),
    (
        "tickets.rs",
        "ticket_of_conversation",
        "the ticket desk's status hook, internal",
    ),
];

fn signatures(src: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (at, _) in src.match_indices("\n    pub async fn ") {
        let rest = &src[at + 1..];
        let Some(end) = rest.find(" {\n") else {
            continue;
        };
        let sig = rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
        let name = sig["pub async fn ".len()..]
            .split(['(', '<'])
            .next()
            .unwrap_or_default()
            .to_owned();
        out.push((name, sig));
    }
    out
}

fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn store_readers_of_conversations_take_the_callers_scope() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/store");
    let mut found = BTreeSet::new();
    let mut bad = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let src = std::fs::read_to_string(&path).unwrap();
        for (name, sig) in signatures(&src) {
            let returns = sig.rsplit_once("->").map_or("", |(_, r)| r);
            if !SENSITIVE.iter().any(|t| mentions(returns, t)) {
                continue;
            }
            if SCOPES.iter().any(|s| sig.contains(s)) {
                continue;
            }
            if UNSCOPED.iter().any(|(f, n, _)| *f == file && *n == name) {
                found.insert((file.clone(), name));
            } else {
                bad.push(format!("{file}: {sig}"));
            }
        }
    }
    let stale: Vec<_> = UNSCOPED
        .iter()
        .filter(|(f, n, _)| !found.contains(&((*f).to_owned(), (*n).to_owned())))
        .collect();
    assert!(
        bad.is_empty(),
        "store functions returning conversation data without a Caller (scope them, or list them in UNSCOPED with the reason):\n{}",
        bad.join("\n")
    );
    assert!(stale.is_empty(), "listed but gone: {stale:?}");
}
