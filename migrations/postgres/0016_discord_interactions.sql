-- Discord interaction tokens: the 15-minute webhook credential that answers a slash command or
-- a button press. Chat ids carry only the interaction's id (`CHANNEL_ID:INTERACTION_ID`), so the
-- token stays out of the queues' chat ids, the logs, the history and stored errors; the sender
-- looks it up here. A token is useless after 15 minutes: old rows go as new ones arrive.

CREATE TABLE discord_interactions (
    interaction_id  TEXT PRIMARY KEY,
    application_id  TEXT NOT NULL,
    token           TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX discord_interactions_created ON discord_interactions(created_at);
