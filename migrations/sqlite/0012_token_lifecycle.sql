-- API tokens that can expire and be revoked, under unique names: a token's name is its
-- principal (comments, conversations, audit), so two tokens may never share one, not even
-- after one of them was revoked.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
ALTER TABLE api_tokens ADD COLUMN revoked_at TEXT;
UPDATE api_tokens SET name = name || '-' || id
    WHERE id NOT IN (SELECT MIN(id) FROM api_tokens GROUP BY name);
CREATE UNIQUE INDEX api_tokens_name ON api_tokens(name);
