/**
 * Token counts of pre-tokenizer pieces, memoized without creating a string per lookup: the key
 * is hashed and compared straight from the source text. Slicing every piece out of a document
 * to use a Map was the single largest cost of chunking.
 *
 * Open addressing over typed arrays; when the table is half full it is simply emptied, which
 * bounds memory per isolate and never changes a result (a miss just asks the tokenizer again).
 */
const SLOTS = 1 << 16; // power of two
const MAX_ENTRIES = SLOTS >>> 1;
/** Longer pieces are rare (long words, runs of symbols); they skip the cache. */
const MAX_CACHED_LENGTH = 48;
const ARENA_SIZE = MAX_ENTRIES * 12; // average cached piece is well under 12 code units

export class PieceTokenCache {
  private readonly slotKeyStart = new Int32Array(SLOTS).fill(-1);
  private readonly slotKeyLength = new Uint8Array(SLOTS);
  private readonly slotCount = new Int32Array(SLOTS);
  private arena = new Uint16Array(ARENA_SIZE);
  private arenaUsed = 0;
  private entries = 0;

  constructor(private readonly countPiece: (piece: string) => number) {}

  count(text: string, start: number, end: number): number {
    const length = end - start;
    if (length > MAX_CACHED_LENGTH) return this.countPiece(text.slice(start, end));
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    const mask = SLOTS - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const keyStart = this.slotKeyStart[slot]!;
      if (keyStart < 0) return this.insert(slot, text, start, end);
      if (this.slotKeyLength[slot] === length && this.keyEquals(keyStart, text, start, length)) {
        return this.slotCount[slot]!;
      }
    }
  }

  private keyEquals(keyStart: number, text: string, start: number, length: number): boolean {
    const arena = this.arena;
    for (let i = 0; i < length; i++) if (arena[keyStart + i] !== text.charCodeAt(start + i)) return false;
    return true;
  }

  private insert(slot: number, text: string, start: number, end: number): number {
    const count = this.countPiece(text.slice(start, end));
    const length = end - start;
    if (this.entries >= MAX_ENTRIES || this.arenaUsed + length > ARENA_SIZE) {
      this.clear();
      return count; // the slot found before clearing is stale; the next lookup will insert
    }
    for (let i = 0; i < length; i++) this.arena[this.arenaUsed + i] = text.charCodeAt(start + i);
    this.slotKeyStart[slot] = this.arenaUsed;
    this.slotKeyLength[slot] = length;
    this.slotCount[slot] = count;
    this.arenaUsed += length;
    this.entries++;
    return count;
  }

  clear(): void {
    this.slotKeyStart.fill(-1);
    this.arenaUsed = 0;
    this.entries = 0;
  }
}
