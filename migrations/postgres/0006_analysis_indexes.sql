-- Indexes for delay detection (`/ai/analyze`, `/ai/suggestions`). Every rule reads the few most
-- severe rows of one priority in time order, so each query is a short range scan of one index,
-- however many tasks the workspace holds. The partial indexes cover only open tasks.

-- Overdue: open tasks of one priority by due date.
CREATE INDEX tasks_open_priority_due ON tasks(priority, due_date, id) WHERE status <> 'done';

-- Unassigned work near its due date.
CREATE INDEX tasks_unassigned_open_due ON tasks(priority, due_date, id)
    WHERE assignee_id IS NULL AND status <> 'done';

-- Stale in-progress and blocked tasks: one status and priority by last update.
CREATE INDEX tasks_status_priority_updated ON tasks(status, priority, updated_at, id);

-- Projects at risk: the open work of a project, read from the index alone (`status` is a column
-- too, so that SQLite sees the index as covering).
CREATE INDEX tasks_open_project_work ON tasks(project_id, status, assignee_id, time_estimate, time_spent)
    WHERE status <> 'done';

-- Active projects with the nearest deadlines.
CREATE INDEX projects_status_deadline ON projects(status, deadline, id);
