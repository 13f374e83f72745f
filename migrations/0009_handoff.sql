-- Human handoff, the inbox and escalation tickets (issue #10).
ALTER TABLE `bots` ADD `handoff` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `handoff_requested_at` integer;--> statement-breakpoint
CREATE INDEX `conversations_inbox_idx` ON `conversations` (`org_id`,`status`,`id`);--> statement-breakpoint
CREATE TABLE `escalations` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text,
	`conversation_id` text,
	`title` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`priority` text DEFAULT 'normal' NOT NULL,
	`source` text NOT NULL,
	`assignee_id` text,
	`created_by` text,
	`sla_due_at` integer NOT NULL,
	`resolved_at` integer,
	`closed_at` integer,
	`revision` integer DEFAULT 1 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `escalations_org_idx` ON `escalations` (`org_id`,`id`);--> statement-breakpoint
CREATE INDEX `escalations_org_status_idx` ON `escalations` (`org_id`,`status`,`sla_due_at`);--> statement-breakpoint
CREATE INDEX `escalations_conversation_idx` ON `escalations` (`conversation_id`,`status`);--> statement-breakpoint
CREATE TABLE `escalation_comments` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`escalation_id` text NOT NULL,
	`author_id` text,
	`body` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`escalation_id`) REFERENCES `escalations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `escalation_comments_ticket_idx` ON `escalation_comments` (`escalation_id`,`id`);--> statement-breakpoint
CREATE TABLE `escalation_watchers` (
	`escalation_id` text NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`escalation_id`, `user_id`),
	FOREIGN KEY (`escalation_id`) REFERENCES `escalations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `conversation_reads` (
	`conversation_id` text NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`last_read_seq` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`conversation_id`, `user_id`)
);
--> statement-breakpoint
CREATE INDEX `conversation_reads_user_idx` ON `conversation_reads` (`user_id`);
