-- Inbox events stored behind their chat's unfinished head are `waiting` (no claim looks at
-- them) until the head ends; a claim then examines the heads only, not the backlog behind them.
-- This index finds a chat's oldest unfinished event (its head) in one step.
CREATE INDEX inbox_unfinished ON inbox_events(channel, chat_id, id)
    WHERE status IN ('waiting', 'pending', 'processing');

-- Events already queued behind a head.
UPDATE inbox_events SET status = 'waiting'
WHERE status = 'pending' AND EXISTS (
    SELECT 1 FROM inbox_events o
    WHERE o.channel = inbox_events.channel AND o.chat_id = inbox_events.chat_id
      AND o.id < inbox_events.id AND o.status IN ('pending', 'processing'));
