/**
 * Audit trail. `auditInsert` returns a statement so callers put the event in the same
 * `db.batch` as the change it records: the change and its audit row land together or not at all.
 */
import { and, desc, eq, gte, isNull, lt, lte, or, type SQL } from 'drizzle-orm';
import { auditEvents } from '../../db/schema';
import { insertIfPreviousChanged, type Db } from '../../db/client';
import { newId } from '../../lib/ids';
import type { Clock } from '../../lib/clock';
import type { Actor, RequestMeta } from '../../context';

export interface AuditEntry {
  orgId: string | null;
  actor: Actor | { kind: 'anonymous' } | { kind: 'system' };
  action: string;
  target?: { type: string; id: string };
  metadata?: Record<string, unknown>;
}

const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|authorization|cookie|^key$/i;

/** Replaces values under secret-looking keys, recursively. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 5 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1)]),
  );
}

function actorColumns(actor: AuditEntry['actor']) {
  switch (actor.kind) {
    case 'user':
      return { actorType: 'user' as const, actorId: actor.userId };
    case 'api_key':
      return { actorType: 'api_key' as const, actorId: actor.keyId };
    default:
      return { actorType: actor.kind, actorId: null };
  }
}

function auditRow(clock: Clock, meta: RequestMeta, entry: AuditEntry): typeof auditEvents.$inferInsert {
  return {
    id: newId('evt', clock),
    orgId: entry.orgId,
    ...actorColumns(entry.actor),
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    ip: meta.ip,
    userAgent: meta.userAgent?.slice(0, 512) ?? null,
    metadata: (redact(entry.metadata ?? {}) as Record<string, unknown>) ?? {},
    createdAt: clock.now(),
  };
}

export function auditInsert(db: Db, clock: Clock, meta: RequestMeta, entry: AuditEntry) {
  return db.insert(auditEvents).values(auditRow(clock, meta, entry));
}

/** Like `auditInsert`, but recorded only if the batch's previous statement changed a row. */
export function auditInsertIfChanged(db: Db, clock: Clock, meta: RequestMeta, entry: AuditEntry) {
  return insertIfPreviousChanged(db, auditEvents, auditRow(clock, meta, entry));
}

export interface ActivityFilter {
  /** An org's trail, or (with `personalFor`) one person's own sign-in and account events. */
  orgId?: string;
  personalFor?: string;
  actorId?: string;
  action?: string;
  targetId?: string;
  since?: number;
  until?: number;
  cursor: string | null;
  limit: number;
}

export async function listActivity(db: Db, f: ActivityFilter) {
  const conditions: SQL[] = f.personalFor
    ? [isNull(auditEvents.orgId), or(eq(auditEvents.actorId, f.personalFor), eq(auditEvents.targetId, f.personalFor))!]
    : [eq(auditEvents.orgId, f.orgId!)];
  if (f.actorId) conditions.push(eq(auditEvents.actorId, f.actorId));
  if (f.action) conditions.push(eq(auditEvents.action, f.action));
  if (f.targetId) conditions.push(eq(auditEvents.targetId, f.targetId));
  if (f.since !== undefined) conditions.push(gte(auditEvents.createdAt, f.since));
  if (f.until !== undefined) conditions.push(lte(auditEvents.createdAt, f.until));
  if (f.cursor) conditions.push(lt(auditEvents.id, f.cursor));
  return db
    .select()
    .from(auditEvents)
    .where(and(...conditions))
    .orderBy(desc(auditEvents.id))
    .limit(f.limit + 1);
}
