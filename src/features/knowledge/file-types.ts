// Temporary until the extractors land in this change.
export const ACCEPTED_FILE_TYPES = ['text/plain', 'text/markdown'] as const;
export function detectFileType(bytes: Uint8Array, declared: string, _name: string): { ok: true; mime: string } | { ok: false; reason: string } {
  if (!ACCEPTED_FILE_TYPES.includes(declared as never)) return { ok: false, reason: `type ${declared} is not accepted` };
  if (bytes.includes(0)) return { ok: false, reason: 'binary content' };
  return { ok: true, mime: declared };
}
