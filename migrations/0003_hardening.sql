CREATE TABLE `oidc_identities` (
	`id` text PRIMARY KEY NOT NULL,
	`issuer` text NOT NULL,
	`subject` text NOT NULL,
	`user_id` text NOT NULL,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`user_id`) REFERENCES `users`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `oidc_identities_issuer_subject_unique` ON `oidc_identities` (`issuer`,`subject`);--> statement-breakpoint
CREATE UNIQUE INDEX `oidc_identities_user_issuer_unique` ON `oidc_identities` (`user_id`,`issuer`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`org_id` text NOT NULL,
	`actor_id` text NOT NULL,
	`route` text NOT NULL,
	`key` text NOT NULL,
	`fingerprint` text NOT NULL,
	`state` text NOT NULL,
	`status` integer,
	`headers` text,
	`body` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`org_id`, `actor_id`, `route`, `key`),
	FOREIGN KEY (`org_id`) REFERENCES `organizations`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_expiry_idx` ON `idempotency_keys` (`expires_at`);--> statement-breakpoint
ALTER TABLE `bots` ADD `revision` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `email_outbox` ADD `status` text DEFAULT 'sent' NOT NULL;--> statement-breakpoint
ALTER TABLE `email_outbox` ADD `attempts` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sources` ADD `revision` integer DEFAULT 1 NOT NULL;
--> statement-breakpoint
-- Hand-written (drizzle-kit does not model triggers): every UPDATE that does not bump the
-- revision itself gets it bumped here, so the ETag changes with every write, including the
-- ingestion jobs' status changes. The WHEN clause keeps explicit bumps from counting twice.
CREATE TRIGGER bots_revision_after_update AFTER UPDATE ON bots WHEN new.revision = old.revision BEGIN
  UPDATE bots SET revision = old.revision + 1 WHERE id = new.id;
END;
--> statement-breakpoint
CREATE TRIGGER sources_revision_after_update AFTER UPDATE ON sources WHEN new.revision = old.revision BEGIN
  UPDATE sources SET revision = old.revision + 1 WHERE id = new.id;
END;
