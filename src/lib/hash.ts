/**
 * FNV-1a over UTF-16 code units, finished with MurmurHash3's fmix32 so that low and high bits
 * are both well mixed (nearby strings such as "vis_1" and "vis_2" spread over all 32 bits).
 * Fixed here, not taken from the runtime, so offline vectors and visitor sketches never change.
 */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
