-- The scheduler: quiet hours per person, chat and ladder settings per project, the state of
-- each task's escalation ladder, the reminders already sent, and the sweeps that ran.

-- Quiet hours as minutes after local midnight; the window may wrap midnight (20:00–08:00).
ALTER TABLE people ADD COLUMN quiet_start_minute INTEGER NOT NULL DEFAULT 1200;
ALTER TABLE people ADD COLUMN quiet_end_minute INTEGER NOT NULL DEFAULT 480;

-- Where a project's escalations (step 3) and reports go, and its ladder pace (hours between
-- steps; NULL = by priority: urgent 1 h, high 4 h, others 24 h).
ALTER TABLE projects ADD COLUMN chat_channel TEXT;
ALTER TABLE projects ADD COLUMN chat_id TEXT;
ALTER TABLE projects ADD COLUMN ladder_hours REAL;

-- One row per escalation episode of a task. `step` is the last step sent (0: none yet);
-- `next_at` is when the next step is due (NULL: nothing more to send).
CREATE TABLE escalations (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id          INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    status           TEXT NOT NULL,
    step             INTEGER NOT NULL DEFAULT 0,
    reason           TEXT,
    raised_by        TEXT,
    next_at          TEXT,
    locked_until     TEXT,
    last_step_at     TEXT,
    acknowledged_by  TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
-- At most one live (open or acknowledged) escalation per task.
CREATE UNIQUE INDEX escalations_live_task ON escalations(task_id) WHERE status IN ('open', 'acknowledged');
CREATE INDEX escalations_due ON escalations(next_at) WHERE status = 'open';

-- Reminders sent (or skipped because a shorter lead covered them), per due date.
CREATE TABLE task_reminders (
    task_id       INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    lead_minutes  INTEGER NOT NULL,
    due_date      TEXT NOT NULL,
    sent_at       TEXT NOT NULL,
    PRIMARY KEY (task_id, lead_minutes, due_date)
);

-- Policy breaches already reported, so that each is reported once per rule and task.
CREATE TABLE policy_breaches (
    task_id      INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    rule_id      TEXT NOT NULL,
    reported_at  TEXT NOT NULL,
    PRIMARY KEY (task_id, rule_id)
);

-- One row per sweep, for monitoring: when it ran and what it queued.
CREATE TABLE scheduler_runs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ran_at       TEXT NOT NULL,
    reminders    INTEGER NOT NULL,
    escalations  INTEGER NOT NULL,
    reports      INTEGER NOT NULL,
    breaches     INTEGER NOT NULL
);

-- The due-work sweep: open tasks by due date (reminders, overdue), blocked tasks, and the
-- tasks done within a period (reports).
CREATE INDEX tasks_open_due ON tasks(due_date, id) WHERE status <> 'done';
CREATE INDEX tasks_done_updated ON tasks(project_id, updated_at) WHERE status = 'done';
CREATE INDEX tasks_project_created ON tasks(project_id, created_at);
CREATE INDEX tasks_created ON tasks(created_at);
CREATE INDEX tasks_done_at ON tasks(updated_at) WHERE status = 'done';
CREATE INDEX tasks_updated ON tasks(updated_at);
CREATE INDEX scheduler_runs_at ON scheduler_runs(ran_at);
