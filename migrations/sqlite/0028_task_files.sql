-- Files on tasks: documents, images and videos received in chat (or through the API), kept in
-- the data folder (`files/{task_id}/{sha256}`) and listed here. Deleted with their task.
CREATE TABLE task_files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    mime_type    TEXT NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT NOT NULL,
    uploaded_by  TEXT NOT NULL,
    source_key   TEXT UNIQUE,
    created_at   TEXT NOT NULL
);
CREATE INDEX task_files_task ON task_files(task_id);

-- The files of recent chat messages, so that `/attach ID` sent as a reply to one finds them.
CREATE TABLE chat_files (
    channel      TEXT NOT NULL,
    chat_id      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    attachments  TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (channel, chat_id, message_id)
);
CREATE INDEX chat_files_created ON chat_files(created_at);
