-- What each queued message concerns, for GET /integrations/history: the person (the sender of
-- an inbound event, the recipient of an outbound message) and the task, when known; the text an
-- inbound event was read as (a voice note's transcript, kept so that a retry does not transcribe
-- it again). Also the audio of inbound email, kept for the inbox worker to transcribe.

ALTER TABLE inbox_events ADD COLUMN person_id BIGINT;
ALTER TABLE inbox_events ADD COLUMN task_id BIGINT;
ALTER TABLE inbox_events ADD COLUMN text TEXT;
ALTER TABLE outbox_messages ADD COLUMN person_id BIGINT;
ALTER TABLE outbox_messages ADD COLUMN task_id BIGINT;

CREATE INDEX inbox_events_history ON inbox_events(created_at, id);
CREATE INDEX outbox_messages_history ON outbox_messages(created_at, id);
CREATE INDEX inbox_events_task ON inbox_events(task_id);
CREATE INDEX outbox_messages_task ON outbox_messages(task_id);

CREATE TABLE inbound_media (
    -- e.g. email:<message-id>:<part>
    media_key   TEXT PRIMARY KEY,
    mime_type   TEXT,
    file_name   TEXT,
    bytes       BYTEA NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX inbound_media_age ON inbound_media(created_at);
