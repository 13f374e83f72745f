/**
 * Action confirmations in the widget (issue #11), the pure part: reading a `confirmation` event
 * or frame, summarizing its arguments for the card, and what a refused decision means.
 *
 * The arguments are model output (the server checked them against the action's schema, not for
 * honesty): the summary is plain text for textContent, one line, bounded, with control and
 * bidirectional-override characters removed so a value cannot reorder what the visitor reads
 * (e.g. make "100" look like "001") or break the card's layout.
 */
import { WIDGET_CLIENT } from '../../src/limits';

export interface Confirmation {
  confirmationId: string;
  action: string;
  arguments: Record<string, unknown>;
  expiresAt: string;
}

/** The id goes into a URL path and is matched against the server's pattern (room-protocol.ts). */
const CONFIRMATION_ID = /^cfm_[0-9A-Za-z]{1,60}$/;

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A confirmation from an SSE event, a 202 body or a socket frame; null when it is not one. */
export function readConfirmation(value: unknown): Confirmation | null {
  if (!isPlainObject(value)) return null;
  const { confirmationId, action, expiresAt } = value;
  if (typeof confirmationId !== 'string' || !CONFIRMATION_ID.test(confirmationId)) return null;
  if (typeof action !== 'string' || action.length === 0) return null;
  return {
    confirmationId,
    action: oneLine(action, WIDGET_CLIENT.confirmActionMaxChars),
    arguments: isPlainObject(value.arguments) ? value.arguments : {},
    expiresAt: typeof expiresAt === 'string' ? expiresAt : '',
  };
}

// C0/C1 controls, line and paragraph separators, and the bidi embeddings, overrides and isolates.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]+/g;

/** Text on one line, without control or bidi characters, at most `max` characters (an ellipsis marks a cut). */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(UNSAFE, ' ').replace(/\s+/g, ' ').trim();
  if (flat.length <= max) return flat;
  let end = Math.max(0, max - 1);
  // Never cut between the two halves of a surrogate pair.
  const code = flat.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${flat.slice(0, end)}…`;
}

function valueText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  // Nested values: their JSON (bounded by the server at ACTIONS.maxArgumentsBytes), cut below.
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '…';
  }
}

/** "key: value, key: value", each value at most confirmValueMaxChars, the whole at most `maxChars`. */
export function summarizeArguments(args: Record<string, unknown>, maxChars: number = WIDGET_CLIENT.confirmSummaryMaxChars): string {
  const parts: string[] = [];
  let length = 0;
  for (const key of Object.keys(args)) {
    const part = `${oneLine(key, WIDGET_CLIENT.confirmValueMaxChars)}: ${oneLine(valueText(args[key]), WIDGET_CLIENT.confirmValueMaxChars)}`;
    parts.push(part);
    length += part.length + 2;
    // Enough to fill the line: the rest would be cut anyway.
    if (length > maxChars) break;
  }
  return oneLine(parts.join(', '), maxChars);
}

/**
 * What a failed decision means for the card: `expired` / `decided` are final answers from the
 * server (nothing ran this time); `final`: another refusal that a second click would only repeat
 * (404, 400, 403); `retry`: the decision may not have reached the server (network, 5xx, 429).
 */
export type Refusal = 'expired' | 'decided' | 'final' | 'retry';

export function refusalOf(status: number, code: string): Refusal {
  if (code === 'confirmation_expired') return 'expired';
  if (code === 'confirmation_decided') return 'decided';
  return status >= 400 && status < 500 && status !== 429 && status !== 408 ? 'final' : 'retry';
}
