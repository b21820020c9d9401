-- Claim tokens: each claim of a queue item writes `worker-id:attempt` here, and every later
-- update of that claim (renew, finish, retry, dead letter) applies only while the token is
-- still the same. A worker whose lease ran out and whose item another worker took over can
-- then no longer change the item: a stale worker cannot flip a finished row back.
-- The indexes serve retention, which deletes what is older than its setting, in batches.

ALTER TABLE inbox_events ADD COLUMN claim_token TEXT;
ALTER TABLE outbox_messages ADD COLUMN claim_token TEXT;
ALTER TABLE integration_jobs ADD COLUMN claim_token TEXT;
CREATE INDEX inbox_finished ON inbox_events(finished_at);
CREATE INDEX outbox_finished ON outbox_messages(finished_at);
CREATE INDEX integration_jobs_finished ON integration_jobs(finished_at);
CREATE INDEX conversation_messages_created ON conversation_messages(created_at);
CREATE INDEX ai_turns_created ON ai_turns(created_at);
CREATE INDEX audit_log_created ON audit_log(created_at);
CREATE INDEX email_messages_created ON email_messages(created_at);
CREATE INDEX alerts_last_seen ON alerts(last_seen_at);
CREATE INDEX whatsapp_deliveries_updated ON whatsapp_deliveries(updated_at);
