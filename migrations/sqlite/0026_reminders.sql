-- One-off reminders asked for in chat (`/remind`), by the agent or through the API.
--
-- A reminder goes to a person (on their own channel, held by their quiet hours) or to a chat
-- (`/remind here`). `remind_at` is the moment asked for (a snooze moves it); `next_at` is when
-- the scheduler looks at it next (quiet hours move only this one). `status`: `pending` (to be
-- sent), `sent`, `done` (the Done button) or `cancelled` (`/unremind`). `locked_until` is a
-- replica's claim while it sends.
CREATE TABLE reminders (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    text           TEXT NOT NULL,
    person_id      INTEGER REFERENCES people(id) ON DELETE CASCADE,
    channel        TEXT,
    chat_id        TEXT,
    timezone       TEXT NOT NULL,
    remind_at      TEXT NOT NULL,
    next_at        TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'pending',
    locked_until   TEXT,
    sent_at        TEXT,
    created_by     TEXT NOT NULL,
    creator_id     INTEGER REFERENCES people(id) ON DELETE SET NULL,
    source_key     TEXT UNIQUE,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    CHECK (person_id IS NOT NULL OR (channel IS NOT NULL AND chat_id IS NOT NULL))
);
CREATE INDEX reminders_due ON reminders(next_at) WHERE status = 'pending';
CREATE INDEX reminders_person ON reminders(person_id, status);
CREATE INDEX reminders_creator ON reminders(creator_id, status);
