/**
 * What the widget remembers per bot across page loads: `localStorage["kyrochat:<botId>"]` =
 * `{ visitorId, conversationId, leadDone }`. Storage may be missing (privacy modes, sandboxed
 * frames throw on access), full (setItem throws) or hold anything (another script, an older
 * version): every read is validated, every failure falls back to memory for this page.
 */

/** The slice of the Web Storage API this needs (a fake in tests). */
export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface VisitorState {
  visitorId?: string;
  conversationId?: string;
  leadDone?: boolean;
}

export const storageKey = (botId: string) => `kyrochat:${botId}`;

/** Server ids look like `vis_…` / `cnv_…`; anything else in storage is ignored. */
const ID = /^[a-z]{3}_[0-9A-Za-z]{1,60}$/;

export function parseState(raw: string | null): VisitorState {
  if (!raw || raw.length > 1000) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return {};
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {};
  const record = value as Record<string, unknown>;
  const state: VisitorState = {};
  if (typeof record.visitorId === 'string' && ID.test(record.visitorId)) state.visitorId = record.visitorId;
  if (typeof record.conversationId === 'string' && ID.test(record.conversationId)) state.conversationId = record.conversationId;
  if (record.leadDone === true) state.leadDone = true;
  return state;
}

/** The page's localStorage, or null where merely touching it throws. */
export function browserStorage(): KeyValueStore | null {
  try {
    return (globalThis as { localStorage?: KeyValueStore }).localStorage ?? null;
  } catch {
    return null;
  }
}

export class VisitorStore {
  private state: VisitorState;
  private readonly key: string;

  constructor(botId: string, private readonly backing: KeyValueStore | null) {
    this.key = storageKey(botId);
    let raw: string | null = null;
    try {
      raw = backing?.getItem(this.key) ?? null;
    } catch {
      raw = null;
    }
    this.state = parseState(raw);
  }

  get(): VisitorState {
    return { ...this.state };
  }

  /** Merges and persists; `undefined` removes a field. Kept in memory even when storage refuses. */
  update(patch: VisitorState): void {
    const next: VisitorState = { ...this.state, ...patch };
    for (const key of Object.keys(next) as (keyof VisitorState)[]) if (next[key] === undefined) delete next[key];
    this.state = next;
    try {
      this.backing?.setItem(this.key, JSON.stringify(next));
    } catch {
      // Full or forbidden: this page keeps working from memory.
    }
  }
}
