/**
 * How a turn looks in a room: the pipeline's events (turn.ts) as server frames. One translation
 * for the room's own WebSocket turns and for turns mirrored in from the HTTP channels
 * (room-mirror.ts), so a socket cannot tell which channel a turn came through.
 *
 * - `meta`: the stored user message (when the caller has it to show; a retried turn's was shown before).
 * - the first `token` announces the answer (`turn` start): a paused turn never starts one.
 * - `token`: the text, tagged with the answer's id.
 * - `done`: the stored answer; `error`: the stored (errored) answer, then an error frame.
 * - `tool`: an action ran (issue #11), as progress; its result is in the stored `tool` message.
 * - `confirmation`: an action waits for a decision (issue #11); `paused` follows and adds nothing
 *   (the user message is out, the confirmation frame says why the answer does not come).
 * - `citations` ride on the stored answer.
 */
import { ACTIONS } from '../../../limits';
import type { MessageDto, TurnEvent } from '../turn';
import type { ServerFrame } from './room-protocol';

export class TurnFrames {
  private announced: { assistantMessageId: string; replyTo: string } | null = null;
  private current: string | null = null;
  private finished = false;

  /** The answer streaming right now (its `turn` start went out and its message did not), if any. */
  get streaming(): string | null {
    return this.current;
  }

  /** Whether the turn showed itself (meta) and has not ended: a broken turn must then say so. */
  get unfinished(): boolean {
    return this.announced !== null && !this.finished;
  }

  framesFor(event: TurnEvent, userMessage: MessageDto | null = null): ServerFrame[] {
    switch (event.type) {
      case 'meta':
        this.announced = { assistantMessageId: event.assistantMessageId, replyTo: event.userMessageId };
        return userMessage ? [{ type: 'message', message: userMessage }] : [];
      case 'token': {
        const frames: ServerFrame[] = [];
        if (!this.current && this.announced && !this.finished) {
          frames.push({ type: 'turn', phase: 'start', ...this.announced });
          this.current = this.announced.assistantMessageId;
        }
        if (this.current) frames.push({ type: 'token', assistantMessageId: this.current, text: event.text });
        return frames;
      }
      case 'citations':
        return [];
      case 'tool':
        return [{ type: 'tool', replyTo: this.announced?.replyTo ?? null, callId: event.callId, name: event.name, status: event.status, messageId: event.messageId }];
      case 'confirmation':
        return [
          {
            type: 'confirmation',
            replyTo: this.announced?.replyTo ?? null,
            confirmationId: event.confirmationId,
            action: event.action,
            arguments: boundedArguments(event.arguments),
            expiresAt: event.expiresAt,
          },
        ];
      case 'paused':
        this.finished = true;
        return [];
      case 'done':
        this.end();
        return [{ type: 'message', message: event.message }];
      case 'error':
        this.end();
        return [
          { type: 'message', message: event.message },
          { type: 'error', code: event.code, detail: event.detail },
        ];
    }
  }

  /** The frame that tells every socket a turn broke on our side (and drops its in-flight text). */
  failedFrame(): ServerFrame {
    const assistantMessageId = this.current;
    this.end();
    return {
      type: 'error',
      code: 'turn_failed',
      detail: 'The answer failed on our side; send the message again.',
      ...(assistantMessageId ? { assistantMessageId } : {}),
    };
  }

  private end(): void {
    this.current = null;
    this.finished = true;
  }
}

/**
 * The arguments are model output. The tool loop stores a confirmation only for arguments that
 * passed the action's schema and its size check (ACTIONS.maxArgumentsBytes); this re-check keeps a
 * broadcast to up to LIVE_ROOM.maxSockets sockets bounded even if that ever changes.
 */
export function boundedArguments(args: Record<string, unknown>): Record<string, unknown> {
  const bytes = new TextEncoder().encode(JSON.stringify(args)).byteLength;
  return bytes <= ACTIONS.maxArgumentsBytes ? args : { omitted: `The arguments are larger than ${ACTIONS.maxArgumentsBytes} bytes.` };
}
