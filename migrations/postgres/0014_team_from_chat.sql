-- The team administered from chat.
--
-- The one-time code with which the first admin claims the bot from a chat (`/claim CODE`):
-- `serve` makes one at each start while no admin person exists, and a new start replaces it
-- (one row). Only its SHA-256 is kept.
CREATE TABLE claim_codes (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    code_hash   TEXT NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);

-- What a person made by `/invite` takes from whoever redeems the link code: 0 nothing, 1 the
-- name they have on their platform, 2 the name and, when it is free, the handle.
ALTER TABLE link_codes ADD COLUMN adopt_sender INTEGER NOT NULL DEFAULT 0;

-- A task made in a project's chat belongs to that project: find the project by its chat.
CREATE INDEX projects_chat ON projects(chat_channel, chat_id);
