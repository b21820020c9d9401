-- The durable inbox and outbox, and idempotency keys so that an inbound event processed twice
-- (after a crash) creates its task or comment once.

ALTER TABLE tasks ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX tasks_source_key ON tasks(source_key);
ALTER TABLE comments ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX comments_source_key ON comments(source_key);

CREATE TABLE inbox_events (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    channel          TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    chat_id          TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    last_error       TEXT,
    created_at       TEXT NOT NULL,
    finished_at      TEXT,
    UNIQUE (channel, event_id)
);
CREATE INDEX inbox_due ON inbox_events(status, next_attempt_at);

CREATE TABLE outbox_messages (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    channel              TEXT NOT NULL,
    chat_id              TEXT NOT NULL,
    payload              TEXT NOT NULL,
    dedupe_key           TEXT UNIQUE,
    status               TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT NOT NULL,
    locked_until         TEXT,
    last_error           TEXT,
    platform_message_id  TEXT,
    created_at           TEXT NOT NULL,
    finished_at          TEXT
);
CREATE INDEX outbox_due ON outbox_messages(status, next_attempt_at);
CREATE INDEX outbox_chat ON outbox_messages(channel, chat_id, status, id);
