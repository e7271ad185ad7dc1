-- The knowledge base: articles (guides, FAQs, manuals) in several languages, each with the
-- alternate questions clients ask for it; every change kept as a revision with who and
-- when; "was this helpful?" votes, one per voter and article; and what the bot keeps per
-- conversation and learns.
CREATE TABLE kb_articles (
    id                TEXT PRIMARY KEY,
    -- The importer's own id ("ext-1"), kept and returned; a re-import updates by it.
    external_id       TEXT UNIQUE,
    lang              TEXT NOT NULL,
    slug              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    status            TEXT NOT NULL,
    category          TEXT NOT NULL,
    title             TEXT NOT NULL,
    body              TEXT NOT NULL,
    questions         TEXT NOT NULL,
    tags              TEXT NOT NULL,
    -- Articles that translate each other share it (the first one's id).
    translation_group TEXT NOT NULL,
    helpful           BIGINT NOT NULL DEFAULT 0,
    unhelpful         BIGINT NOT NULL DEFAULT 0,
    version           BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    updated_by        TEXT
);
CREATE UNIQUE INDEX kb_articles_slug ON kb_articles (lang, slug);
CREATE INDEX kb_articles_group ON kb_articles (translation_group);

CREATE TABLE kb_revisions (
    id         TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    version    BIGINT NOT NULL,
    -- The article as it was saved, as JSON.
    snapshot   TEXT NOT NULL,
    author     TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (article_id, version)
);

CREATE TABLE kb_votes (
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    voter      TEXT NOT NULL,
    helpful    BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (article_id, voter)
);

-- Questions learned for an article beyond its own: a client who said the answer solved it,
-- an agent who confirmed a suggestion.
CREATE TABLE kb_learned (
    id         TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES kb_articles (id),
    question   TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (article_id, question)
);

-- What the bot remembers of a conversation (what it offered, how often it missed).
CREATE TABLE bot_memory (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations (id),
    state           TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Questions the bot could not answer: the knowledge base's gaps.
CREATE TABLE bot_gaps (
    id              TEXT PRIMARY KEY,
    message_id      TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL,
    text            TEXT NOT NULL,
    lang            TEXT,
    reason          TEXT NOT NULL,
    best_article_id TEXT,
    -- Confidence in thousandths.
    confidence      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX bot_gaps_created ON bot_gaps (created_at);
