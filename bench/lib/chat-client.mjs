/**
 * The client side of one chat turn for benchmarks: `POST /api/v1/bots/{botId}/chat` with
 * `stream: true`, read as Server-Sent Events, timed from the request to the first `token`
 * event and to the `done` event.
 */

/** Splits an SSE byte stream into { event, data } records (data parsed as JSON). */
async function* sseEvents(body) {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const bytes of body) {
    buffer += decoder.decode(bytes, { stream: true }).replaceAll('\r\n', '\n');
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const record = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data = [];
      for (const line of record.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length === 0) continue;
      const text = data.join('\n');
      let parsed = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Not JSON: keep the raw text.
      }
      yield { event, data: parsed };
    }
  }
}

/**
 * One streamed turn. Throws on a non-2xx answer, an `error` event, or a stream that ends without `done`.
 * @returns {Promise<{ firstTokenMs: number, totalMs: number, message: any, conversationId: string | null }>}
 */
export async function streamTurn(baseUrl, headers, botId, message, { conversationId } = {}) {
  const started = performance.now();
  const res = await fetch(new URL(`/api/v1/bots/${botId}/chat`, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...headers },
    body: JSON.stringify({ message, stream: true, ...(conversationId ? { conversationId } : {}) }),
  });
  if (!res.ok || !res.body) throw new Error(`chat turn answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  let firstTokenMs = Number.NaN;
  let meta = null;
  let done = null;
  // Read to the end even after `done`, so the connection goes back to the pool.
  for await (const { event, data } of sseEvents(res.body)) {
    if (event === 'meta') meta = data;
    else if (event === 'token' && Number.isNaN(firstTokenMs)) firstTokenMs = performance.now() - started;
    else if (event === 'error') throw new Error(`chat turn error event: ${JSON.stringify(data).slice(0, 300)}`);
    // `done` carries the stored message itself (some channels wrap it as { message }).
    else if (event === 'done' && !done) done = { totalMs: performance.now() - started, message: data?.role ? data : data?.message };
  }
  if (done) return { firstTokenMs, ...done, conversationId: meta?.conversationId ?? done.message?.conversationId ?? null };
  throw new Error('chat stream ended without a done event');
}
