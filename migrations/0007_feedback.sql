-- Widget server side, feedback slice (issue #9): thumbs up / down on assistant messages (one row
-- per author per message) and leads (contact details a widget visitor leaves).
CREATE TABLE `leads` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`conversation_id` text,
	`visitor_id` text,
	`name` text,
	`email` text,
	`phone` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `leads_org_idx` ON `leads` (`org_id`,`id`);--> statement-breakpoint
CREATE INDEX `leads_bot_idx` ON `leads` (`org_id`,`bot_id`,`id`);--> statement-breakpoint
CREATE TABLE `message_feedback` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`conversation_id` text NOT NULL,
	`message_id` text NOT NULL,
	`rating` text NOT NULL,
	`comment` text,
	`author_kind` text NOT NULL,
	`author_id` text NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`conversation_id`) REFERENCES `conversations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `message_feedback_author_idx` ON `message_feedback` (`message_id`,`author_kind`,`author_id`);--> statement-breakpoint
CREATE INDEX `message_feedback_org_idx` ON `message_feedback` (`org_id`,`bot_id`,`created_at`);
