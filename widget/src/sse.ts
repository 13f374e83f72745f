/**
 * A Server-Sent Events parser (the WHATWG "event stream" grammar), pure: feed it byte or text
 * chunks as they arrive, get whole events back. Chunks may split anywhere: inside a line, between
 * the CR and LF of a CRLF, inside a multi-byte UTF-8 character. Comments (`:` lines) and unknown
 * fields are skipped; `data` lines join with "\n"; an event with no data is not dispatched.
 */
import { WIDGET_CLIENT } from '../../src/limits';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  private decoder = new TextDecoder();
  private eventName = '';
  private dataLines: string[] = [];
  private dataChars = 0;
  /** The current event's data grew past the bound: it is dropped at its blank line. */
  private dropEvent = false;
  private lastId: string | undefined;
  private started = false;
  /** The previous chunk ended with CR: a LF at the start of the next one belongs to it. */
  private pendingCr = false;
  /** Set while skipping the rest of an over-long line. */
  private discarding = false;

  constructor(private readonly maxLineChars: number = WIDGET_CLIENT.sseMaxBufferedChars) {}

  push(chunk: Uint8Array | string): SseEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1);
    this.pendingCr = false;
    return this.consume(text);
  }

  /** The stream ended: an event without its closing blank line is discarded, as the spec says. */
  end(): SseEvent[] {
    const rest = this.decoder.decode();
    const events = rest ? this.consume(rest) : [];
    this.buffer = '';
    this.dataLines = [];
    this.dataChars = 0;
    this.dropEvent = false;
    this.eventName = '';
    return events;
  }

  private consume(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text.charCodeAt(i);
      if (ch !== 10 && ch !== 13) continue;
      const line = this.buffer + text.slice(start, i);
      this.buffer = '';
      if (this.discarding) this.discarding = false;
      else this.line(line, events);
      if (ch === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCr = true;
        }
      }
      start = i + 1;
    }
    if (!this.discarding) {
      this.buffer += text.slice(start);
      if (this.buffer.length > this.maxLineChars) {
        this.buffer = '';
        this.discarding = true;
      }
    }
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.dataLines.length > 0 && !this.dropEvent) {
        const event: SseEvent = { event: this.eventName || 'message', data: this.dataLines.join('\n') };
        if (this.lastId !== undefined) event.id = this.lastId;
        events.push(event);
      }
      this.dataLines = [];
      this.dataChars = 0;
      this.dropEvent = false;
      this.eventName = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.dataChars += value.length + 1;
        if (this.dataChars > this.maxLineChars) {
          this.dropEvent = true;
          this.dataLines = [];
        } else if (!this.dropEvent) {
          this.dataLines.push(value);
        }
        break;
      case 'event':
        this.eventName = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastId = value;
        break;
    }
  }
}
