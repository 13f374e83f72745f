/**
 * Widget settings: the org's defaults (one row per org, revisioned for If-Match) and the public,
 * merged config a visitor's widget loads. A bot's own overrides live on the bot (bots service).
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { bots, widgetDefaults, type WidgetOverrides, type WidgetSettings } from '../../db/schema';
import type { Db } from '../../db/client';
import type { Actor, ServiceContext } from '../../context';
import { auditInsertIfChanged } from '../audit/service';
import { resolveWidgetSettings, type WidgetDefaultsPatch } from './settings';
import { handoffSettingsOf } from '../handoff/settings';

export interface WidgetDefaults {
  settings: WidgetSettings;
  /** The ETag: 0 while the org has never changed its defaults. */
  revision: number;
  updatedAt: number | null;
}

export async function getWidgetDefaults(db: Db, orgId: string): Promise<WidgetDefaults> {
  const row = await db.select().from(widgetDefaults).where(eq(widgetDefaults.orgId, orgId)).get();
  return { settings: resolveWidgetSettings(row?.settings ?? null), revision: row?.revision ?? 0, updatedAt: row?.updatedAt ?? null };
}

export function toWidgetDefaultsDto(defaults: WidgetDefaults) {
  return { ...defaults.settings, updatedAt: defaults.updatedAt === null ? null : new Date(defaults.updatedAt).toISOString() };
}

export type UpdateWidgetDefaultsResult = { status: 'updated'; defaults: WidgetDefaults } | { status: 'precondition_failed' };

/**
 * Merges the patch into the stored defaults in one statement (json_patch on the row as it is
 * *now*, so two admins changing different fields both keep theirs). `ifMatch` lists the revisions
 * the change may apply to; 0 stands for "never set", the only state in which a row is created.
 */
export async function updateWidgetDefaults(
  ctx: ServiceContext,
  actor: Actor,
  orgId: string,
  patch: WidgetDefaultsPatch,
  ifMatch?: number[],
): Promise<UpdateWidgetDefaultsResult> {
  const now = ctx.clock.now();
  const json = JSON.stringify(patch);
  const merged = sql`json_patch(${widgetDefaults.settings}, ${json})`;
  const write =
    ifMatch && !ifMatch.includes(0)
      ? ctx.db
          .update(widgetDefaults)
          .set({ settings: merged, revision: sql`${widgetDefaults.revision} + 1`, updatedAt: now })
          .where(and(eq(widgetDefaults.orgId, orgId), inArray(widgetDefaults.revision, ifMatch)))
          .returning()
      : ctx.db
          .insert(widgetDefaults)
          // json_patch into '{}' drops the patch's nulls, as an update would.
          .values({ orgId, settings: sql`json_patch('{}', ${json})`, revision: 1, updatedAt: now })
          .onConflictDoUpdate({
            target: widgetDefaults.orgId,
            set: { settings: merged, revision: sql`${widgetDefaults.revision} + 1`, updatedAt: now },
            ...(ifMatch ? { setWhere: inArray(widgetDefaults.revision, ifMatch) } : {}),
          })
          .returning();
  const [rows] = await ctx.db.batch([
    write,
    auditInsertIfChanged(ctx.db, ctx.clock, ctx.meta, {
      orgId,
      actor,
      action: 'widget_defaults.update',
      target: { type: 'org', id: orgId },
      metadata: { fields: Object.keys(patch) },
    }),
  ]);
  const row = rows[0];
  // The guarded write matched nothing (and so recorded nothing): If-Match named another revision.
  if (!row) return { status: 'precondition_failed' };
  return { status: 'updated', defaults: { settings: resolveWidgetSettings(row.settings), revision: row.revision, updatedAt: row.updatedAt } };
}

/** What a visitor's widget gets: nothing internal (no org id, instructions or origin list). */
export interface PublicWidgetConfig extends WidgetSettings {
  botId: string;
  name: string;
  /** Whether the widget shows "talk to a human" (the bot's handoff settings, issue #10). */
  handoff: { enabled: boolean };
}

export type PublicWidgetConfigResult =
  | { status: 'not_found' }
  | { status: 'found'; config: PublicWidgetConfig };

/**
 * The effective config of a public bot (built-in ← org defaults ← bot overrides), in one read.
 * A private, unknown or deleted bot is the same `not_found`, so ids cannot be probed.
 */
export async function getPublicWidgetConfig(db: Db, botId: string): Promise<PublicWidgetConfigResult> {
  const row = await db
    .select({
      id: bots.id,
      name: bots.name,
      visibility: bots.visibility,
      widget: bots.widget,
      handoff: bots.handoff,
      orgSettings: widgetDefaults.settings,
    })
    .from(bots)
    .leftJoin(widgetDefaults, eq(widgetDefaults.orgId, bots.orgId))
    .where(eq(bots.id, botId))
    .get();
  if (!row || row.visibility !== 'public') return { status: 'not_found' };
  const settings = resolveWidgetSettings(row.orgSettings as WidgetOverrides | null, row.widget);
  const appearance = settings.appearance.title ? settings.appearance : { ...settings.appearance, title: row.name };
  return { status: 'found', config: { botId: row.id, name: row.name, ...settings, appearance, handoff: { enabled: handoffSettingsOf(row.handoff).enabled } } };
}
