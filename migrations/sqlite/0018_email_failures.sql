-- Mail that failed to be read over IMAP, by mailbox and UID: how often and why. The reader
-- counts each failure here; at EMAIL_MAX_FAILURES the mail becomes a dead letter in the inbox
-- and the watermark moves past it, so one bad message never stops intake.

CREATE TABLE email_failures (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    mailbox       TEXT NOT NULL,
    uid_validity  INTEGER NOT NULL,
    uid           INTEGER NOT NULL,
    failures      INTEGER NOT NULL,
    last_error    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (mailbox, uid_validity, uid)
);
CREATE INDEX email_failures_updated ON email_failures(updated_at);
