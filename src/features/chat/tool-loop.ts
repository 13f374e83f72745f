/**
 * One round of the tool-call loop (issue #11): the model asked for calls; they run in parallel
 * (at most ACTIONS.maxCallsPerRound; calls beyond get an error result), each result is stored as
 * a `tool` message, and the messages the model needs next come back. A call to an action that
 * needs confirmation runs nothing: the round's other calls run, a confirmation is stored, and the
 * turn pauses. Every failure (unknown tool, arguments that fail the schema, an endpoint that
 * fails) is an error result for the model, never a failed turn.
 */
import type { AuditEntry } from '../audit/service';
import type { ServiceContext } from '../../context';
import type { PromptMessage, ToolCall } from '../../ai/chat-model';
import { ACTIONS } from '../../limits';
import { newId } from '../../lib/ids';
import { createConfirmation, type ActionRow, type ConfirmationRow } from '../actions/service';
import { runAction, recordRejected, type RunContext } from '../actions/runner';
import { checkArguments } from '../actions/json-schema';
import { appendToolMessages, type ToolMessageContent, type ToolMessageInput } from './store';
import type { TurnCaller, TurnEvent } from './turn';

export interface RoundContext {
  orgId: string;
  botId: string;
  conversationId: string;
  userMessageId: string;
  caller: TurnCaller;
  /** The bot's enabled actions by tool name. */
  actions: Map<string, ActionRow>;
}

export type RoundOutcome = { paused: ConfirmationRow | null; messages: PromptMessage[] };

/** Who a chat turn's action runs are audited as. */
export function auditActorOf(caller: TurnCaller): AuditEntry['actor'] {
  switch (caller.kind) {
    case 'user':
      return { kind: 'user', userId: caller.userId, sessionId: null, email: '', via: 'password' };
    case 'api_key':
      return { kind: 'api_key', keyId: caller.keyId, orgId: '', scopes: [], createdBy: '' };
    case 'visitor':
      return { kind: 'anonymous' };
  }
}

const errorResult = (error: string) => JSON.stringify({ error });

export async function* runToolRound(ctx: ServiceContext, round: RoundContext, index: number, calls: ToolCall[]): AsyncGenerator<TurnEvent, RoundOutcome> {
  const runContext = (messageId: string): RunContext => ({
    orgId: round.orgId,
    botId: round.botId,
    conversationId: round.conversationId,
    messageId,
    source: 'chat',
    actor: auditActorOf(round.caller),
  });
  let pending: { call: ToolCall; action: ActionRow; args: Record<string, unknown> } | null = null;
  const settled = await Promise.all(
    calls.map(async (call, i): Promise<ToolMessageInput> => {
      const id = newId('msg', ctx.clock);
      const base = { id, round: index, callId: call.id, name: call.name, arguments: call.arguments };
      if (i >= ACTIONS.maxCallsPerRound) {
        return { ...base, status: 'error', result: errorResult(`At most ${ACTIONS.maxCallsPerRound} tool calls run per round; call this one again.`) };
      }
      const action = round.actions.get(call.name);
      if (!action) return { ...base, status: 'error', result: errorResult(`There is no tool named "${call.name}".`) };
      if (action.needsConfirmation) {
        const checked = checkArguments(action.parameters, call.arguments);
        if (!checked.ok) return { ...base, status: 'error', result: errorResult(checked.message) };
        if (pending) {
          return { ...base, status: 'error', result: errorResult('Only one action that needs confirmation can wait at a time; call it again after this one is decided.') };
        }
        pending = { call, action, args: checked.value };
        return { ...base, status: 'pending', result: '' };
      }
      const outcome = await runAction(ctx, action, call.arguments, runContext(id));
      return { ...base, status: outcome.status, result: outcome.result };
    }),
  );
  const stored = settled.filter((s) => s.status !== 'pending');
  await appendToolMessages(ctx, round, stored);
  for (const m of stored) yield { type: 'tool', callId: m.callId, name: m.name, status: m.status as 'ok' | 'error' | 'timeout', messageId: m.id };

  const waiting = pending as { call: ToolCall; action: ActionRow; args: Record<string, unknown> } | null;
  if (waiting) {
    const confirmation = await createConfirmation(ctx, {
      orgId: round.orgId,
      botId: round.botId,
      conversationId: round.conversationId,
      userMessageId: round.userMessageId,
      action: waiting.action,
      toolCallId: waiting.call.id,
      round: index,
      arguments: waiting.args,
    });
    return { paused: confirmation, messages: [] };
  }
  return { paused: null, messages: exchangeMessages(stored) };
}

/** A round as the model sees it: its assistant message with the calls, then one tool message per call. */
function exchangeMessages(round: ToolMessageContent[]): PromptMessage[] {
  return [
    { role: 'assistant', content: '', toolCalls: round.map((m) => ({ id: m.callId, name: m.name, arguments: m.arguments })) },
    ...round.map((m): PromptMessage => ({ role: 'tool', toolCallId: m.callId, content: m.result })),
  ];
}

/** A paused turn's stored tool messages, rebuilt round by round for the model. */
export function storedExchange(stored: ToolMessageContent[]): { messages: PromptMessage[]; rounds: number } {
  const byRound = new Map<number, ToolMessageContent[]>();
  for (const m of stored) byRound.set(m.round, [...(byRound.get(m.round) ?? []), m]);
  const rounds = [...byRound.keys()].sort((a, b) => a - b);
  return { messages: rounds.flatMap((r) => exchangeMessages(byRound.get(r)!)), rounds: rounds.length ? rounds.at(-1)! + 1 : 0 };
}

/** Runs (approved) or records as rejected the call a confirmation held, and stores its tool message. */
export async function* settleConfirmation(
  ctx: ServiceContext,
  round: RoundContext,
  confirmation: ConfirmationRow,
  action: ActionRow | null,
): AsyncGenerator<TurnEvent, void> {
  const id = newId('msg', ctx.clock);
  const runContext: RunContext = { orgId: round.orgId, botId: round.botId, conversationId: round.conversationId, messageId: id, source: 'chat', actor: auditActorOf(round.caller) };
  let status: 'ok' | 'error' | 'rejected' | 'timeout';
  let result: string;
  if (!action) {
    status = 'error';
    result = errorResult('This action no longer exists; it was not run.');
  } else if (confirmation.status === 'approved') {
    ({ status, result } = await runAction(ctx, action, confirmation.arguments, runContext));
  } else {
    ({ status, result } = await recordRejected(ctx, action, confirmation.arguments, runContext));
  }
  await appendToolMessages(ctx, round, [
    { id, round: confirmation.round, callId: confirmation.toolCallId, name: confirmation.actionName, arguments: JSON.stringify(confirmation.arguments), status, result },
  ]);
  yield { type: 'tool', callId: confirmation.toolCallId, name: confirmation.actionName, status, messageId: id };
}
