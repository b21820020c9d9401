-- Stand-ups (`/standup here DAYS HH:MM`): one per project, asked privately of the team on the
-- chosen days, the digest posted to the project's chat.
--
-- `days` is an RRULE BYDAY list (`MO,TU,WE,TH,FR`); `ask_time` is `HH:MM` in `timezone`;
-- the digest comes `digest_minutes` after the ask. `next_ask_at` is the next ask moment;
-- `locked_until` is a replica's claim while it opens a run.
CREATE TABLE standups (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL UNIQUE REFERENCES projects(id) ON DELETE CASCADE,
    channel         TEXT NOT NULL,
    chat_id         TEXT NOT NULL,
    days            TEXT NOT NULL,
    ask_time        TEXT NOT NULL,
    digest_minutes  INTEGER NOT NULL,
    timezone        TEXT NOT NULL,
    next_ask_at     TEXT NOT NULL,
    locked_until    TEXT,
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX standups_due ON standups(next_ask_at);

-- One run per stand-up and local day: made once (UNIQUE), its digest posted once
-- (`digest_sent_at` set in the transaction that queues it).
CREATE TABLE standup_runs (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    standup_id      INTEGER NOT NULL REFERENCES standups(id) ON DELETE CASCADE,
    day             TEXT NOT NULL,
    ask_at          TEXT NOT NULL,
    digest_at       TEXT NOT NULL,
    digest_sent_at  TEXT,
    UNIQUE (standup_id, day)
);
CREATE INDEX standup_runs_digest ON standup_runs(digest_at) WHERE digest_sent_at IS NULL;

-- One row per person asked. `ask_at` is when to ask (quiet hours move it), `asked_at` when the
-- question was queued; the answer is kept as written (`answer`) and, when read, as `done`,
-- `next` and `blockers`. `blocker_state`: null, `offered`, `taken` (a task or comment was
-- made: `blocker_task_id`) or `declined`.
CREATE TABLE standup_answers (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id           INTEGER NOT NULL REFERENCES standup_runs(id) ON DELETE CASCADE,
    person_id        INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    ask_at           TEXT NOT NULL,
    asked_at         TEXT,
    answer           TEXT,
    done             TEXT,
    next             TEXT,
    blockers         TEXT,
    answered_at      TEXT,
    answer_key       TEXT UNIQUE,
    blocker_state    TEXT,
    blocker_task_id  INTEGER REFERENCES tasks(id) ON DELETE SET NULL,
    UNIQUE (run_id, person_id)
);
CREATE INDEX standup_answers_ask ON standup_answers(ask_at) WHERE asked_at IS NULL;
CREATE INDEX standup_answers_person ON standup_answers(person_id, answered_at);
