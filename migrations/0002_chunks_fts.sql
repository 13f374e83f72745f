-- Full-text index over chunks (BM25). External content: the text lives once, in `chunks`;
-- triggers keep the index in step, including deletes cascaded from documents.
-- heading_path is indexed so section titles count as evidence; bot_id is indexed so a MATCH
-- can be confined to one bot inside the FTS query itself.
CREATE VIRTUAL TABLE chunks_fts USING fts5(
  text,
  heading_path,
  bot_id,
  content='chunks',
  content_rowid='seq',
  tokenize='porter unicode61 remove_diacritics 2'
);
--> statement-breakpoint
CREATE TRIGGER chunks_fts_after_insert AFTER INSERT ON chunks BEGIN
  INSERT INTO chunks_fts(rowid, text, heading_path, bot_id) VALUES (new.seq, new.text, new.heading_path, new.bot_id);
END;
--> statement-breakpoint
CREATE TRIGGER chunks_fts_after_delete AFTER DELETE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path, bot_id) VALUES ('delete', old.seq, old.text, old.heading_path, old.bot_id);
END;
--> statement-breakpoint
CREATE TRIGGER chunks_fts_after_update AFTER UPDATE ON chunks BEGIN
  INSERT INTO chunks_fts(chunks_fts, rowid, text, heading_path, bot_id) VALUES ('delete', old.seq, old.text, old.heading_path, old.bot_id);
  INSERT INTO chunks_fts(rowid, text, heading_path, bot_id) VALUES (new.seq, new.text, new.heading_path, new.bot_id);
END;
