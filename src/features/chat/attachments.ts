/**
 * Files a chat message carries. They are uploaded first (POST /bots/{botId}/attachments), which
 * checks the type exactly as knowledge uploads do, extracts the text at once with the knowledge
 * extractors and their caps, and keeps the original and the text in R2. A turn then claims them
 * (conversation and message set in the same batch as the user message); from then on their text
 * is context for that conversation. Unclaimed uploads expire after ATTACHMENTS.unclaimedTtlMs.
 *
 * Only the caller who uploaded a file may attach it, and only once: an id is not a capability
 * another key or person of the org can replay.
 */
import type { SearchHit } from '../knowledge/search';
import { and, asc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { ServiceContext } from '../../context';
import type { Db } from '../../db/client';
import { conversationAttachments } from '../../db/schema';
import { splitForStatements } from '../../db/bound-parameters';
import { newId } from '../../lib/ids';
import { ATTACHMENTS, R2_MAX_DELETE_KEYS } from '../../limits';
import { detectFileType, extractDocument, type AcceptedUploadMime } from '../knowledge/extract';

export type AttachmentRow = typeof conversationAttachments.$inferSelect;

/** What a message and its clients see of an attachment. */
export interface AttachmentRef {
  id: string;
  name: string;
  mime: string;
  sizeBytes: number;
}

/** Under the org's prefix, so an org purge finds them; the text sits beside the original. */
export const attachmentKey = (orgId: string, attachmentId: string) => `orgs/${orgId}/attachments/${attachmentId}`;
export const attachmentTextKey = (orgId: string, attachmentId: string) => `${attachmentKey(orgId, attachmentId)}.txt`;

/**
 * A caller-chosen file name made safe to store and to show a model: no control characters or
 * path, bounded length.
 */
export function cleanAttachmentName(name: string | undefined): string {
  const base = (name ?? '').split(/[\\/]/).pop() ?? '';
  // eslint-disable-next-line no-control-regex
  const clean = base.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '').trim();
  return [...(clean || 'attachment')].slice(0, ATTACHMENTS.maxNameChars).join('');
}

/** Why a file was refused before anything was stored (the route maps each to its status). */
export type AttachmentCheck =
  | { ok: true; mime: AcceptedUploadMime; type: Parameters<typeof extractDocument>[1] }
  | { ok: false; reason: 'empty' | 'unsupported_type'; detail: string };

/** The knowledge upload's type check: allowlisted MIME type and magic bytes that agree. */
export function checkAttachmentType(bytes: Uint8Array, declaredMime: string, name: string): AttachmentCheck {
  const detected = detectFileType(bytes, declaredMime, name);
  if (detected.ok) return { ok: true, mime: detected.mime, type: detected.type };
  return { ok: false, reason: detected.reason === 'empty' ? 'empty' : 'unsupported_type', detail: detected.detail };
}

export type StoreAttachmentResult =
  | { status: 'stored'; attachment: AttachmentRef & { textChars: number } }
  | { status: 'unreadable'; reason: string; detail: string };

/**
 * Extracts the file's text and stores original, text and row. Extraction comes first, so an
 * unreadable file stores nothing.
 */
export async function storeAttachment(
  ctx: ServiceContext,
  input: { orgId: string; botId: string; callerId: string; name: string; bytes: Uint8Array; check: Extract<AttachmentCheck, { ok: true }> },
): Promise<StoreAttachmentResult> {
  const extracted = await extractDocument(input.bytes, input.check.type);
  if (!extracted.ok) return { status: 'unreadable', reason: extracted.reason, detail: extracted.detail };

  const id = newId('att', ctx.clock);
  const r2Key = attachmentKey(input.orgId, id);
  const textKey = attachmentTextKey(input.orgId, id);
  const row: AttachmentRow = {
    id,
    orgId: input.orgId,
    botId: input.botId,
    conversationId: null,
    messageId: null,
    name: input.name,
    mime: input.check.mime,
    sizeBytes: input.bytes.byteLength,
    r2Key,
    textKey,
    textChars: extracted.text.length,
    uploadedBy: input.callerId,
    createdAt: ctx.clock.now(),
  };
  // Objects first, row last: a row always has its objects. Whatever fails removes what was written.
  try {
    await ctx.env.FILES.put(r2Key, input.bytes, { httpMetadata: { contentType: input.check.mime } });
    await ctx.env.FILES.put(textKey, extracted.text, { httpMetadata: { contentType: 'text/plain; charset=utf-8' } });
    await ctx.db.insert(conversationAttachments).values(row);
  } catch (err) {
    await ctx.env.FILES.delete([r2Key, textKey]).catch(() => undefined);
    throw err;
  }
  return { status: 'stored', attachment: { id, name: row.name, mime: row.mime, sizeBytes: row.sizeBytes, textChars: row.textChars } };
}

export interface AttachmentRefusal {
  status: 404 | 409 | 422;
  code: string;
  title: string;
  detail: string;
}

export type ResolveAttachmentsResult = { ok: true; attachments: AttachmentRef[] } | { ok: false; refusal: AttachmentRefusal };

/**
 * Checks the attachment ids a turn sends, before anything is stored. Unknown ids, another org's
 * or bot's, another caller's, and unclaimed uploads past their lifetime (the sweeper may be
 * deleting them) all read as "not found"; an attachment already sent with a message is a 409.
 */
export async function resolveAttachments(
  ctx: ServiceContext,
  input: { orgId: string; botId: string; callerId: string; ids: string[] },
): Promise<ResolveAttachmentsResult> {
  const ids = [...new Set(input.ids)];
  if (ids.length === 0) return { ok: true, attachments: [] };
  if (ids.length > ATTACHMENTS.maxPerMessage) {
    return {
      ok: false,
      refusal: {
        status: 422,
        code: 'too_many_attachments',
        title: 'Too many attachments',
        detail: `A message carries at most ${ATTACHMENTS.maxPerMessage} attachments.`,
      },
    };
  }
  const rows = await ctx.db
    .select()
    .from(conversationAttachments)
    .where(and(eq(conversationAttachments.orgId, input.orgId), inArray(conversationAttachments.id, ids)));
  const byId = new Map(rows.map((r) => [r.id, r]));
  const expiredBefore = ctx.clock.now() - ATTACHMENTS.unclaimedTtlMs;
  const attachments: AttachmentRef[] = [];
  for (const id of ids) {
    const row = byId.get(id);
    const usable = row && row.botId === input.botId && row.uploadedBy === input.callerId && (row.conversationId !== null || row.createdAt >= expiredBefore);
    if (!row || !usable) {
      return { ok: false, refusal: { status: 404, code: 'attachment_not_found', title: 'Not found', detail: `Attachment ${id} was not found.` } };
    }
    if (row.conversationId !== null) {
      return {
        ok: false,
        refusal: { status: 409, code: 'attachment_already_used', title: 'Conflict', detail: `Attachment ${id} was already sent with another message.` },
      };
    }
    attachments.push({ id: row.id, name: row.name, mime: row.mime, sizeBytes: row.sizeBytes });
  }
  return { ok: true, attachments };
}

/**
 * Claims resolved attachments for the turn's user message, for the pipeline's db.batch, after the
 * message's insert. Guarded by `conversation_id IS NULL` and by the message existing; the pipeline
 * only inserts its message while every file is still unclaimed, so one message gets them all.
 */
export function claimAttachmentsStatement(db: Db, input: { orgId: string; ids: string[]; conversationId: string; messageId: string }) {
  return db
    .update(conversationAttachments)
    .set({ conversationId: input.conversationId, messageId: input.messageId })
    .where(
      and(
        eq(conversationAttachments.orgId, input.orgId),
        inArray(conversationAttachments.id, input.ids),
        isNull(conversationAttachments.conversationId),
        // Only for a message that really went in (in a batch, its guarded insert may have been skipped).
        sql`EXISTS (SELECT 1 FROM messages WHERE id = ${input.messageId})`,
      ),
    );
}

/**
 * The text of a conversation's attachments, oldest first, at most `maxChars` in total (the last
 * one cut). Each object is read by byte range, so a 4-million-character text costs only what is
 * used: a UTF-16 code unit takes at most 3 bytes of UTF-8.
 */
export async function attachmentContext(ctx: ServiceContext, orgId: string, conversationId: string, maxChars: number): Promise<{ id: string; name: string; text: string }[]> {
  if (maxChars <= 0) return [];
  const rows = await ctx.db
    .select({ id: conversationAttachments.id, name: conversationAttachments.name, textKey: conversationAttachments.textKey, textChars: conversationAttachments.textChars })
    .from(conversationAttachments)
    .where(and(eq(conversationAttachments.orgId, orgId), eq(conversationAttachments.conversationId, conversationId)))
    .orderBy(asc(conversationAttachments.id))
    .limit(ATTACHMENTS.maxContextFiles);
  const out: { id: string; name: string; text: string }[] = [];
  let left = maxChars;
  for (const row of rows) {
    if (left <= 0) break;
    if (!row.textKey || row.textChars === 0) continue;
    const object = await ctx.env.FILES.get(row.textKey, { range: { offset: 0, length: Math.min(row.textChars, left) * 3 } });
    if (!object) continue;
    // A range may end inside a UTF-8 sequence; the lenient decoder turns that tail into U+FFFD, which the cut drops.
    const text = new TextDecoder().decode(await object.arrayBuffer()).slice(0, left);
    const complete = text.length >= row.textChars ? text : text.replace(/\uFFFD$/, '');
    out.push({ id: row.id, name: row.name, text: complete });
    left -= complete.length;
  }
  return out;
}

/**
 * A conversation's file as a numbered source of the prompt, so that the answer can cite it like a
 * retrieved passage: its citation names the attachment id (as source, document and chunk) and has
 * no URL. Relevance 1: the user chose it.
 */
export function attachmentAsHit(file: { id: string; name: string; text: string }): SearchHit {
  return {
    chunkId: file.id,
    score: 1,
    relevance: 1,
    text: file.text,
    windowText: null,
    headingPath: [],
    position: 0,
    startOffset: 0,
    endOffset: file.text.length,
    document: { id: file.id, title: file.name, locator: file.name },
    source: { id: file.id, title: file.name, type: 'attachment' },
    ranks: {},
  };
}

/**
 * Cron: deletes unclaimed uploads older than their lifetime, at most `limit` per run. Rows go
 * first, guarded by `conversation_id IS NULL`, and only the objects of rows actually deleted are
 * removed, so a file claimed at the last moment keeps its bytes.
 */
export async function sweepUnclaimedAttachments(ctx: ServiceContext, now: number, limit = ATTACHMENTS.sweepPerRun): Promise<number> {
  const stale = await ctx.db
    .select({ id: conversationAttachments.id })
    .from(conversationAttachments)
    .where(and(isNull(conversationAttachments.conversationId), lt(conversationAttachments.createdAt, now - ATTACHMENTS.unclaimedTtlMs)))
    .limit(limit);
  let deleted = 0;
  for (const group of splitForStatements(stale.map((s) => s.id), 1, 1)) {
    const gone = await ctx.db
      .delete(conversationAttachments)
      .where(and(inArray(conversationAttachments.id, group), isNull(conversationAttachments.conversationId)))
      .returning({ r2Key: conversationAttachments.r2Key, textKey: conversationAttachments.textKey });
    const keys = gone.flatMap((g) => (g.textKey ? [g.r2Key, g.textKey] : [g.r2Key]));
    for (let i = 0; i < keys.length; i += R2_MAX_DELETE_KEYS) await ctx.env.FILES.delete(keys.slice(i, i + R2_MAX_DELETE_KEYS));
    deleted += gone.length;
  }
  return deleted;
}
