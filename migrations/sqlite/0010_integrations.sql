-- Integrations (Zendesk, CRM): their settings as set through the API, with secrets sealed by
-- COORDINATOR_SECRET_KEY; links between our records and the outside system's; the cursors of
-- incremental syncs; and one durable queue for integration work (outbound ticket updates and
-- CRM webhooks, inbound webhook events), claimed like the outbox.

CREATE TABLE integration_settings (
    -- zendesk or crm
    integration  TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- a plain value, or NULL for a secret
    value        TEXT,
    -- a secret: 12-byte nonce followed by the AES-256-GCM ciphertext and tag
    sealed       BLOB,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (integration, name)
);

CREATE TABLE external_links (
    -- zendesk or crm
    system       TEXT NOT NULL,
    -- the outside object type: ticket, comment, deal, contact…
    object_type  TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    -- ours: task, project, person, comment (or own: a comment we wrote there)
    resource     TEXT NOT NULL,
    local_id     INTEGER NOT NULL,
    -- what was last synced (a ticket's updated_at, a hash of the CRM's fields)
    version      TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (system, object_type, external_id)
);
CREATE INDEX external_links_local ON external_links(system, resource, local_id);

CREATE TABLE sync_cursors (
    name        TEXT PRIMARY KEY,
    cursor      TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE integration_jobs (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    -- the kind of work: zendesk.ticket_update, crm.outbound, zendesk.webhook, crm.webhook
    channel              TEXT NOT NULL,
    -- jobs with the same key run in order (one ticket, one task, one CRM object)
    chat_id              TEXT NOT NULL,
    payload              TEXT NOT NULL,
    dedupe_key           TEXT UNIQUE,
    status               TEXT NOT NULL,
    attempts             INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      TEXT NOT NULL,
    locked_until         TEXT,
    last_error           TEXT,
    created_at           TEXT NOT NULL,
    finished_at          TEXT
);
CREATE INDEX integration_jobs_due ON integration_jobs(status, next_attempt_at);
CREATE INDEX integration_jobs_chat ON integration_jobs(channel, chat_id, status, id);
