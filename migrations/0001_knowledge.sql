CREATE TABLE `chunks` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`id` text NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`source_id` text NOT NULL,
	`document_id` text NOT NULL,
	`position` integer NOT NULL,
	`text` text NOT NULL,
	`heading_path` text NOT NULL,
	`window_text` text,
	`start_offset` integer NOT NULL,
	`end_offset` integer NOT NULL,
	`token_count` integer NOT NULL,
	FOREIGN KEY (`document_id`) REFERENCES `documents`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `chunks_id_unique` ON `chunks` (`id`);--> statement-breakpoint
CREATE INDEX `chunks_document_idx` ON `chunks` (`document_id`,`position`);--> statement-breakpoint
CREATE INDEX `chunks_bot_idx` ON `chunks` (`bot_id`);--> statement-breakpoint
CREATE TABLE `documents` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`source_id` text NOT NULL,
	`title` text NOT NULL,
	`locator` text NOT NULL,
	`depth` integer DEFAULT 0 NOT NULL,
	`mime` text NOT NULL,
	`r2_key` text,
	`size_bytes` integer DEFAULT 0 NOT NULL,
	`content_hash` text,
	`index_key` text,
	`status` text NOT NULL,
	`error` text,
	`char_count` integer DEFAULT 0 NOT NULL,
	`chunk_count` integer DEFAULT 0 NOT NULL,
	`preview` text DEFAULT '' NOT NULL,
	`seen_generation` integer DEFAULT 1 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`source_id`) REFERENCES `sources`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `documents_source_locator_unique` ON `documents` (`source_id`,`locator`);--> statement-breakpoint
CREATE INDEX `documents_source_idx` ON `documents` (`source_id`,`status`);--> statement-breakpoint
CREATE INDEX `documents_bot_hash_idx` ON `documents` (`bot_id`,`content_hash`);--> statement-breakpoint
CREATE INDEX `documents_org_idx` ON `documents` (`org_id`,`id`);--> statement-breakpoint
CREATE TABLE `sources` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`bot_id` text NOT NULL,
	`type` text NOT NULL,
	`title` text NOT NULL,
	`config` text NOT NULL,
	`status` text NOT NULL,
	`error` text,
	`schedule` text DEFAULT 'none' NOT NULL,
	`next_sync_at` integer,
	`last_synced_at` integer,
	`generation` integer DEFAULT 1 NOT NULL,
	`created_by` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sources_bot_idx` ON `sources` (`org_id`,`bot_id`,`id`);--> statement-breakpoint
CREATE INDEX `sources_next_sync_idx` ON `sources` (`next_sync_at`);