//! The knowledge base and the real bot on every backend: articles imported, updated by
//! their external id, revised, voted on, linked as translations; bad input changes
//! nothing; the bot answers from published articles only, learns from a "yes", records
//! what it could not answer, hands off to N1 with a summary and then stays silent,
//! answers one message once even when handed the same entry twice, and keeps each
//! conversation's language for a message that shows none.

use std::sync::Arc;
use std::time::Duration;

use switchboard_bots::brain::{Brain, BrainOptions};
use switchboard_bots::hook::{FixedBrain, KbBot};
use switchboard_bots::policy::Settings;
use switchboard_core::Error;
use switchboard_core::bot::{BotOptions, BotOutcome, BotWorker};
use switchboard_core::domain::{AuthorKind, Channel, Identity, Tier};
use switchboard_core::store::ConversationFilter;
use switchboard_core::store::kb::{ArticleFilter, ArticleInput, ArticleKind, ArticleStatus, Saved};
use switchboard_core::stream::INBOUND;

use crate::on_every_backend;
use crate::support::Env;

on_every_backend!(
    articles_are_saved_revised_voted_and_linked,
    the_bot_answers_learns_hands_off_and_stays_silent,
    the_bot_keeps_each_conversations_language,
);

fn input(ext: &str, lang: &str, title: &str, body: &str, questions: &[&str]) -> ArticleInput {
    ArticleInput {
        external_id: Some(ext.into()),
        lang: lang.into(),
        kind: ArticleKind::Faq,
        status: ArticleStatus::Published,
        category: "Billing".into(),
        title: title.into(),
        body: body.into(),
        questions: questions.iter().map(|q| (*q).to_owned()).collect(),
        tags: vec![],
        translation_of: None,
    }
}

async fn articles_are_saved_revised_voted_and_linked(env: Env) {
    let s = &env.store;
    let (a, saved) = s
        .save_article(
            &env.ids,
            input(
                "pay-en",
                "en",
                "Pay an invoice",
                "Open **Invoices**.",
                &["how do i pay"],
            ),
            Some("import"),
        )
        .await
        .unwrap();
    assert_eq!(
        (saved, a.version, a.slug.as_str()),
        (Saved::Created, 1, "pay-an-invoice")
    );
    // The same again changes nothing; a changed body is a new version.
    let (_, saved) = s
        .save_article(
            &env.ids,
            input(
                "pay-en",
                "en",
                "Pay an invoice",
                "Open **Invoices**.",
                &["how do i pay"],
            ),
            None,
        )
        .await
        .unwrap();
    assert_eq!(saved, Saved::Unchanged);
    let (b, saved) = s
        .save_article(
            &env.ids,
            input(
                "pay-en",
                "en",
                "Pay an invoice",
                "Open **Billing → Invoices**.",
                &["how do i pay"],
            ),
            Some("nina"),
        )
        .await
        .unwrap();
    assert_eq!(
        (saved, b.id.as_str(), b.version),
        (Saved::Updated, a.id.as_str(), 2)
    );
    let revisions = s.article_revisions(&a.id).await.unwrap();
    assert_eq!(
        revisions.iter().map(|r| r.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(revisions[0].author.as_deref(), Some("nina"));
    assert!(revisions[1].body.contains("Open **Invoices**"));
    // Another article with the same title in the same language gets its own slug.
    let (twin, _) = s
        .save_article(
            &env.ids,
            input("pay-en-2", "en", "Pay an invoice", "Other body.", &[]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(twin.slug, "pay-an-invoice-2");
    // A translation joins the first one's group.
    let mut pt = input("pay-pt", "pt", "Pagar uma fatura", "Abra **Faturas**.", &[]);
    pt.translation_of = Some("pay-en".into());
    let (pt, _) = s.save_article(&env.ids, pt, None).await.unwrap();
    assert_eq!(pt.translation_group, a.translation_group);
    let langs: Vec<String> = s
        .translations(&a.translation_group)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.lang)
        .collect();
    assert_eq!(langs, vec!["en", "pt"]);
    assert_eq!(
        s.article_by_slug("pt", "pagar-uma-fatura")
            .await
            .unwrap()
            .unwrap()
            .id,
        pt.id
    );

    // An editor working from an old version is refused; the right version goes through.
    let stale = s
        .edit_article(
            &env.ids,
            &a.id,
            input("pay-en", "en", "Pay", "x", &[]),
            1,
            Some("ana"),
        )
        .await;
    assert!(matches!(stale, Err(Error::Conflict(_))), "{stale:?}");
    let mut internal = input("pay-en", "en", "Pay an invoice", "Agents only.", &[]);
    internal.status = ArticleStatus::Internal;
    let c = s
        .edit_article(&env.ids, &a.id, internal, 2, Some("ana"))
        .await
        .unwrap();
    assert_eq!(
        (c.version, c.slug.as_str()),
        (3, "pay-an-invoice"),
        "a published slug stays"
    );

    // Bad input is refused whole and stores nothing.
    let before = s.articles(&ArticleFilter::default()).await.unwrap().len();
    for bad in [
        input("x1", "fr", "Titre", "Corps", &[]),
        input("x2", "en", "   ", "Body", &[]),
        input("x3", "en", "Title", "  ", &[]),
        input("x4", "en", &"t".repeat(201), "Body", &[]),
    ] {
        let r = s.save_article(&env.ids, bad, None).await;
        assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    }
    let mut translates_nothing = input("x5", "en", "T", "B", &[]);
    translates_nothing.translation_of = Some("nope".into());
    assert!(matches!(
        s.save_article(&env.ids, translates_nothing, None).await,
        Err(Error::NotFound(_))
    ));
    assert_eq!(
        s.articles(&ArticleFilter::default()).await.unwrap().len(),
        before
    );

    // Lists filter by language and status.
    let published = s
        .articles(&ArticleFilter {
            lang: Some("en".into()),
            statuses: vec![ArticleStatus::Published],
            category: None,
        })
        .await
        .unwrap();
    assert_eq!(
        published
            .iter()
            .map(|a| a.external_id.clone().unwrap())
            .collect::<Vec<_>>(),
        vec!["pay-en-2"]
    );
    assert_eq!(s.article_versions().await.unwrap().len(), 3);

    // Votes: one per voter, which may change its mind.
    assert_eq!(s.vote_article(&pt.id, "v1", true, 1).await.unwrap(), (1, 0));
    assert_eq!(s.vote_article(&pt.id, "v1", true, 2).await.unwrap(), (1, 0));
    assert_eq!(
        s.vote_article(&pt.id, "v1", false, 3).await.unwrap(),
        (0, 1)
    );
    assert_eq!(s.vote_article(&pt.id, "v2", true, 4).await.unwrap(), (1, 1));
    assert!(matches!(
        s.vote_article("nope", "v1", true, 5).await,
        Err(Error::NotFound(_))
    ));
}

/// The bot over the store's published articles, linking to `https://help.example`.
async fn kb_bot(env: &Env, settings: Settings) -> Arc<KbBot> {
    let articles = env.store.articles(&ArticleFilter::default()).await.unwrap();
    let brain = Arc::new(Brain::build(&articles, &[], BrainOptions::default()));
    Arc::new(KbBot {
        store: env.store.clone(),
        ids: env.ids.clone(),
        brains: Arc::new(FixedBrain(brain)),
        settings: Settings {
            public_url: "https://help.example".into(),
            ..settings
        },
    })
}

fn worker(env: &Env, bot: Arc<KbBot>) -> BotWorker {
    BotWorker {
        store: env.store.clone(),
        stream: env.stream.clone(),
        outbox: env.outbox(),
        realtime: env.realtime.clone(),
        ids: env.ids.clone(),
        bot,
        consumer: "bot-1".into(),
        options: BotOptions {
            reclaim_idle: Duration::from_secs(60),
            ..Default::default()
        },
    }
}

async fn step(env: &Env, w: &BotWorker) -> Vec<BotOutcome> {
    let router = env.plain_router();
    while router.step(Duration::from_millis(50)).await.unwrap() > 0 {}
    env.stream
        .ensure_group(INBOUND, switchboard_core::bot::GROUP)
        .await
        .unwrap();
    let entries = env
        .stream
        .read(
            INBOUND,
            switchboard_core::bot::GROUP,
            "bot-1",
            100,
            Duration::from_millis(200),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    for e in &entries {
        out.push(w.handle(e).await.unwrap());
        // Handed the same entry again (a crash before the ack): nothing more happens.
        assert_eq!(w.handle(e).await.unwrap(), BotOutcome::Skipped);
        env.stream
            .ack(
                INBOUND,
                switchboard_core::bot::GROUP,
                std::slice::from_ref(&e.id),
            )
            .await
            .unwrap();
    }
    out
}

async fn the_bot_answers_learns_hands_off_and_stays_silent(env: Env) {
    let s = &env.store;
    let toner = input(
        "toner",
        "en",
        "Order toner",
        "Open **Supplies → Order toner**.",
        &[
            "how do i order toner",
            "toner is empty",
            "need new toner",
            "where can I buy cartridges",
        ],
    );
    let jam = input(
        "jam",
        "en",
        "Clear a paper jam",
        "Open the front door and pull the sheet.",
        &[
            "paper is stuck",
            "printer jammed",
            "paper jam in the tray",
            "remove stuck paper",
        ],
    );
    let mut secret = input(
        "secret",
        "en",
        "Refund override",
        "Agents only: the override code.",
        &[
            "refund override code",
            "override the refund",
            "refund override",
        ],
    );
    secret.status = ArticleStatus::Internal;
    for i in [toner, jam, secret] {
        s.save_article(&env.ids, i, None).await.unwrap();
    }
    let bot = kb_bot(
        &env,
        Settings {
            threshold_webchat: 0.3,
            ..Settings::default()
        },
    )
    .await;
    let w = worker(&env, bot.clone());

    // An answer from a published article, with its link and the two buttons.
    env.inbound(&env.envelope("v", "1", "my toner is empty, how do I order more?"))
        .await;
    assert_eq!(step(&env, &w).await, vec![BotOutcome::Answered]);
    let conv = s
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
        .remove(0);
    let thread = s.messages(&conv.id, None, 0).await.unwrap();
    let answer = thread.last().unwrap();
    assert_eq!(answer.author_kind, AuthorKind::Bot);
    let content = answer.content.clone().unwrap();
    assert_eq!(content.articles[0].id, "toner");
    assert_eq!(
        content.articles[0].url,
        "https://help.example/help/en/order-toner"
    );
    assert_eq!(
        content.quick_replies,
        vec!["Yes, thanks", "Talk to a person"]
    );

    // "Yes": thanked, and the question is learned for that article.
    env.inbound(&env.envelope("v", "2", "Yes, thanks")).await;
    assert_eq!(step(&env, &w).await, vec![BotOutcome::Answered]);
    let learned = s.learned_questions().await.unwrap();
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0].1, "my toner is empty, how do I order more?");

    // The internal article never answers a client, even when the message has its very
    // words (a message of nothing but them reads as no business of the public articles').
    env.inbound(&env.envelope(
        "v",
        "3",
        "refund override code for the toner I ordered, how do I order more?",
    ))
    .await;
    let out = step(&env, &w).await;
    let thread = s.messages(&conv.id, None, 0).await.unwrap();
    for m in thread.iter().filter(|m| m.author_kind == AuthorKind::Bot) {
        assert!(
            !m.text.contains("Agents only") && !m.text.contains("Refund override"),
            "{out:?}: {}",
            m.text
        );
        let refs = m
            .content
            .as_ref()
            .map(|c| c.articles.clone())
            .unwrap_or_default();
        assert!(refs.iter().all(|r| r.id != "secret"));
    }
    assert_eq!(
        out,
        vec![BotOutcome::Answered],
        "at this threshold it answers with something public"
    );

    // Asking for a person hands over to N1 with the summary, once.
    env.inbound(&env.envelope("v", "4", "can I talk to a human please"))
        .await;
    assert_eq!(step(&env, &w).await, vec![BotOutcome::AnsweredAndHandedOff]);
    let conv_now = s.conversation(&conv.id).await.unwrap();
    assert_eq!(conv_now.tier, Tier::N1);
    assert!(!conv_now.bot_active);
    let thread = s.messages(&conv.id, None, 0).await.unwrap();
    let system: Vec<_> = thread
        .iter()
        .filter(|m| m.author_kind == AuthorKind::System)
        .collect();
    assert_eq!(system.len(), 1);
    assert!(
        system[0].text.contains("Reason: person"),
        "{}",
        system[0].text
    );
    assert!(
        system[0].text.contains("Offered: Order toner"),
        "{}",
        system[0].text
    );

    // Once a person is involved the bot never speaks again.
    env.agent_says(&conv.id, "Hi, Nina here").await;
    let bots = env.count_by(&conv.id, AuthorKind::Bot).await;
    env.inbound(&env.envelope("v", "5", "how do I order toner"))
        .await;
    assert_eq!(step(&env, &w).await, vec![BotOutcome::Skipped]);
    assert_eq!(env.count_by(&conv.id, AuthorKind::Bot).await, bots);

    // An auto-reply or a bounce is never answered, even a question the bot knows.
    let mut auto = env.envelope("x", "x1", "how do I order toner");
    auto.auto_submitted = true;
    env.inbound(&auto).await;
    let out = step(&env, &w).await;
    assert!(out.iter().all(|o| *o == BotOutcome::Skipped), "{out:?}");
    for c in s
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
    {
        if c.id != conv.id {
            assert_eq!(env.count_by(&c.id, AuthorKind::Bot).await, 0);
        }
    }

    // Below the threshold: handed to people, and the question is a gap of the knowledge
    // base, with the best guess.
    let strict = Arc::new(KbBot {
        // Above any confidence: nothing is sure enough.
        settings: Settings {
            threshold_webchat: 1.01,
            ..bot.settings.clone()
        },
        store: s.clone(),
        ids: env.ids.clone(),
        brains: bot.brains.clone(),
    });
    let w = worker(&env, strict);
    env.inbound(&env.envelope("w", "w1", "the paper got stuck in the tray"))
        .await;
    assert_eq!(step(&env, &w).await, vec![BotOutcome::AnsweredAndHandedOff]);
    // Gaps are clients' words: a coordinator of another company sees none of them.
    let caller = |role, companies: &[&str]| switchboard_core::store::Caller {
        user_id: "someone".into(),
        role,
        tier: None,
        teams: Vec::new(),
        companies: companies.iter().map(|c| (*c).to_owned()).collect(),
    };
    let other = caller(
        switchboard_core::domain::Role::Coordinator,
        &["another-company"],
    );
    assert!(s.bot_gaps(&other, 0, 10).await.unwrap().is_empty());
    let admin = caller(switchboard_core::domain::Role::Admin, &[]);
    let gaps = s.bot_gaps(&admin, 0, 10).await.unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0].text, "the paper got stuck in the tray");
    assert_eq!(gaps[0].reason, "low_confidence");
    let jam = s.article_by_external("jam").await.unwrap().unwrap();
    assert_eq!(gaps[0].best_article_id.as_deref(), Some(jam.id.as_str()));
}

/// One article of a topic: its language, title, body and questions.
type Translation = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// A conversation's language outlives the message that showed it: "q significa T-01" is
/// Portuguese and Spanish alike, and is answered in the language its conversation was
/// written in before, the bot's memory going through the store. On WhatsApp, a first
/// "T-01??" is read in the language of its number's country.
async fn the_bot_keeps_each_conversations_language(env: Env) {
    let s = &env.store;
    let topics: [(&str, [Translation; 3]); 2] = [
        (
            "toner",
            [
                (
                    "en",
                    "Ordering toner",
                    "Open Supplies, then Order toner.",
                    &["how do I order toner", "toner is running out"],
                ),
                (
                    "es",
                    "Pedir tóner",
                    "Abra Suministros y luego Pedir tóner.",
                    &["cómo pido tóner", "se acaba el tóner"],
                ),
                (
                    "pt",
                    "Pedir toner",
                    "Abra Suprimentos e depois Pedir toner.",
                    &["como peço toner", "o toner está acabando"],
                ),
            ],
        ),
        (
            "codes",
            [
                (
                    "en",
                    "Error codes",
                    "T-01 means the toner is not seated; W-02 the waste box is full.",
                    &["what does error code T-01 mean", "the display shows W-02"],
                ),
                (
                    "es",
                    "Códigos de error",
                    "T-01 indica que el tóner no está encajado; W-02 que la caja de residuos está llena.",
                    &["qué significa el código T-01", "la pantalla muestra W-02"],
                ),
                (
                    "pt",
                    "Códigos de erro",
                    "T-01 indica que o toner não está encaixado; W-02 que a caixa de resíduos está cheia.",
                    &["o que significa o código T-01", "o visor mostra W-02"],
                ),
            ],
        ),
    ];
    for (topic, langs) in topics {
        for (lang, title, body, questions) in langs {
            let mut a = input(&format!("{topic}-{lang}"), lang, title, body, questions);
            if lang != "en" {
                a.translation_of = Some(format!("{topic}-en"));
            }
            s.save_article(&env.ids, a, None).await.unwrap();
        }
    }
    let bot = kb_bot(
        &env,
        Settings {
            threshold_webchat: 0.3,
            threshold_other: 0.3,
            ..Settings::default()
        },
    )
    .await;
    let w = worker(&env, bot);
    for (visitor, first) in [
        ("a", "hola, cómo pido tóner?"),
        ("b", "oi, como peço toner?"),
    ] {
        env.inbound(&env.envelope(visitor, &format!("{visitor}1"), first))
            .await;
        assert_eq!(step(&env, &w).await, vec![BotOutcome::Answered], "{first}");
        env.inbound(&env.envelope(visitor, &format!("{visitor}2"), "q significa T-01"))
            .await;
        assert_eq!(
            step(&env, &w).await,
            vec![BotOutcome::Answered],
            "{visitor}"
        );
    }
    // On WhatsApp a first message that shows no language of its own is read in the
    // language of the country its number belongs to.
    for (number, id) in [("5511987654321", "w1"), ("5215512345678", "w2")] {
        let mut e = env.envelope("unused", id, "T-01??");
        e.channel = Channel::Whatsapp;
        e.inbox = "whatsapp:main".into();
        e.sender = Identity::whatsapp(number).unwrap();
        env.inbound(&e).await;
        assert_eq!(step(&env, &w).await, vec![BotOutcome::Answered], "{number}");
    }
    let mut seen = Vec::new();
    for c in s
        .conversations(&ConversationFilter::default())
        .await
        .unwrap()
    {
        let thread = s.messages(&c.id, None, 0).await.unwrap();
        let answers: Vec<String> = thread
            .iter()
            .filter(|m| m.author_kind == AuthorKind::Bot)
            .filter_map(|m| Some(m.content.as_ref()?.articles.first()?.id.clone()))
            .collect();
        seen.push(answers);
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            vec!["codes-es".to_owned()],
            vec!["codes-pt".to_owned()],
            vec!["toner-es".to_owned(), "codes-es".to_owned()],
            vec!["toner-pt".to_owned(), "codes-pt".to_owned()],
        ]
    );
}
