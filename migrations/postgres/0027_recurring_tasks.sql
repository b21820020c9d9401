-- Recurring tasks. A task with a `recurrence` (an RFC 5545 RRULE value, e.g.
-- `FREQ=MONTHLY;BYMONTHDAY=1`) is one occurrence of a series that started at
-- `recurrence_start` in zone `recurrence_tz`; its due date is the occurrence. When it is done
-- or its due date passes, the scheduler makes the next occurrence (`recurrence_of` names the
-- one before) and stamps `recurred_at`. The next one's `source_key` is `recur:{id}`, unique:
-- it is made once, whatever crashes or replicas do.
ALTER TABLE tasks ADD COLUMN recurrence TEXT;
ALTER TABLE tasks ADD COLUMN recurrence_start TIMESTAMPTZ;
ALTER TABLE tasks ADD COLUMN recurrence_tz TEXT;
ALTER TABLE tasks ADD COLUMN recurrence_of BIGINT REFERENCES tasks(id) ON DELETE SET NULL;
ALTER TABLE tasks ADD COLUMN recurred_at TIMESTAMPTZ;
CREATE INDEX tasks_recurring ON tasks(due_date) WHERE recurrence IS NOT NULL AND recurred_at IS NULL;
