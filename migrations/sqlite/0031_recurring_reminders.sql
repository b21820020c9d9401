-- Recurring chat prompts (`/remind here every monday 09:00 TEXT`): a reminder with a `rule`
-- (an RFC 5545 RRULE value, e.g. `FREQ=WEEKLY;BYDAY=MO`) stays pending after each send, its
-- `remind_at` moved to the rule's next occurrence in its `timezone` in the transaction that
-- queues the message.
ALTER TABLE reminders ADD COLUMN rule TEXT;
