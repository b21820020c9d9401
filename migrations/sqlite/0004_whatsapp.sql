-- WhatsApp delivery receipts: the last known state of each message sent through the Cloud API,
-- by its wamid. Status callbacks may arrive before the outbox has recorded the wamid, so they
-- are kept here (joined to outbox_messages.platform_message_id) rather than on the outbox row.

CREATE TABLE whatsapp_deliveries (
    wamid         TEXT PRIMARY KEY,
    wa_id         TEXT,
    -- text, interactive or template; NULL while only a status callback has been seen
    kind          TEXT,
    -- accepted, sent, delivered, read or failed
    status        TEXT NOT NULL,
    -- 0 accepted, 1 sent, 2 delivered, 3 read, 4 failed: a status never goes back
    status_rank   INTEGER NOT NULL,
    error_code    INTEGER,
    error         TEXT,
    updated_at    TEXT NOT NULL
);
CREATE INDEX whatsapp_deliveries_failures ON whatsapp_deliveries(wa_id, error_code);
CREATE INDEX whatsapp_outbox_platform_message ON outbox_messages(channel, platform_message_id);
CREATE INDEX whatsapp_inbox_chat ON inbox_events(channel, chat_id, id);
