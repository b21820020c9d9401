-- The chat hears first, and the admins hear of failures in chat.

-- Whether a project's chat (or the chat a task came from) also gets the reminders and the
-- first escalation step of its tasks, besides the assignee.
ALTER TABLE projects ADD COLUMN notify_chat INTEGER NOT NULL DEFAULT 1;

-- The admins' alert chat: at most one row (`/alerts here`; `/alerts off` deletes it).
CREATE TABLE alert_chat (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    channel  TEXT NOT NULL,
    chat_id  TEXT NOT NULL,
    set_by   TEXT NOT NULL,
    set_at   TEXT NOT NULL
);

-- One row per alert key (`dead:telegram:42:Forbidden…`, `channel:discord`, …): an alert is
-- sent once per key, again only after `rearm` has passed. `sent_at` NULL: held back by the
-- hourly limit of its kind, until a summary counts it (`summarized_at`).
CREATE TABLE alerts (
    key            TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    text           TEXT NOT NULL,
    occurrences    INTEGER NOT NULL DEFAULT 1,
    raised_at      TEXT NOT NULL,
    last_seen_at   TEXT NOT NULL,
    sent_at        TEXT,
    summarized_at  TEXT
);
CREATE INDEX alerts_kind_sent ON alerts(kind, sent_at);
CREATE INDEX alerts_held ON alerts(kind) WHERE sent_at IS NULL AND summarized_at IS NULL;

-- Dead letters already looked at for an alert (alerted, deduplicated or from before the alert
-- chat was set); a retry clears it.
ALTER TABLE outbox_messages ADD COLUMN alerted_at TEXT;
ALTER TABLE integration_jobs ADD COLUMN alerted_at TEXT;
CREATE INDEX outbox_dead_unalerted ON outbox_messages(id) WHERE status = 'dead' AND alerted_at IS NULL;
CREATE INDEX integration_jobs_dead_unalerted ON integration_jobs(id) WHERE status = 'dead' AND alerted_at IS NULL;
