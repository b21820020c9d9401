-- The web page's reads stay short range scans as the workspace grows: a board column is the
-- first tasks of one status by id; the alerts feed reads the escalations changed and the
-- reminders sent most recently.
CREATE INDEX tasks_status_id ON tasks(status, id);
CREATE INDEX escalations_updated ON escalations(updated_at, id);
CREATE INDEX task_reminders_sent ON task_reminders(sent_at);
