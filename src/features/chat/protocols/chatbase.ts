/**
 * The Chatbase-compatible reply (`POST /api/v1/chat`): streamed, the answer as plain UTF-8 text
 * and nothing else (Chatbase clients append the bytes as they come); not streamed,
 * `{ text, conversationId, sources }`.
 *
 * Plain text cannot say "this failed" after it started, so a model failure mid-answer errors the
 * body stream: the client sees a broken transfer, never a truncated answer that looks complete.
 */
import type { Citation } from '../../../db/schema';
import type { TurnEvent } from '../turn';
import type { CollectedTurn } from './turn-events';
import { logBrokenTurn } from './turn-events';

export const CHATBASE_STREAM_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' } as const;

export class TurnFailedMidStream extends Error {
  constructor(readonly code: string) {
    super(`the answer failed mid-stream (${code})`);
    this.name = 'TurnFailedMidStream';
  }
}

/** Turn events → the answer's bytes. A `paused` turn is an empty body; an `error` errors the stream. */
export function chatbaseTextStream(events: AsyncIterable<TurnEvent>, onCancel?: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = events[Symbol.asyncIterator]();
  let sentText = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let step: IteratorResult<TurnEvent>;
        try {
          step = await iterator.next();
        } catch (cause) {
          logBrokenTurn('chatbase', cause);
          controller.error(new TurnFailedMidStream('internal_error'));
          return;
        }
        if (step.done) {
          logBrokenTurn('chatbase', new Error('turn ended without a final event'));
          controller.error(new TurnFailedMidStream('internal_error'));
          return;
        }
        const event = step.value;
        if (event.type === 'token' && event.text) {
          sentText = true;
          controller.enqueue(encoder.encode(event.text));
          return;
        }
        if (event.type === 'done') {
          if (!sentText && event.message.content) controller.enqueue(encoder.encode(event.message.content));
          controller.close();
          return;
        }
        if (event.type === 'paused') {
          controller.close();
          return;
        }
        if (event.type === 'error') {
          controller.error(new TurnFailedMidStream(event.code));
          return;
        }
        // meta and citations have no place in plain text: read on.
      }
    },
    async cancel() {
      onCancel?.();
      await iterator.return?.();
    },
  });
}

export interface ChatbaseReply {
  text: string;
  conversationId: string | null;
  sources: Citation[];
  /** Ours, not Chatbase's: the bot had nothing grounded to say and answered with its fallback. */
  unanswered: boolean;
  /** Ours: a team member owns the conversation, so the bot stayed silent. */
  paused: boolean;
}

/** The non-streamed body for an answered or paused turn (failures are problems, chosen by the route). */
export function chatbaseReply(turn: Exclude<CollectedTurn, { status: 'failed' }>): ChatbaseReply {
  if (turn.status === 'paused') return { text: '', conversationId: turn.conversationId, sources: [], unanswered: false, paused: true };
  return { text: turn.text, conversationId: turn.conversationId, sources: turn.citations, unanswered: turn.message.unanswered, paused: false };
}
