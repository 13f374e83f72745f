-- Actions (issue #11): tools a bot may call, their recorded runs, and confirmations that pause a
-- turn until a person decides. Shaped as drizzle-kit generates it.
CREATE TABLE `actions` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text NOT NULL,
	`type` text NOT NULL,
	`config` text NOT NULL,
	`parameters` text NOT NULL,
	`bot_ids` text NOT NULL,
	`needs_confirmation` integer DEFAULT false NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `actions_org_name_idx` ON `actions` (`org_id`,`name`);--> statement-breakpoint
CREATE INDEX `actions_org_idx` ON `actions` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE `action_runs` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`action_id` text NOT NULL,
	`action_name` text NOT NULL,
	`source` text NOT NULL,
	`bot_id` text,
	`conversation_id` text,
	`message_id` text,
	`status` text NOT NULL,
	`latency_ms` integer NOT NULL,
	`request` text,
	`response` text,
	`error` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `action_runs_action_idx` ON `action_runs` (`org_id`,`action_id`,`id`);--> statement-breakpoint
CREATE INDEX `action_runs_conversation_idx` ON `action_runs` (`conversation_id`);--> statement-breakpoint
CREATE TABLE `action_confirmations` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`user_message_id` text NOT NULL,
	`action_id` text NOT NULL,
	`action_name` text NOT NULL,
	`tool_call_id` text NOT NULL,
	`round` integer NOT NULL,
	`arguments` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`decided_by` text,
	`decided_at` integer,
	`expires_at` integer NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `action_confirmations_conversation_idx` ON `action_confirmations` (`conversation_id`,`id`);
