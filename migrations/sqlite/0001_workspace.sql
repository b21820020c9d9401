-- The workspace: people and their chat identities, projects, tasks, comments, API tokens and
-- the audit log. Times are RFC 3339 text in UTC.

CREATE TABLE people (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    handle      TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    email       TEXT,
    timezone    TEXT NOT NULL,
    role        TEXT NOT NULL,
    manager_id  INTEGER REFERENCES people(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE identities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id    INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    channel      TEXT NOT NULL,
    external_id  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (channel, external_id)
);
CREATE INDEX identities_person ON identities(person_id);

CREATE TABLE link_codes (
    code_hash   TEXT PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

CREATE TABLE projects (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL,
    deadline     TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL,
    priority       TEXT NOT NULL,
    project_id     INTEGER REFERENCES projects(id),
    assignee_id    INTEGER REFERENCES people(id) ON DELETE SET NULL,
    time_estimate  REAL,
    time_spent     REAL,
    due_date       TEXT,
    labels         TEXT NOT NULL DEFAULT '[]',
    origin_channel TEXT,
    origin_chat    TEXT,
    created_by     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX tasks_project ON tasks(project_id);
CREATE INDEX tasks_assignee ON tasks(assignee_id, status);
CREATE INDEX tasks_status_due ON tasks(status, due_date);

CREATE TABLE comments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id     INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    content     TEXT NOT NULL,
    author      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX comments_task ON comments(task_id, id);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    actor       TEXT NOT NULL,
    channel     TEXT NOT NULL,
    action      TEXT NOT NULL,
    entity      TEXT NOT NULL,
    entity_id   TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX audit_entity ON audit_log(entity, entity_id);
