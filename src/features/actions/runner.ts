/**
 * Runs one action call: arguments checked against the action's schema first (a failing call
 * never reaches an endpoint, a mailbox or a table), then the type's work, bounded in time and
 * size, then one batch that records the run (redacted, redact.ts) with its audit event.
 *
 * Expected failures are results, never exceptions: the chat loop hands `result` to the model as
 * the tool's answer, so a broken endpoint makes the bot say so instead of failing the turn.
 */
import type { ServiceContext } from '../../context';
import type { AuditEntry } from '../audit/service';
import { auditInsert } from '../audit/service';
import { actionRuns, type ActionRunStatus } from '../../db/schema';
import { EgressError, fetcherFromBinding, guardedFetch } from '../../egress';
import { createMailer } from '../../adapters/mailer';
import { SecretUndecryptableError } from '../../lib/secrets';
import { newId } from '../../lib/ids';
import { ACTIONS } from '../../limits';
import { resolveProviderSettings } from '../settings/service';
import { createLead } from '../leads/service';
import { normalizeEmail } from '../leads/validate';
import { getBot } from '../bots/service';
import { search, searchDefaultsOf } from '../knowledge/search';
import { requestHandoff } from '../handoff/service';
import type { ActorRef } from '../escalations/service';
import { checkArguments } from './json-schema';
import { referencedSecrets, type EmailConfig, type HttpConfig } from './definition';
import { HeaderInjectionError, renderHeader, renderJson, renderText, renderUrl } from './templates';
import { redactForRun, withoutSecrets } from './redact';
import type { ActionRow, ActionRunRow } from './service';

export interface RunContext {
  orgId: string;
  botId: string | null;
  conversationId: string | null;
  /** The tool message that will carry the result (chat). */
  messageId: string | null;
  source: 'chat' | 'test';
  actor: AuditEntry['actor'];
}

export interface RunOutcome {
  runId: string;
  status: ActionRunStatus;
  latencyMs: number;
  /** What the model is told: the result or the error, secrets removed, bounded. */
  result: string;
  /** The recorded (redacted) response, for the test route. */
  output: unknown;
  error: string | null;
  /** The run row as recorded, for the test route. */
  run: ActionRunRow;
}

/** What one type's execution produced, before it is recorded. */
interface Executed {
  status: ActionRunStatus;
  request: unknown;
  response: unknown;
  result: string;
  error: string | null;
  /** Resolved secret values, to be redacted from everything kept or shown. */
  secrets: string[];
}

const failed = (error: string, request: unknown = null, secrets: string[] = [], status: ActionRunStatus = 'error'): Executed => ({
  status,
  request,
  response: null,
  result: JSON.stringify({ error }),
  error,
  secrets,
});

const bounded = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}… [truncated]` : text);

/** Runs `action` with the model's raw argument text (or the test route's object), records the run. */
export async function runAction(ctx: ServiceContext, action: ActionRow, args: string | Record<string, unknown>, run: RunContext): Promise<RunOutcome> {
  const started = ctx.clock.now();
  const raw = typeof args === 'string' ? args : JSON.stringify(args);
  const checked = checkArguments(action.parameters, raw);
  let executed: Executed;
  if (!checked.ok) {
    executed = failed(checked.message, { arguments: bounded(raw, ACTIONS.maxRecordedChars) });
  } else {
    try {
      executed = await execute(ctx, action, checked.value, run);
    } catch (error) {
      // Unexpected (a bug, D1 down): still a recorded error result, the reason in the log only.
      console.error(JSON.stringify({ level: 'error', msg: 'action failed unexpectedly', actionId: action.id, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
      executed = failed('The action failed unexpectedly.', { arguments: checked.value });
    }
  }
  return record(ctx, action, run, started, executed);
}

/** A call the person rejected: recorded as `rejected`, nothing ran. */
export async function recordRejected(ctx: ServiceContext, action: ActionRow, args: Record<string, unknown>, run: RunContext): Promise<RunOutcome> {
  const rejected = failed('The user rejected this action; it was not run.', { arguments: args }, [], 'rejected');
  return record(ctx, action, run, ctx.clock.now(), rejected);
}

async function record(ctx: ServiceContext, action: Pick<ActionRow, 'id' | 'name'>, run: RunContext, started: number, executed: Executed): Promise<RunOutcome> {
  const latencyMs = Math.max(0, ctx.clock.now() - started);
  const id = newId('arn', ctx.clock);
  const error = executed.error === null ? null : withoutSecrets(executed.error, executed.secrets).slice(0, 1000);
  const response = redactForRun(executed.response, executed.secrets);
  const [[row]] = await ctx.db.batch([
    ctx.db.insert(actionRuns).values({
      id,
      orgId: run.orgId,
      actionId: action.id,
      actionName: action.name,
      source: run.source,
      botId: run.botId,
      conversationId: run.conversationId,
      messageId: run.messageId,
      status: executed.status,
      latencyMs,
      request: redactForRun(executed.request, executed.secrets),
      response,
      error,
      createdAt: ctx.clock.now(),
    }).returning(),
    auditInsert(ctx.db, ctx.clock, ctx.meta, {
      orgId: run.orgId,
      actor: run.actor,
      action: 'action.run',
      target: { type: 'action', id: action.id },
      metadata: { runId: id, name: action.name, status: executed.status, source: run.source, conversationId: run.conversationId },
    }),
  ]);
  return { runId: id, status: executed.status, latencyMs, result: bounded(withoutSecrets(executed.result, executed.secrets), ACTIONS.maxResultChars), output: response, error, run: row! };
}

async function execute(ctx: ServiceContext, action: ActionRow, args: Record<string, unknown>, run: RunContext): Promise<Executed> {
  switch (action.type) {
    case 'http':
      return executeHttp(ctx, run.orgId, action.config as unknown as HttpConfig, args);
    case 'email':
      return executeEmail(ctx, action.config as unknown as EmailConfig, args);
    case 'collect_lead':
      return executeCollectLead(ctx, run, args);
    case 'search_knowledge':
      return executeSearch(ctx, run, args);
    case 'handoff_to_human':
      return executeHandoff(ctx, run, args);
  }
}

async function executeHttp(ctx: ServiceContext, orgId: string, http: HttpConfig, args: Record<string, unknown>): Promise<Executed> {
  const names = referencedSecrets(http);
  let secrets: Record<string, string> = {};
  if (names.length > 0) {
    try {
      secrets = (await resolveProviderSettings(ctx, orgId, () => names)).secrets;
    } catch (error) {
      if (error instanceof SecretUndecryptableError) return failed(`The org secret "${error.secretName}" cannot be opened; set it again in org settings.`);
      throw error;
    }
    const missing = names.filter((n) => secrets[n] === undefined);
    if (missing.length > 0) return failed(`The org settings secret(s) ${missing.map((n) => `"${n}"`).join(', ')} are not set.`);
  }
  const secretValues = Object.values(secrets);
  const values = { args, secrets };
  const url = renderUrl(http.urlTemplate, values);
  let headers: Record<string, string>;
  try {
    headers = Object.fromEntries(Object.entries(http.headers).map(([k, v]) => [k, renderHeader(v, values)]));
  } catch (error) {
    if (error instanceof HeaderInjectionError) return failed('An argument used in a header contains a line break.', { method: http.method, url }, secretValues);
    throw error;
  }
  const body = http.bodyTemplate === null || http.bodyTemplate === undefined ? null : JSON.stringify(renderJson(http.bodyTemplate, values));
  const sentHeaders: Record<string, string> = { 'user-agent': 'KyroChat-Action/1', accept: 'application/json, text/plain;q=0.9, */*;q=0.5', ...headers };
  if (body !== null && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) sentHeaders['content-type'] = 'application/json';
  const request = { method: http.method, url, headers: sentHeaders, body: body === null ? null : parseMaybe(body) };

  let status: number;
  let text: string;
  let contentType: string | null;
  try {
    const { response } = await guardedFetch(url, { method: http.method, headers: sentHeaders, body }, {
      policy: ctx.config.egress,
      fetcher: fetcherFromBinding(ctx.env.WEB_FETCHER),
      timeoutMs: ACTIONS.httpTimeoutMs,
      maxBytes: ACTIONS.httpMaxResponseBytes,
    });
    status = response.status;
    contentType = response.headers.get('content-type');
    text = await response.text();
  } catch (error) {
    if (error instanceof EgressError) {
      const kind = error.code === 'egress_timeout' ? 'timeout' : 'error';
      const message = error.code === 'egress_timeout' ? `The endpoint did not answer within ${ACTIONS.httpTimeoutMs} ms.` : `The request was refused: ${error.message}`;
      return failed(message, request, secretValues, kind);
    }
    if (error instanceof TypeError || (error instanceof Error && error.name === 'AbortError')) {
      return failed(`The endpoint could not be reached: ${error.message}`, request, secretValues);
    }
    throw error;
  }
  const parsedBody = /json/i.test(contentType ?? '') ? parseMaybe(text) : text;
  const response = { status, contentType, body: parsedBody };
  const ok = status >= 200 && status < 300;
  const result = JSON.stringify(ok ? { status, body: parsedBody } : { error: `The endpoint answered HTTP ${status}`, status, body: parsedBody });
  return { status: ok ? 'ok' : 'error', request, response, result, error: ok ? null : `HTTP ${status}`, secrets: secretValues };
}

function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

async function executeEmail(ctx: ServiceContext, email: EmailConfig, args: Record<string, unknown>): Promise<Executed> {
  const values = { args, secrets: {} };
  const to = normalizeEmail(renderText(email.to, values).trim());
  const subject = renderText(email.subject, values).replace(/[\r\n]+/g, ' ').slice(0, 300);
  const text = renderText(email.bodyTemplate, values);
  const request = { to: to.ok ? to.value : renderText(email.to, values), subject, text };
  if (!to.ok) return failed(`The recipient is not a valid email address: ${to.message}`, request);
  try {
    await createMailer(ctx).send({ to: to.value, subject, text: text.slice(0, 16_000), kind: 'action', secrets: [] });
  } catch (error) {
    return failed(`The mail could not be sent: ${error instanceof Error ? error.message : 'error'}`, request);
  }
  return { status: 'ok', request, response: { sent: true }, result: JSON.stringify({ sent: true, to: to.value }), error: null, secrets: [] };
}

async function executeCollectLead(ctx: ServiceContext, run: RunContext, args: Record<string, unknown>): Promise<Executed> {
  if (!run.botId) return failed('collect_lead needs a bot: pass botId.');
  const str = (v: unknown) => (typeof v === 'string' ? v : null);
  const request = { name: str(args.name), email: str(args.email), phone: str(args.phone) };
  const created = await createLead(ctx, { orgId: run.orgId, botId: run.botId, conversationId: run.conversationId, ...request });
  switch (created.status) {
    case 'invalid':
      return failed(`The contact details are not valid: ${created.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, request);
    case 'bot_not_found':
      return failed('The bot no longer exists.', request);
    case 'conversation_not_found':
      return failed('The conversation no longer exists.', request);
    case 'created':
      return { status: 'ok', request, response: { leadId: created.lead.id }, result: JSON.stringify({ saved: true, leadId: created.lead.id }), error: null, secrets: [] };
  }
}

async function executeSearch(ctx: ServiceContext, run: RunContext, args: Record<string, unknown>): Promise<Executed> {
  if (!run.botId) return failed('search_knowledge needs a bot: pass botId.');
  const bot = await getBot(ctx.db, run.orgId, run.botId);
  if (!bot) return failed('The bot no longer exists.');
  const query = String(args.query ?? '');
  const hits = await search(ctx, { orgId: run.orgId, botId: bot.id, query, ...searchDefaultsOf(bot) });
  const passages = hits.slice(0, 5).map((h) => ({ title: h.document.title, text: (h.windowText ?? h.text).slice(0, 600), relevance: Math.round(h.relevance * 100) / 100 }));
  return { status: 'ok', request: { query }, response: { hits: passages.length }, result: JSON.stringify({ passages }), error: null, secrets: [] };
}

/** Who asked for the person, as the escalation records it. */
function actorRefOf(actor: AuditEntry['actor']): ActorRef {
  switch (actor.kind) {
    case 'user':
      return { type: 'user', id: actor.userId };
    case 'api_key':
      return { type: 'api_key', id: actor.keyId };
    case 'anonymous':
      return { type: 'visitor', id: null };
    case 'system':
      return { type: 'system', id: null };
  }
}

/** Asks for a person through the handoff service (issue #10): the conversation waits for the team. */
async function executeHandoff(ctx: ServiceContext, run: RunContext, args: Record<string, unknown>): Promise<Executed> {
  if (!run.conversationId) return failed('handoff_to_human works inside a conversation only.');
  const reason = typeof args.reason === 'string' ? args.reason : undefined;
  const result = await requestHandoff(ctx, {
    orgId: run.orgId,
    conversationId: run.conversationId,
    source: 'action',
    lang: 'en',
    actor: actorRefOf(run.actor),
    auditActor: run.actor,
    note: reason,
  });
  const request = { reason: reason ?? null };
  switch (result.status) {
    case 'requested':
      return { status: 'ok', request, response: { escalationId: result.escalation.id }, result: JSON.stringify({ handedOff: true, notice: result.notice.content }), error: null, secrets: [] };
    case 'already':
      return { status: 'ok', request, response: { already: true }, result: JSON.stringify({ handedOff: true, alreadyWaiting: true }), error: null, secrets: [] };
    case 'closed':
      return failed('The conversation is closed.', request);
    case 'not_found':
      return failed('The conversation no longer exists.', request);
  }
}
