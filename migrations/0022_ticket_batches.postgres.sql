-- PostgreSQL part of migration 22.
--
-- A batch of portal tickets in one statement, so in one round trip and one implicit
-- transaction: the conversations, their inbox activity and search rows, their opening
-- events, the tickets, their cards, the clients' audit lines and the first messages. Each
-- argument is a JSON array of rows keyed by column, as `jsonb_populate_recordset` reads
-- them, so the statement is the same whatever the batch's size: its plans are cached once
-- per connection. (Inserting the rows as `VALUES` lists took a statement per table, a
-- round trip each, and a new statement text for every batch size, planned again whenever
-- it fell out of the connection's cache.)
--
-- The batch writes its conversations' inbox rows itself, once, with their final values.
-- Left to the triggers, the conversations' trigger would write each new conversation's
-- activity and search rows from its subject, and the messages' trigger would then write
-- both again with the first message's preview and words: two versions of each row, with
-- their index entries (the search row's in a GIN index), for every ticket. So the inbox
-- triggers stand aside while the batch runs: it sets `switchboard.inbox_rows` for its own
-- transaction and clears it when it is done, and the triggers' WHEN skips them while it is
-- set. Every other insert runs them as before.
--
-- A ticket whose form key another transaction stored first (the same form sent to two
-- nodes at once) undoes the whole batch with SQLSTATE SB001; the caller answers those
-- forms with the stored tickets and sends the others again.

DROP TRIGGER conversations_inbox_list ON conversations;
CREATE TRIGGER conversations_inbox_list AFTER INSERT ON conversations
REFERENCING NEW TABLE AS new_conversations
FOR EACH STATEMENT
WHEN (current_setting('switchboard.inbox_rows', true) IS DISTINCT FROM 'written')
EXECUTE FUNCTION switchboard_conversations_inserted();

DROP TRIGGER messages_inbox_list ON messages;
CREATE TRIGGER messages_inbox_list AFTER INSERT ON messages
REFERENCING NEW TABLE AS new_messages
FOR EACH STATEMENT
WHEN (current_setting('switchboard.inbox_rows', true) IS DISTINCT FROM 'written')
EXECUTE FUNCTION switchboard_messages_inserted();

CREATE FUNCTION switchboard_open_tickets(
    conversation_rows jsonb, event_rows jsonb, ticket_rows jsonb, card_rows jsonb,
    audit_rows jsonb, message_rows jsonb) RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    stored bigint;
BEGIN
    PERFORM set_config('switchboard.inbox_rows', 'written', true);
    INSERT INTO conversations (id, number, inbox, channel, contact_id, company_id, thread_key,
        subject, status, priority, tier, labels, created_at, updated_at, last_message_at,
        bot_active, people_since)
    SELECT id, number, inbox, channel, contact_id, company_id, thread_key,
        subject, status, priority, tier, labels, created_at, updated_at, last_message_at,
        bot_active, people_since
    FROM jsonb_populate_recordset(NULL::conversations, conversation_rows);

    -- The inbox rows the triggers would write (migrations 5, 7 and 21), once and with
    -- their final values: a new conversation with at most one message, not internal.
    -- A second message of one conversation would be a second activity row, refused by
    -- its primary key.
    INSERT INTO conversation_activity (conversation_id, preview, preview_author,
        preview_message_id, last_inbound_at, last_reply_id, waiting_since, unresolved)
    SELECT c.id, COALESCE(left(m.text, 300), ''), m.author_kind, m.id,
           CASE WHEN m.author_kind = 'contact' THEN m.created_at END,
           CASE WHEN m.author_kind IN ('agent', 'bot') THEN m.id END,
           CASE WHEN m.author_kind = 'contact' THEN m.created_at END,
           CASE WHEN c.status = 'resolved' THEN 0 ELSE 1 END
    FROM jsonb_populate_recordset(NULL::conversations, conversation_rows) c
    LEFT JOIN jsonb_populate_recordset(NULL::messages, message_rows) m
        ON m.conversation_id = c.id;

    INSERT INTO conversation_search (conversation_id, contact, body)
    SELECT c.id,
           COALESCE((SELECT w.words FROM contact_search w WHERE w.contact_id = c.contact_id),
                    switchboard_contact_search(c.contact_id)),
           strip(strip(to_tsvector('switchboard_search',
                                   switchboard_search_text(COALESCE(left(c.subject, 10000), ''))))
                 || COALESCE(to_tsvector('switchboard_search',
                                         switchboard_search_text(left(m.text, 100000))),
                             ''::tsvector))
    FROM jsonb_populate_recordset(NULL::conversations, conversation_rows) c
    LEFT JOIN jsonb_populate_recordset(NULL::messages, message_rows) m
        ON m.conversation_id = c.id;

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
    PERFORM set_config('switchboard.inbox_rows', '', true);
    RETURN stored;
END
$$;
