-- The inbox looks up the tasks and comments an event made by their source keys: the event's own
-- key and keys that extend it (`{key}:{step}:{call}` from the agent's tools). That is a range of
-- keys in byte order, which the default collation's index cannot serve; these can.
CREATE INDEX tasks_source_key_bytes ON tasks ((source_key COLLATE "C"));
CREATE INDEX comments_source_key_bytes ON comments ((source_key COLLATE "C"));
