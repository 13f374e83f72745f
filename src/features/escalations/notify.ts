/**
 * Ticket notifications: after a transition has committed, the assignee and the watchers (never
 * the person who acted) get a mail through the Mailer. A new ticket nobody watches yet (a
 * visitor asked for a person) goes to the org's owners and admins, so someone hears of it.
 * Sending never fails the request (sendAfterCommit logs); the outbox event was written in the
 * change's own batch, so webhooks see every transition whatever happens to the mail.
 */
import { and, eq, inArray } from 'drizzle-orm';
import type { ServiceContext } from '../../context';
import { escalationWatchers, memberships, users, type EscalationStatus } from '../../db/schema';
import { sendAfterCommit } from '../../adapters/mailer';
import { ESCALATION, MAIL } from '../../limits';
import type { EscalationAction } from './state-machine';
import type { ActorRef, EscalationRow } from './service';

export type Notification = {
  ticket: EscalationRow;
  actor: ActorRef;
  previousStatus?: EscalationStatus;
  comment?: string;
} & ({ kind: 'created' | 'commented' | 'updated' } | { kind: EscalationAction });

const WHAT: Record<Notification['kind'], string> = {
  created: 'was opened',
  commented: 'has a new comment',
  updated: 'was updated',
  assign: 'was assigned',
  unassign: 'was unassigned',
  resolve: 'was resolved',
  close: 'was closed',
  reopen: 'was reopened',
};

/** Text a visitor or member wrote, made safe for a mail line: no controls or bidi overrides, bounded. */
function clean(text: string, max: number): string {
  const flat = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

async function recipients(ctx: ServiceContext, n: Notification): Promise<string[]> {
  const watcherRows = await ctx.db
    .select({ userId: escalationWatchers.userId })
    .from(escalationWatchers)
    .where(eq(escalationWatchers.escalationId, n.ticket.id))
    .limit(ESCALATION.maxWatchers);
  const ids = new Set(watcherRows.map((w) => w.userId));
  if (n.ticket.assigneeId) ids.add(n.ticket.assigneeId);
  // Nobody watches a ticket a visitor (or the bot) opened: the org's owners and admins hear of it.
  const roles = ids.size === 0 && n.kind === 'created' ? (['owner', 'admin'] as const) : null;
  if (n.actor.type === 'user') ids.delete(n.actor.id);
  if (!roles && ids.size === 0) return [];
  // Only people still in the org (a watcher who left hears nothing), active accounts.
  const rows = await ctx.db
    .select({ email: users.email })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(
      and(
        eq(memberships.orgId, n.ticket.orgId),
        eq(users.status, 'active'),
        roles ? inArray(memberships.role, [...roles]) : inArray(memberships.userId, [...ids]),
      ),
    )
    .limit(ESCALATION.maxWatchers);
  return rows.map((r) => r.email);
}

export async function notifyEscalation(ctx: ServiceContext, n: Notification): Promise<void> {
  const to = await recipients(ctx, n);
  if (to.length === 0) return;
  const t = n.ticket;
  const title = clean(t.title, 120);
  const subject = `[KyroChat] Ticket "${title}" ${WHAT[n.kind]}`;
  const by = n.actor.type === 'user' ? 'a team member' : n.actor.type === 'api_key' ? 'an API key' : n.actor.type === 'visitor' ? 'a visitor' : 'the bot';
  const lines = [
    `Ticket ${t.id} ${WHAT[n.kind]} by ${by}.`,
    '',
    `Title: ${title}`,
    `Status: ${n.previousStatus && n.previousStatus !== t.status ? `${n.previousStatus} → ` : ''}${t.status}`,
    `Priority: ${t.priority}`,
    `Assignee: ${t.assigneeId ?? 'nobody'}`,
    `Due: ${new Date(t.slaDueAt).toISOString()}`,
    ...(t.conversationId ? [`Conversation: ${t.conversationId} (open it from the inbox to reply live)`] : []),
    ...(n.comment ? ['', 'Comment:', clean(n.comment, 2000)] : []),
  ];
  const text = lines.join('\n').slice(0, MAIL.maxTextChars);
  await Promise.all(to.map((address) => sendAfterCommit(ctx, { to: address, subject: subject.slice(0, MAIL.maxSubjectChars), text, kind: 'escalation', secrets: [] })));
}
