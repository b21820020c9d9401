-- Who said each user message of a conversation: in a group, the model sees who said what, and
-- a turn that follows someone else's words is treated as having read untrusted text.
ALTER TABLE conversation_messages ADD COLUMN speaker TEXT;
