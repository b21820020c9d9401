-- Slack slash commands and button presses: what answers them later. A slash command is
-- answered through its response_url (a 30-minute, five-use credential); a button press tells
-- the presser privately through its response_url and updates the message its button was on
-- with what the press did (chat.update needs the channel, the message's ts, its text and its
-- blocks, as Slack sent them with the press).
-- Chat ids carry only the interaction's key (`CHANNEL:TRIGGER_ID`), so response URLs stay out
-- of the queues, the logs and the history; the sender looks them up here. Old rows go as new
-- ones arrive.

CREATE TABLE slack_interactions (
    interaction_id  TEXT PRIMARY KEY,
    channel_id      TEXT NOT NULL,
    response_url    TEXT NOT NULL,
    -- Whether a slash command's answers are for the sender only (response_type ephemeral).
    ephemeral       BOOLEAN NOT NULL,
    -- A button press: the message the button was on, its text and its blocks (JSON).
    message_ts      TEXT,
    message_text    TEXT,
    message_blocks  TEXT,
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX slack_interactions_created ON slack_interactions(created_at);
