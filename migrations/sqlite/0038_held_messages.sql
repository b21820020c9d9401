-- Messages kept back until a moment: a task's new assignee, told of it in their quiet hours,
-- hears of it when they end. The scheduler moves each into the outbox once it is due (a notice
-- about a task only while the task is still its person's and open); the dedupe key then keeps
-- it from being queued twice. A deleted person or task takes its held messages with it.
CREATE TABLE held_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL,
    chat_id     TEXT NOT NULL,
    payload     TEXT NOT NULL,
    dedupe_key  TEXT NOT NULL UNIQUE,
    person_id   INTEGER REFERENCES people(id) ON DELETE CASCADE,
    task_id     INTEGER REFERENCES tasks(id) ON DELETE CASCADE,
    send_at     TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX held_messages_due ON held_messages(send_at);
