-- The team's web page (`/web`): one-time sign-in links, browser sessions and what each
-- principal has read of the alerts feed. Only hashes of links and session ids are kept.

-- A sign-in link sent in chat (`/web`): short-lived, used once.
CREATE TABLE web_sign_ins (
    code_hash   TEXT PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    created_at  TEXT NOT NULL
);

-- A signed-in browser: a person (from a link) or an API token (`token_id`; NULL with
-- `principal` 'token:bootstrap' for the bootstrap token). The actor's role is read again on
-- every request, so a changed role or a revoked token takes effect at once.
CREATE TABLE web_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    id_hash     TEXT NOT NULL UNIQUE,
    principal   TEXT NOT NULL,
    person_id   INTEGER REFERENCES people(id) ON DELETE CASCADE,
    token_id    INTEGER REFERENCES api_tokens(id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX web_sessions_principal ON web_sessions(principal);

-- Until when each principal has read the alerts feed (its unread count).
CREATE TABLE web_feed_reads (
    principal  TEXT PRIMARY KEY,
    seen_at    TEXT NOT NULL
);
