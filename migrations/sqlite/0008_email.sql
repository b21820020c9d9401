-- Email: every message we read or sent, by Message-ID, with the address on the other side and
-- the task it concerns, so that a reply (In-Reply-To / References) finds its conversation and
-- task, and our replies can thread under the message they answer. Also the IMAP watermark.

CREATE TABLE email_messages (
    -- the Message-ID without angle brackets (a content hash for messages that lack one)
    message_id  TEXT PRIMARY KEY,
    -- 'in' or 'out'
    direction   TEXT NOT NULL,
    -- the other party, lowercased
    address     TEXT NOT NULL,
    subject     TEXT,
    -- the References chain of this message, oldest first, space-separated
    refs        TEXT NOT NULL DEFAULT '',
    task_id     INTEGER,
    -- in: accepted, auto_reply, malformed, unknown_sender, empty, own; out: sent
    status      TEXT NOT NULL,
    note        TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX email_messages_address ON email_messages(address, direction, created_at);

-- How far the IMAP reader got in a mailbox. A new UIDVALIDITY invalidates last_uid.
CREATE TABLE email_watermarks (
    mailbox       TEXT PRIMARY KEY,
    uid_validity  INTEGER NOT NULL,
    last_uid      INTEGER NOT NULL,
    updated_at    TEXT NOT NULL
);
