/**
 * Reads named entries of a ZIP archive (APPNOTE.TXT) with a hard cap on each entry's inflated
 * size. fflate's unzipSync trusts the declared size: it allocates that much, and an entry that
 * declares 1 KB but inflates to gigabytes is still inflated to the end (the excess is dropped,
 * the CPU is spent). Here the declared size is checked before anything is inflated, and the
 * actual output is counted while inflating, a small step at a time, stopping at the cap.
 */
import { Inflate, strFromU8 } from 'fflate';

export type ZipEntriesResult =
  | { ok: true; entries: Map<string, Uint8Array> }
  | { ok: false; reason: 'corrupt' | 'too_large'; detail: string };

const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const CENTRAL_FILE_HEADER = 0x02014b50;
const LOCAL_FILE_HEADER = 0x04034b50;
/** The end record (22 bytes) may be followed by a comment of up to 65,535 bytes. */
const MAX_END_RECORD_DISTANCE = 22 + 0xffff;
/** Compressed bytes inflated per step: deflate expands at most ~1032:1, so ~1 MiB out per step. */
const INFLATE_STEP_BYTES = 1024;

class EntryTooLarge extends Error {}

const corrupt = (detail: string): ZipEntriesResult => ({ ok: false, reason: 'corrupt', detail });

function inflateCapped(compressed: Uint8Array, maxBytes: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const inflater = new Inflate((chunk, final) => {
    total += chunk.byteLength;
    if (total > maxBytes) throw new EntryTooLarge();
    parts.push(chunk);
    if (final) ended = true;
  });
  for (let offset = 0; offset < compressed.length && !ended; offset += INFLATE_STEP_BYTES) {
    const end = Math.min(offset + INFLATE_STEP_BYTES, compressed.length);
    inflater.push(compressed.subarray(offset, end), end === compressed.length);
  }
  if (!ended) throw new Error('the compressed data ends early');
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** The entries named in `wanted` that the archive has; each must inflate to at most `maxBytes`. */
export function readZipEntries(bytes: Uint8Array, wanted: ReadonlySet<string>, maxBytes: number): ZipEntriesResult {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const u32 = (at: number) => view.getUint32(at, true);
  let end = -1;
  for (let at = bytes.length - 22; at >= 0 && at >= bytes.length - MAX_END_RECORD_DISTANCE; at--) {
    if (u32(at) === END_OF_CENTRAL_DIRECTORY) {
      end = at;
      break;
    }
  }
  if (end < 0) return corrupt('The archive has no end of central directory record.');
  const count = u16(end + 10);
  let at = u32(end + 16);
  if (count === 0xffff || at === 0xffffffff) return corrupt('ZIP64 archives are not supported.');

  const entries = new Map<string, Uint8Array>();
  try {
    for (let i = 0; i < count; i++) {
      if (at + 46 > bytes.length || u32(at) !== CENTRAL_FILE_HEADER) return corrupt('The central directory is damaged.');
      const method = u16(at + 10);
      const compressedSize = u32(at + 20);
      const declaredSize = u32(at + 24);
      const nameLength = u16(at + 28);
      const localOffset = u32(at + 42);
      const name = strFromU8(bytes.subarray(at + 46, at + 46 + nameLength));
      at += 46 + nameLength + u16(at + 30) + u16(at + 32);
      if (!wanted.has(name)) continue;
      if (declaredSize > maxBytes) return { ok: false, reason: 'too_large', detail: `${name} declares ${declaredSize} bytes inflated, over the ${maxBytes}-byte limit.` };
      if (localOffset + 30 > bytes.length || u32(localOffset) !== LOCAL_FILE_HEADER) return corrupt(`The local header of ${name} is damaged.`);
      const dataStart = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
      if (dataStart + compressedSize > bytes.length) return corrupt(`${name} runs past the end of the archive.`);
      const data = bytes.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) {
        if (data.byteLength > maxBytes) return { ok: false, reason: 'too_large', detail: `${name} is over the ${maxBytes}-byte limit.` };
        entries.set(name, data.slice());
      } else if (method === 8) {
        entries.set(name, inflateCapped(data, maxBytes));
      } else {
        return corrupt(`${name} uses an unsupported compression method (${method}).`);
      }
    }
  } catch (error) {
    if (error instanceof EntryTooLarge) return { ok: false, reason: 'too_large', detail: `An entry inflates beyond the ${maxBytes}-byte limit (more than it declares).` };
    return corrupt(`The archive cannot be read: ${error instanceof Error ? error.message : String(error)}`);
  }
  return { ok: true, entries };
}
