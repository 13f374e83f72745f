-- Retrieval quality (issue #7).
-- Bots choose their fusion; a NULL hybrid weight means "the default for the org's embedder".
ALTER TABLE `bots` ADD `fusion` text DEFAULT 'convex' NOT NULL;--> statement-breakpoint
ALTER TABLE `bots` ADD `hybrid_weight` real;--> statement-breakpoint
-- The org's optional reranker ({ url, model, topN }); its key lives with the other secrets.
ALTER TABLE `org_settings` ADD `reranker` text;--> statement-breakpoint
-- Folded search text (diacritics stripped, ß → ss, compatibility forms unified), written by the
-- indexer because SQLite cannot fold like that; NULL when folding changes nothing, so English
-- content is not stored twice.
ALTER TABLE `chunks` ADD `search_text` text;--> statement-breakpoint
ALTER TABLE `chunks` ADD `search_heading` text;--> statement-breakpoint
-- 1 when the chunk holds text of a script written without spaces (CJK, Thai...): those chunks
-- also go into the trigram index.
ALTER TABLE `chunks` ADD `spaceless` integer DEFAULT false NOT NULL;--> statement-breakpoint
DROP TRIGGER IF EXISTS chunks_fts_after_insert;--> statement-breakpoint
DROP TRIGGER IF EXISTS chunks_fts_after_delete;--> statement-breakpoint
DROP TRIGGER IF EXISTS chunks_fts_after_update;--> statement-breakpoint
DROP TABLE IF EXISTS chunks_fts;--> statement-breakpoint
-- What both full-text indexes read: the folded text where there is one. As their external
-- content, this view also makes 'rebuild' index exactly what the triggers index.
CREATE VIEW chunks_search_source AS
  SELECT seq, coalesce(search_text, text) AS text, coalesce(search_heading, heading_path) AS heading_path, bot_id
    FROM chunks;--> statement-breakpoint
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  text,
  heading_path,
  bot_id,
  content='chunks_search_source',
  content_rowid='seq',
  tokenize='porter unicode61 remove_diacritics 2'
);--> statement-breakpoint
-- Character trigrams for scripts without word spaces. Only spaceless chunks are in it; queries
-- join back to chunks for the bot (a trigram-tokenized bot id would match every row).
CREATE VIRTUAL TABLE chunks_trigram USING fts5(
  text,
  content='chunks_search_source',
  content_rowid='seq',
  tokenize='trigram'
);--> statement-breakpoint
INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');--> statement-breakpoint
CREATE TRIGGER chunks_fts_after_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text, heading_path, bot_id)
    VALUES (new.seq, coalesce(new.search_text, new.text), coalesce(new.search_heading, new.heading_path), new.bot_id);
  INSERT INTO chunks_trigram(rowid, text) SELECT new.seq, coalesce(new.search_text, new.text) WHERE new.spaceless;
END;--> statement-breakpoint
CREATE TRIGGER chunks_fts_after_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path, bot_id)
    VALUES ('delete', old.seq, coalesce(old.search_text, old.text), coalesce(old.search_heading, old.heading_path), old.bot_id);
  INSERT INTO chunks_trigram(chunks_trigram, rowid, text) SELECT 'delete', old.seq, coalesce(old.search_text, old.text) WHERE old.spaceless;
END;--> statement-breakpoint
CREATE TRIGGER chunks_fts_after_update AFTER UPDATE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path, bot_id)
    VALUES ('delete', old.seq, coalesce(old.search_text, old.text), coalesce(old.search_heading, old.heading_path), old.bot_id);
  INSERT INTO chunks_trigram(chunks_trigram, rowid, text) SELECT 'delete', old.seq, coalesce(old.search_text, old.text) WHERE old.spaceless;
  INSERT INTO chunks_fts(rowid, text, heading_path, bot_id)
    VALUES (new.seq, coalesce(new.search_text, new.text), coalesce(new.search_heading, new.heading_path), new.bot_id);
  INSERT INTO chunks_trigram(rowid, text) SELECT new.seq, coalesce(new.search_text, new.text) WHERE new.spaceless;
END;
