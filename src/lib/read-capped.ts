/**
 * Reads a body stream as UTF-8 text, at most `maxBytes` of it: a stream that passes the cap is
 * cancelled there and reported as too large, never buffered whole. Errors of the stream itself
 * (a timeout, a dropped connection) are thrown as they come.
 */
export type CappedRead = { ok: true; text: string } | { ok: false; reason: 'too_large' };

export async function readCapped(body: ReadableStream<Uint8Array> | null, maxBytes: number): Promise<CappedRead> {
  if (!body) return { ok: true, text: '' };
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let total = 0;
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return { ok: false, reason: 'too_large' };
    }
    text += decoder.decode(value, { stream: true });
  }
  return { ok: true, text: text + decoder.decode() };
}
