/**
 * Server-Sent Events for chat turns. `eventStreamResponse` is the generic writer (the protocols
 * slice reuses it for other stream formats); `nativeTurnStream` writes the native events:
 * `meta`, `token` ({text}), `tool` ({callId, name, status, messageId}: an action ran), `citations`
 * ({citations}), then `done` (the stored message), `confirmation` + `paused` ({reason}) or `error` (the same problem body a JSON turn failure answers, route-turn.ts).
 *
 * The turn runs to its end even if the client goes away: a failed write calls `abort` (the turn's
 * AbortSignal, route-turn.ts `clientTurn`), and the pipeline still stores what was streamed. The
 * pump is handed to waitUntil so the isolate keeps it alive after the response is gone.
 */
import type { Context } from 'hono';
import type { AppBindings } from '../../http/types';
import { problemBody } from '../../http/problem';
import type { TurnEvent, TurnStart } from './turn';
import { collectTurn } from './protocols/turn-events';
import { turnFailureProblem, type ClientTurn } from './route-turn';

export type SendEvent = (event: string, data: unknown) => Promise<void>;

export function eventStreamResponse(c: Context<AppBindings>, abort: () => void, produce: (send: SendEvent) => Promise<void>): Response {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const encoder = new TextEncoder();
  let open = true;
  const send: SendEvent = async (event, data) => {
    if (!open) return;
    try {
      await writer.write(encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    } catch {
      open = false;
      abort();
    }
  };
  const requestId = c.get('requestId');
  const pump = (async () => {
    try {
      await produce(send);
    } catch (err) {
      console.error(JSON.stringify({ level: 'error', msg: 'chat stream failed', requestId, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }));
      await send('error', problemBody({ status: 500, code: 'internal_error', title: 'Internal server error', detail: 'Something went wrong on our side. Quote the request id if you contact support.' }, requestId));
    } finally {
      if (open) await writer.close().catch(() => undefined);
    }
  })();
  try {
    c.executionCtx.waitUntil(pump);
  } catch {
    // No execution context (unit use): the pump runs detached.
  }
  return new Response(readable, {
    status: 200,
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' },
  });
}

/**
 * The native answer to a started turn, for every route that speaks the native protocol (the
 * member route, routes.ts, and the widget's, widget-route.ts): the event stream with
 * `stream: true`, otherwise the stored answer as JSON (200), the pause (202) or the failure's
 * problem (thrown).
 */
export async function nativeTurnResponse(c: Context<AppBindings>, start: Extract<TurnStart, { ok: true }>, client: ClientTurn, stream: boolean): Promise<Response> {
  const events = client.events(start.events);
  if (stream) {
    return eventStreamResponse(c, client.abort, (send) => sendNativeEvents(events, send, c.get('requestId')));
  }
  const turn = await collectTurn(events);
  switch (turn.status) {
    case 'answered':
      return c.json({ conversationId: start.conversationId, message: turn.message, ...(turn.handoff ? { handoff: turn.handoff } : {}) }, 200);
    case 'paused':
      return c.json(
        { conversationId: start.conversationId, userMessageId: turn.userMessageId!, paused: true as const, reason: turn.reason, ...(turn.confirmation ? { confirmation: turn.confirmation } : {}) },
        202,
      );
    case 'failed':
      throw turnFailureProblem(turn);
  }
}

/**
 * The native SSE translation of a turn's events. The final `error` event is the failed turn's
 * problem body, built by `collectTurn` from the same events, so the ids match the JSON reply's.
 */
export async function sendNativeEvents(events: AsyncIterable<TurnEvent>, send: SendEvent, requestId: string | undefined): Promise<void> {
  const turn = await collectTurn(relay(events, send));
  if (turn.status === 'failed') {
    const problem = turnFailureProblem(turn);
    await send('error', problemBody(problem.init, requestId));
  }
}

/** Passes each event through after sending its native SSE form (the final `error` is the caller's). */
async function* relay(events: AsyncIterable<TurnEvent>, send: SendEvent): AsyncGenerator<TurnEvent> {
  for await (const event of events) {
    switch (event.type) {
      case 'meta':
        await send('meta', { conversationId: event.conversationId, userMessageId: event.userMessageId, assistantMessageId: event.assistantMessageId, created: event.created });
        break;
      case 'token':
        await send('token', { text: event.text });
        break;
      case 'citations':
        await send('citations', { citations: event.citations });
        break;
      case 'done':
        // The turn asked for a person (issue #10): the widget learns the outcome before the answer.
        if (event.handoff) await send('handoff', event.handoff);
        await send('done', event.message);
        break;
      case 'tool':
        await send('tool', { callId: event.callId, name: event.name, status: event.status, messageId: event.messageId });
        break;
      case 'confirmation':
        await send('confirmation', { confirmationId: event.confirmationId, action: event.action, arguments: event.arguments, expiresAt: event.expiresAt });
        break;
      case 'paused':
        await send('paused', { reason: event.reason });
        break;
    }
    yield event;
  }
}
