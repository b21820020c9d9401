-- What a reported policy breach says and where its rule comes from, so that `/ai/analyze` can
-- list open breaches without reading the handbook.
ALTER TABLE policy_breaches ADD COLUMN message TEXT;
ALTER TABLE policy_breaches ADD COLUMN source TEXT;
CREATE INDEX policy_breaches_reported ON policy_breaches(reported_at);
