-- Outbox messages stored behind their chat's unfinished head are `waiting` too (see 0036): a
-- send held back by a chat's rate limit no longer makes every claim scan the messages behind it.
CREATE INDEX outbox_unfinished ON outbox_messages(channel, chat_id, id)
    WHERE status IN ('waiting', 'pending', 'processing');

-- Messages already queued behind a head.
UPDATE outbox_messages SET status = 'waiting'
WHERE status = 'pending' AND EXISTS (
    SELECT 1 FROM outbox_messages o
    WHERE o.channel = outbox_messages.channel AND o.chat_id = outbox_messages.chat_id
      AND o.id < outbox_messages.id AND o.status IN ('pending', 'processing'));
