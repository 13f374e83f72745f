-- Chat protocols (issue #8): the AI SDK's useChat sends its own chat id; `client_ref` maps it to
-- one of our conversations, per org, bot and caller (`client_ref_owner`). Hand-written.
-- Partial unique index: only live conversations hold a ref, so a deleted one frees it.
ALTER TABLE `conversations` ADD `client_ref` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `client_ref_owner` text;--> statement-breakpoint
CREATE UNIQUE INDEX `conversations_client_ref_idx` ON `conversations` (`org_id`,`bot_id`,`client_ref_owner`,`client_ref`) WHERE client_ref IS NOT NULL AND deleted_at IS NULL;
