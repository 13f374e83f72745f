/**
 * PII pseudonymization for calls to external models. Emails, phone numbers, card numbers (only
 * when the Luhn check passes) and IBANs (only when mod-97 passes) in every prompt message and
 * source become placeholders such as «EMAIL_1»; the same value gets the same placeholder across
 * the whole request, so the model can still reason about "the same address". The streamed
 * answer is restored: a placeholder split across deltas is held back only as long as the text
 * could still become one, so the stream keeps flowing.
 *
 * The originals live only in the request's `PiiVault` (memory); nothing here logs.
 *
 * Every pattern has bounded repetition, so scanning is linear in the text whatever it holds.
 */
import { PII } from '../limits';
import type { ChatChunk, ChatModel, ChatRequest } from './chat-model';

export type PiiKind = 'EMAIL' | 'PHONE' | 'CARD' | 'IBAN';

/** The values replaced in one request and their placeholders, both ways. */
export class PiiVault {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counters: Record<PiiKind, number> = { EMAIL: 0, PHONE: 0, CARD: 0, IBAN: 0 };

  placeholderFor(kind: PiiKind, value: string): string {
    const key = `${kind}\u0000${canonical(kind, value)}`;
    let placeholder = this.byValue.get(key);
    if (!placeholder) {
      placeholder = `«${kind}_${++this.counters[kind]}»`;
      this.byValue.set(key, placeholder);
      this.byPlaceholder.set(placeholder, value);
    }
    return placeholder;
  }

  originalOf(placeholder: string): string | undefined {
    return this.byPlaceholder.get(placeholder);
  }

  get size(): number {
    return this.byPlaceholder.size;
  }
}

/** Spellings of one value that mean the same thing share a placeholder. */
function canonical(kind: PiiKind, value: string): string {
  if (kind === 'EMAIL') return value.toLowerCase();
  if (kind === 'IBAN') return value.replace(/\s/g, '').toUpperCase();
  return value.replace(/\D/g, '');
}

interface Span {
  start: number;
  end: number;
  kind: PiiKind;
}

// Local part ≤ 64 and labels ≤ 63 (RFC 5321): the bounds also keep the scan linear.
const EMAIL = /(?<![\w.%+-])[\w.%+-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?){0,8}\.[a-z]{2,24}(?![\w-])/giu;
// 13–19 digits, single spaces or dashes between groups.
const CARD = /(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])/g;
// Country code, check digits, then 11–30 alphanumerics, optionally in space-separated groups.
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}/g;
// A leading + (international) or a national 0 / (area code), or the North American 3-3-4 shape.
const PHONE = /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d(?:[ .-]?\d){5,13}|(?:\(\d{2,5}\)|0\d{1,4})[ .-]?\d(?:[ .-]?\d){4,11}|\d{3}[.-]\d{3}[.-]\d{4})(?![\w])/g;

function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/**
 * ISO 13616: move the first four characters to the end, letters to 10..35, the number mod 97 is 1.
 * Check digits are 02–98 (the algorithm never produces 00, 01 or 99).
 */
function ibanValid(compact: string): boolean {
  if (compact.length < 15 || compact.length > 34) return false;
  const check = Number(compact.slice(2, 4));
  if (check < 2 || check > 98) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const char of rearranged) {
    const code = char.charCodeAt(0);
    const value = code >= 65 ? code - 55 : code - 48;
    remainder = (value >= 10 ? remainder * 100 + value : remainder * 10 + value) % 97;
  }
  return remainder === 1;
}

function* matches(pattern: RegExp, text: string): Generator<RegExpExecArray> {
  pattern.lastIndex = 0;
  for (let m = pattern.exec(text); m; m = pattern.exec(text)) yield m;
}

/** Where the PII in `text` is, leftmost first, without overlaps (emails, IBANs, cards, then phones win ties). */
export function findPii(text: string): Span[] {
  const found: Span[] = [];
  const taken = (start: number, end: number) => found.some((s) => start < s.end && s.start < end);
  for (const m of matches(EMAIL, text)) found.push({ start: m.index, end: m.index + m[0].length, kind: 'EMAIL' });
  for (const m of matches(IBAN, text)) {
    // The greedy match may run into following capitals ("… 00 IN CASH"): keep the longest valid prefix.
    const positions = [...m[0]].map((c, i) => (c === ' ' ? -1 : i)).filter((i) => i >= 0);
    for (let n = positions.length; n >= 15; n--) {
      const end = m.index + positions[n - 1]! + 1;
      if (ibanValid(text.slice(m.index, end).replace(/ /g, '')) && !taken(m.index, end)) {
        found.push({ start: m.index, end, kind: 'IBAN' });
        break;
      }
    }
  }
  for (const m of matches(CARD, text)) {
    const end = m.index + m[0].length;
    if (luhnValid(m[0].replace(/\D/g, '')) && !taken(m.index, end)) found.push({ start: m.index, end, kind: 'CARD' });
  }
  for (const m of matches(PHONE, text)) {
    const end = m.index + m[0].length;
    const digits = m[0].replace(/\D/g, '').length;
    if (digits >= 7 && digits <= 15 && !taken(m.index, end)) found.push({ start: m.index, end, kind: 'PHONE' });
  }
  return found.sort((a, b) => a.start - b.start);
}

/** `text` with every PII value replaced by its placeholder in `vault`. */
export function pseudonymize(text: string, vault: PiiVault): string {
  if (text.length > PII.maxScanChars) throw new RangeError(`text of ${text.length} characters is over the PII scan limit`);
  let out = '';
  let at = 0;
  for (const span of findPii(text)) {
    out += text.slice(at, span.start) + vault.placeholderFor(span.kind, text.slice(span.start, span.end));
    at = span.end;
  }
  return out + text.slice(at);
}

const PLACEHOLDER = /«[A-Z]{1,8}_\d{1,6}»/g;
/** What the tail of a stream may be while a placeholder is still arriving. */
const PLACEHOLDER_PREFIX = /«[A-Z]{0,8}(?:_\d{0,6})?$/;

/** Placeholders of `vault` in `text` back to their values; unknown ones stay as they are. */
export function restore(text: string, vault: PiiVault): string {
  return text.replace(PLACEHOLDER, (p) => vault.originalOf(p) ?? p);
}

/**
 * Restores a stream: `push` returns what can be shown now, holding back only a tail that could
 * still be the start of a placeholder (at most PII.maxPlaceholderChars); `flush` returns the rest.
 */
export class PlaceholderRestorer {
  private pending = '';

  constructor(private readonly vault: PiiVault) {}

  push(delta: string): string {
    const text = this.pending + delta;
    const open = text.lastIndexOf('«');
    const tail = open === -1 ? '' : text.slice(open);
    if (tail && tail.length <= PII.maxPlaceholderChars && PLACEHOLDER_PREFIX.test(tail)) {
      this.pending = tail;
      return restore(text.slice(0, open), this.vault);
    }
    this.pending = '';
    return restore(text, this.vault);
  }

  flush(): string {
    const rest = this.pending;
    this.pending = '';
    return restore(rest, this.vault);
  }
}

/**
 * A ChatModel decorator: the inner (external) model sees placeholders only, the caller gets the
 * originals back. Its `id` is the inner model's, read live (a fallback list names who answered).
 */
export class PiiRedactingChatModel implements ChatModel {
  constructor(readonly inner: ChatModel) {}

  get id(): string {
    return this.inner.id;
  }

  get supportsTools(): boolean | undefined {
    return this.inner.supportsTools;
  }

  async *stream(request: ChatRequest): AsyncIterable<ChatChunk> {
    const vault = new PiiVault();
    const redacted: ChatRequest = {
      ...request,
      // Earlier tool calls and results carry real values too: the model sees placeholders there as well.
      messages: request.messages.map((m) => ({
        ...m,
        content: pseudonymize(m.content, vault),
        ...(m.toolCalls ? { toolCalls: m.toolCalls.map((c) => ({ ...c, arguments: pseudonymize(c.arguments, vault) })) } : {}),
      })),
      question: pseudonymize(request.question, vault),
      sources: request.sources.map((s) => ({ n: s.n, title: pseudonymize(s.title, vault), text: pseudonymize(s.text, vault) })),
    };
    const restorer = new PlaceholderRestorer(vault);
    for await (const chunk of this.inner.stream(redacted)) {
      if (chunk.type === 'tool_calls') {
        // The action gets the real values the model only saw as placeholders (an email to collect).
        const rest = restorer.flush();
        if (rest) yield { type: 'text', text: rest };
        yield { type: 'tool_calls', calls: chunk.calls.map((c) => ({ ...c, arguments: restore(c.arguments, vault) })) };
        continue;
      }
      if (chunk.type !== 'text') {
        // Text held back for a possible placeholder goes out before usage, which ends a stream.
        const rest = restorer.flush();
        if (rest) yield { type: 'text', text: rest };
        yield chunk;
        continue;
      }
      const text = restorer.push(chunk.text);
      if (text) yield { type: 'text', text };
    }
    const rest = restorer.flush();
    if (rest) yield { type: 'text', text: rest };
  }
}
