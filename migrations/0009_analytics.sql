-- Analytics (issue #10): hourly and daily rollups, which days are rolled up, answer corrections;
-- the country and sentiment of a conversation, the question key of a user message, and indexes
-- for reading an org's time range. Hand-written in the shape drizzle-kit generates.
CREATE TABLE `analytics_daily` (
	`org_id` text NOT NULL,
	`day` integer NOT NULL,
	`bot_id` text NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`sample` text DEFAULT '' NOT NULL,
	`count` integer NOT NULL,
	`unanswered` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `bot_id`, `kind`, `key`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `analytics_days` (
	`org_id` text NOT NULL,
	`day` integer NOT NULL,
	`bot_id` text NOT NULL,
	`metric` text NOT NULL,
	`dim` text DEFAULT '' NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `bot_id`, `metric`, `dim`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `analytics_hourly` (
	`org_id` text NOT NULL,
	`hour` integer NOT NULL,
	`bot_id` text NOT NULL,
	`metric` text NOT NULL,
	`dim` text DEFAULT '' NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`org_id`, `metric`, `hour`, `bot_id`, `dim`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `analytics_hourly_org_hour_idx` ON `analytics_hourly` (`org_id`,`hour`);--> statement-breakpoint
CREATE TABLE `analytics_rollup_days` (
	`org_id` text NOT NULL,
	`day` integer NOT NULL,
	`built_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `day`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `answer_corrections` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`message_id` text NOT NULL,
	`feedback_id` text,
	`source_id` text NOT NULL,
	`question` text NOT NULL,
	`answer` text NOT NULL,
	`created_by` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `answer_corrections_message_idx` ON `answer_corrections` (`message_id`);--> statement-breakpoint
CREATE INDEX `answer_corrections_org_idx` ON `answer_corrections` (`org_id`,`id`);--> statement-breakpoint
ALTER TABLE `conversations` ADD `country` text;--> statement-breakpoint
ALTER TABLE `conversations` ADD `sentiment` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX `conversations_org_created_idx` ON `conversations` (`org_id`,`created_at`,`bot_id`,`visitor_id`,`user_id`);--> statement-breakpoint
ALTER TABLE `messages` ADD `question_key` text;--> statement-breakpoint
CREATE INDEX `leads_org_created_idx` ON `leads` (`org_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `message_feedback_org_created_idx` ON `message_feedback` (`org_id`,`created_at`);
