-- Inbound webhooks (issue #11): the integrations registry (a public slug and an encrypted
-- Standard Webhooks secret per integration, the previous one valid through a grace period), the
-- log of every received request with its verification result (the partial unique index over
-- accepted rows is the replay guard), and sources' external ids for knowledge.upsert / delete.
-- The shape drizzle-kit generates.
CREATE TABLE `integrations` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`action` text NOT NULL,
	`bot_id` text,
	`source_id` text,
	`enabled` integer DEFAULT true NOT NULL,
	`slug` text NOT NULL,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_valid_until` integer,
	`secret_rotated_at` integer NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `integrations_slug_unique` ON `integrations` (`slug`);--> statement-breakpoint
CREATE INDEX `integrations_org_idx` ON `integrations` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE `inbound_events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`integration_id` text NOT NULL,
	`webhook_id` text,
	`verification` text NOT NULL,
	`status` text NOT NULL,
	`accepted` integer DEFAULT false NOT NULL,
	`action` text NOT NULL,
	`payload` text,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`result` text,
	`error` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`received_at` integer NOT NULL,
	`processed_at` integer,
	FOREIGN KEY (`integration_id`) REFERENCES `integrations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `inbound_events_replay_guard` ON `inbound_events` (`integration_id`,`webhook_id`) WHERE accepted = 1;--> statement-breakpoint
CREATE INDEX `inbound_events_integration_idx` ON `inbound_events` (`integration_id`,`id`);--> statement-breakpoint
CREATE INDEX `inbound_events_status_idx` ON `inbound_events` (`status`,`received_at`);--> statement-breakpoint
ALTER TABLE `sources` ADD `external_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `sources_external_id_unique` ON `sources` (`org_id`,`bot_id`,`external_id`) WHERE external_id IS NOT NULL;
