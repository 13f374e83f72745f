-- Chat answer pipeline (issue #8). A turn's Idempotency-Key is stored on its user message
-- scoped to org, bot and caller (a hash), and looked up org-wide so that a retried first turn
-- finds the conversation its earlier attempt created instead of starting another one.
CREATE INDEX `messages_org_request_key_idx` ON `messages` (`org_id`,`request_key`) WHERE `request_key` IS NOT NULL;
