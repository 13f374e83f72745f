-- Analytics performance: the current day rolled up to its last closed hour (built_to; 0 marks
-- days built before this migration, which have no sketches or blocks), per-day HyperLogLog
-- sketches of distinct visitors, and 7-day blocks of the question and citation rollups.
-- Hand-written in drizzle-kit's shape.
ALTER TABLE `analytics_rollup_days` ADD `built_to` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE TABLE `analytics_visitor_sketches` (
	`org_id` text NOT NULL,
	`day` integer NOT NULL,
	`bot_id` text NOT NULL,
	`registers` text NOT NULL,
	PRIMARY KEY(`org_id`, `day`, `bot_id`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `analytics_weekly` (
	`org_id` text NOT NULL,
	`week` integer NOT NULL,
	`bot_id` text NOT NULL,
	`kind` text NOT NULL,
	`key` text NOT NULL,
	`sample` text DEFAULT '' NOT NULL,
	`count` integer NOT NULL,
	`unanswered` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`org_id`, `week`, `bot_id`, `kind`, `key`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
