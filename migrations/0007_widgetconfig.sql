-- Widget settings (issue #9, server side): the org's widget defaults and a bot's widget overrides.
CREATE TABLE `widget_defaults` (
	`org_id` text PRIMARY KEY NOT NULL,
	`settings` text NOT NULL,
	`revision` integer DEFAULT 1 NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
ALTER TABLE `bots` ADD `widget` text;
