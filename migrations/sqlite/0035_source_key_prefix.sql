-- The inbox looks up the tasks and comments an event made by a range of source keys in byte
-- order. SQLite compares bytes already, so the unique indexes of 0002 serve it; this migration
-- keeps both databases' migration lists alike.
SELECT 1;
