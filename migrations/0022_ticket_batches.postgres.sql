-- PostgreSQL part of migration 22.
--
-- A batch of portal tickets in one statement, so in one round trip and one implicit
-- transaction: the conversations, their opening events, the tickets, their cards, the
-- clients' audit lines and the first messages. Each argument is a JSON array of rows keyed
-- by column, as `jsonb_populate_recordset` reads them, so the statement is the same
-- whatever the batch's size: its plans are cached once per connection. (Inserting the rows
-- as `VALUES` lists took a statement per table, a round trip each, and a new statement text
-- for every batch size, planned again whenever it fell out of the connection's cache.)
--
-- The tables' own triggers run as they do for any insert, statement by statement and in
-- this order: the conversations' search and activity rows exist before the messages'
-- trigger updates them.
--
-- A ticket whose form key another transaction stored first (the same form sent to two
-- nodes at once) undoes the whole batch with SQLSTATE SB001; the caller answers those
-- forms with the stored tickets and sends the others again.

CREATE FUNCTION switchboard_open_tickets(
    conversation_rows jsonb, event_rows jsonb, ticket_rows jsonb, card_rows jsonb,
    audit_rows jsonb, message_rows jsonb) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    stored bigint;
BEGIN
    INSERT INTO conversations (id, number, inbox, channel, contact_id, company_id, thread_key,
        subject, status, priority, tier, labels, created_at, updated_at, last_message_at,
        bot_active, people_since)
    SELECT id, number, inbox, channel, contact_id, company_id, thread_key,
        subject, status, priority, tier, labels, created_at, updated_at, last_message_at,
        bot_active, people_since
    FROM jsonb_populate_recordset(NULL::conversations, conversation_rows);

    INSERT INTO events (id, conversation_id, kind, payload, created_at)
    SELECT id, conversation_id, kind, payload, created_at
    FROM jsonb_populate_recordset(NULL::events, event_rows);

    WITH t AS (
        INSERT INTO tickets (id, number, conversation_id, company_id, contact_id, subject,
            category, client_key, created_at)
        SELECT id, number, conversation_id, company_id, contact_id, subject,
            category, client_key, created_at
        FROM jsonb_populate_recordset(NULL::tickets, ticket_rows)
        ON CONFLICT DO NOTHING
        RETURNING 1
    )
    SELECT count(*) INTO stored FROM t;
    IF stored < jsonb_array_length(ticket_rows) THEN
        RAISE EXCEPTION 'a ticket of the batch was opened meanwhile' USING ERRCODE = 'SB001';
    END IF;

    INSERT INTO cards (id, conversation_id, kind, subject_id, payload, created_at, updated_at)
    SELECT id, conversation_id, kind, subject_id, payload, created_at, updated_at
    FROM jsonb_populate_recordset(NULL::cards, card_rows);

    INSERT INTO portal_audit (id, company_id, contact_id, user_id, action, subject, detail,
        created_at)
    SELECT id, company_id, contact_id, user_id, action, subject, detail, created_at
    FROM jsonb_populate_recordset(NULL::portal_audit, audit_rows);

    INSERT INTO messages (id, conversation_id, direction, author_kind, author_id, channel,
        text, full_text, html, attachments, delivery_state, external_id, idempotency_key,
        extra, attempts, created_at, updated_at)
    SELECT id, conversation_id, direction, author_kind, author_id, channel,
        text, full_text, html, attachments, delivery_state, external_id, idempotency_key,
        extra, attempts, created_at, updated_at
    FROM jsonb_populate_recordset(NULL::messages, message_rows);
    RETURN stored;
END
$$;
