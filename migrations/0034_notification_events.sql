-- What an agent's notification is about, so each event notifies a user once however
-- often it is seen: a client's message (its id), an SLA breach (the conversation and
-- which target), a survey answered (the survey). Older rows (mentions, assignments) have
-- none: NULLs never collide.
ALTER TABLE notifications ADD COLUMN event TEXT;
CREATE UNIQUE INDEX notifications_once ON notifications (user_id, kind, event);
