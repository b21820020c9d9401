-- The agent: conversations with their memory and token usage, and AI actions awaiting a
-- human's approval. A person's profile picks the agent's role profile.

ALTER TABLE people ADD COLUMN profile TEXT;

CREATE TABLE conversations (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    channel            TEXT NOT NULL,
    chat_id            TEXT NOT NULL,
    summary            TEXT NOT NULL DEFAULT '',
    summarized_until   INTEGER NOT NULL DEFAULT 0,
    prompt_tokens      INTEGER NOT NULL DEFAULT 0,
    completion_tokens  INTEGER NOT NULL DEFAULT 0,
    turns              INTEGER NOT NULL DEFAULT 0,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    UNIQUE (channel, chat_id)
);

CREATE TABLE conversation_messages (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role             TEXT NOT NULL,
    content          TEXT NOT NULL,
    tokens           INTEGER NOT NULL,
    created_at       TEXT NOT NULL
);
CREATE INDEX conversation_messages_by_conversation ON conversation_messages(conversation_id, id);

CREATE TABLE ai_turns (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    source_key         TEXT UNIQUE,
    steps              INTEGER NOT NULL,
    prompt_tokens      INTEGER NOT NULL,
    completion_tokens  INTEGER NOT NULL,
    model              TEXT NOT NULL,
    reply              TEXT NOT NULL,
    created_at         TEXT NOT NULL
);

CREATE TABLE ai_actions (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    action_type      TEXT NOT NULL,
    data             TEXT NOT NULL,
    status           TEXT NOT NULL,
    summary          TEXT NOT NULL,
    proposed_by      TEXT NOT NULL,
    origin_channel   TEXT,
    origin_chat      TEXT,
    decided_by       TEXT,
    result           TEXT,
    created_at       TEXT NOT NULL,
    decided_at       TEXT
);
CREATE INDEX ai_actions_status ON ai_actions(status, id);

-- Per-chat ordering of inbound work (several inbox workers on PostgreSQL).
CREATE INDEX inbox_chat ON inbox_events(channel, chat_id, status, id);
