CREATE TABLE `bot_identity_secrets` (
	`bot_id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`secret` text NOT NULL,
	`previous_secret` text,
	`previous_valid_until` integer,
	`created_at` integer NOT NULL,
	`rotated_at` integer NOT NULL,
	FOREIGN KEY (`bot_id`) REFERENCES `bots`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `bot_identity_secrets_org_idx` ON `bot_identity_secrets` (`org_id`);--> statement-breakpoint
CREATE INDEX `conversations_bot_user_idx` ON `conversations` (`bot_id`,`user_id`);
