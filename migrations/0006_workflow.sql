-- The agent inbox's workflow: optimistic concurrency, snoozing, SLA clocks, internal
-- notes, auto-assignment, notifications and canned responses. Portable SQL, as in
-- 0001_backbone.sql: TEXT ids, BIGINT epoch milliseconds, BIGINT 0/1 flags.

-- Every change to a conversation increments its version; a change that names the
-- version it was based on is refused when the conversation moved on meanwhile.
ALTER TABLE conversations ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
-- SLA clocks. They start when the conversation is handed to people (a handoff, an
-- assignment, an agent's first message, or its opening when no bot runs).
ALTER TABLE conversations ADD COLUMN people_since BIGINT;
-- The first message an agent sent, and who sent it.
ALTER TABLE conversations ADD COLUMN first_response_at BIGINT;
ALTER TABLE conversations ADD COLUMN first_responder_id TEXT;
ALTER TABLE conversations ADD COLUMN resolved_at BIGINT;
-- While pending (waiting for the customer) the SLA clocks stand still: the pause under
-- way started at pending_since; pending_ms adds up the finished ones. Each pause is also
-- kept in sla_pauses, so business time can be taken out of it exactly.
ALTER TABLE conversations ADD COLUMN pending_since BIGINT;
ALTER TABLE conversations ADD COLUMN pending_ms BIGINT NOT NULL DEFAULT 0;
-- When a target was missed (the due moment); set once, by whichever node sees it first.
ALTER TABLE conversations ADD COLUMN first_response_breached_at BIGINT;
ALTER TABLE conversations ADD COLUMN resolution_breached_at BIGINT;
-- A conversation merged into another one points at it.
ALTER TABLE conversations ADD COLUMN merged_into TEXT REFERENCES conversations (id);
-- The wake-up sweep reads only snoozed conversations.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';
-- Capacity counts an agent's unresolved conversations.
CREATE INDEX conversations_open_by_assignee ON conversations (assignee_id) WHERE status <> 'resolved';
CREATE INDEX conversations_by_created ON conversations (created_at);

CREATE TABLE sla_pauses (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    started_at      BIGINT NOT NULL,
    -- NULL while the pause is under way
    ended_at        BIGINT,
    PRIMARY KEY (conversation_id, started_at)
);

-- Internal notes: agents only, never sent, never in the customer's history.
ALTER TABLE messages ADD COLUMN internal BIGINT NOT NULL DEFAULT 0;

-- (How many unresolved conversations auto-assignment gives an agent at most is
-- users.capacity, from 0004_accounts.sql.)

-- Agents' last heartbeat; online means seen within the last 90 seconds.
CREATE TABLE agent_presence (
    user_id      TEXT PRIMARY KEY REFERENCES users (id),
    last_seen_at BIGINT NOT NULL
);

-- Round-robin position per team ('' for conversations of no team), in the database so
-- that every node continues from the same agent. Locked while an assignment is chosen.
CREATE TABLE assignment_cursors (
    team         TEXT PRIMARY KEY,
    last_user_id TEXT,
    updated_at   BIGINT NOT NULL
);

-- What an agent is told about: a mention in a note, a conversation assigned to it.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY,
    user_id         TEXT NOT NULL REFERENCES users (id),
    -- mention, assigned
    kind            TEXT NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    message_id      TEXT REFERENCES messages (id),
    created_at      BIGINT NOT NULL,
    read_at         BIGINT
);
CREATE INDEX notifications_by_user ON notifications (user_id, created_at);

-- Canned responses, typed in the composer as /shortcut. Placeholders: {{contact.name}},
-- {{conversation.number}}, {{agent.name}}.
CREATE TABLE canned_responses (
    id         TEXT PRIMARY KEY,
    shortcut   TEXT NOT NULL,
    locale     TEXT NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    -- NULL for the standard set
    created_by TEXT REFERENCES users (id),
    updated_at BIGINT NOT NULL,
    UNIQUE (shortcut, locale)
);

INSERT INTO canned_responses (id, shortcut, locale, title, body, created_by, updated_at) VALUES
('std-greeting-en', 'greeting', 'en', 'Greeting',
 'Hi {{contact.name}}, thanks for getting in touch! I''m {{agent.name}}, and I''ll be looking after you today. How can I help?',
 NULL, 0),
('std-details-en', 'details', 'en', 'Ask for details or a screenshot',
 'Hi {{contact.name}}, thanks for letting us know. So I can look into this properly, could you tell me a little more? It helps to know what you were trying to do, what happened instead, and roughly when it started. If you saw an error message, a screenshot of it would be perfect.',
 NULL, 0),
('std-escalation-en', 'escalation', 'en', 'Escalation notice',
 'Hi {{contact.name}}, I''ve passed your conversation (#{{conversation.number}}) to a specialist on our team who can look into it in more depth. You don''t need to repeat anything: they can see everything we''ve discussed so far, and they''ll get back to you here as soon as possible.',
 NULL, 0),
('std-resolution-en', 'resolution', 'en', 'Resolved',
 'Hi {{contact.name}}, good news: this should now be sorted. I''ll mark conversation #{{conversation.number}} as resolved, but if anything still isn''t working, just reply here and we''ll pick it straight back up.',
 NULL, 0),
('std-follow-up-en', 'follow-up', 'en', 'Follow-up',
 'Hi {{contact.name}}, just checking in on this. Were you able to try the steps we talked about? Let me know how it went, and if you still need a hand, I''m happy to help.',
 NULL, 0),
('std-greeting-es', 'greeting', 'es', 'Saludo',
 '¡Hola, {{contact.name}}! Gracias por escribirnos. Soy {{agent.name}} y hoy me encargo de ayudarte. ¿En qué te puedo ayudar?',
 NULL, 0),
('std-details-es', 'details', 'es', 'Pedir detalles o una captura',
 '¡Hola, {{contact.name}}! Gracias por avisarnos. Para revisarlo bien, ¿me podrías dar algunos detalles más? Nos ayuda saber qué intentabas hacer, qué pasó en su lugar y desde cuándo ocurre. Si te apareció algún mensaje de error, una captura de pantalla nos vendría genial.',
 NULL, 0),
('std-escalation-es', 'escalation', 'es', 'Aviso de escalamiento',
 '¡Hola, {{contact.name}}! He pasado tu conversación (n.º {{conversation.number}}) a un especialista de nuestro equipo para que la revise más a fondo. No hace falta que repitas nada: puede ver todo lo que hemos hablado y te responderá por aquí lo antes posible.',
 NULL, 0),
('std-resolution-es', 'resolution', 'es', 'Resuelto',
 '¡Hola, {{contact.name}}! Buenas noticias: esto ya debería estar solucionado. Voy a marcar la conversación n.º {{conversation.number}} como resuelta, pero si algo sigue sin funcionar, respóndenos por aquí y lo retomamos enseguida.',
 NULL, 0),
('std-follow-up-es', 'follow-up', 'es', 'Seguimiento',
 '¡Hola, {{contact.name}}! Te escribo para saber cómo va todo. ¿Pudiste probar los pasos que te indicamos? Cuéntame qué tal te fue y, si todavía necesitas ayuda, aquí estoy.',
 NULL, 0),
('std-greeting-pt-BR', 'greeting', 'pt-BR', 'Saudação',
 'Olá, {{contact.name}}! Que bom que você entrou em contato. Eu sou {{agent.name}} e vou cuidar do seu atendimento hoje. Como posso ajudar?',
 NULL, 0),
('std-details-pt-BR', 'details', 'pt-BR', 'Pedir detalhes ou um print',
 'Olá, {{contact.name}}! Agradeço por avisar. Para eu analisar direitinho, você pode me passar mais alguns detalhes? Ajuda saber o que você estava tentando fazer, o que aconteceu no lugar e desde quando isso acontece. Se apareceu alguma mensagem de erro, um print da tela seria ótimo.',
 NULL, 0),
('std-escalation-pt-BR', 'escalation', 'pt-BR', 'Aviso de encaminhamento',
 'Olá, {{contact.name}}! Encaminhei sua conversa (nº {{conversation.number}}) para um especialista da nossa equipe, que vai analisar o caso com mais profundidade. Não precisa repetir nada: ele tem acesso a tudo o que conversamos e vai responder por aqui o quanto antes.',
 NULL, 0),
('std-resolution-pt-BR', 'resolution', 'pt-BR', 'Resolvido',
 'Olá, {{contact.name}}! Boa notícia: isso já deve estar resolvido. Vou marcar a conversa nº {{conversation.number}} como resolvida, mas, se algo ainda não estiver funcionando, é só responder aqui que a gente retoma na hora.',
 NULL, 0),
('std-follow-up-pt-BR', 'follow-up', 'pt-BR', 'Acompanhamento',
 'Olá, {{contact.name}}! Passando para saber como estão as coisas. Você conseguiu testar os passos que combinamos? Me conta como foi e, se ainda precisar de ajuda, estou à disposição.',
 NULL, 0);
