/**
 * Mirrors a turn that runs outside the room (REST JSON and SSE, useChat, Chatbase, the OpenAI
 * API) into the conversation's ConversationRoom, so sockets open there see it exactly as they
 * see a WebSocket turn: the stored user message, the answer's start and tokens, the stored
 * answer (turn-frames.ts). The pipeline wraps every non-room turn in it (pipeline.ts), so no
 * channel has to remember to.
 *
 * It must cost the turn nothing and never break it:
 * - Publishing is fire-and-forget (`ctx.waitUntil`); the turn's events pass through unchanged
 *   and never wait for the room.
 * - At most one `publish` call is in flight; frames queued meanwhile go out together in the
 *   next one, consecutive tokens merged into one frame. So a fast model costs a handful of
 *   calls, not one per token, and the frames keep their order.
 * - `publish` answers how many sockets are connected. While that is none, streamed text goes out
 *   at most every LIVE_MIRROR.idleFlushMs (messages still at once): a late joiner catches up
 *   within that delay, and an unwatched turn costs a few calls.
 * - A failed call (the room unreachable) stops the mirroring for this turn, logged once.
 */
import type { ServiceContext } from '../../../context';
import { LIVE_MIRROR } from '../../../limits';
import type { MessageDto, TurnEvent } from '../turn';
import type { ServerFrame } from './room-protocol';
import { TurnFrames } from './turn-frames';

/**
 * Passes `events` through while publishing them to the room of `conversationId`. `userMessage`:
 * the stored user message to show, or null when it was shown before (a retried turn).
 */
export async function* mirrorTurnToRoom(
  ctx: ServiceContext,
  conversationId: string,
  userMessage: MessageDto | null,
  events: AsyncIterable<TurnEvent>,
): AsyncGenerator<TurnEvent> {
  const frames = new TurnFrames();
  const publisher = new RoomPublisher(ctx, conversationId);
  try {
    for await (const event of events) {
      publisher.queue(frames.framesFor(event, userMessage));
      yield event;
    }
  } finally {
    // The turn broke (or its consumer left) after showing itself: the sockets learn it ended.
    if (frames.unfinished) publisher.queue([frames.failedFrame()]);
    publisher.end();
  }
}

class RoomPublisher {
  private pending: ServerFrame[] = [];
  private sending = false;
  /** What the room last said; null until it answers. */
  private sockets: number | null = null;
  private lastSentAt = Number.NEGATIVE_INFINITY;
  private ended = false;
  private broken = false;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly conversationId: string,
  ) {}

  queue(frames: ServerFrame[]): void {
    if (this.broken || frames.length === 0) return;
    for (const frame of frames) {
      const last = this.pending.at(-1);
      if (frame.type === 'token' && last?.type === 'token' && last.assistantMessageId === frame.assistantMessageId) {
        this.pending[this.pending.length - 1] = { ...last, text: last.text + frame.text };
      } else {
        this.pending.push(frame);
      }
    }
    this.flush();
  }

  end(): void {
    this.ended = true;
    this.flush();
  }

  private flush(): void {
    if (this.broken || this.sending || this.pending.length === 0) return;
    const now = this.ctx.clock.now();
    const onlyStreamedText = this.pending.every((f) => f.type === 'token' || f.type === 'turn');
    if (this.sockets === 0 && !this.ended && onlyStreamedText && now - this.lastSentAt < LIVE_MIRROR.idleFlushMs) return;
    const batch = this.pending;
    this.pending = [];
    this.sending = true;
    this.lastSentAt = now;
    const delivery = this.publish(batch).then(
      (sockets) => {
        this.sockets = sockets;
      },
      (err: unknown) => {
        this.broken = true;
        this.pending = [];
        console.warn(
          JSON.stringify({
            level: 'warn',
            msg: 'conversation room unreachable; the turn goes on without live mirroring',
            conversationId: this.conversationId,
            error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          }),
        );
      },
    );
    this.ctx.waitUntil(
      delivery.finally(() => {
        this.sending = false;
        this.flush();
      }),
    );
  }

  private async publish(batch: ServerFrame[]): Promise<number> {
    const namespace = this.ctx.env.CONVERSATION_ROOM;
    return namespace.get(namespace.idFromName(this.conversationId)).publish(...batch);
  }
}
