/**
 * A zero-latency OpenAI-compatible chat model for benchmarks: `POST …/chat/completions`
 * answers at once, in Node, with a fixed short answer (streamed as SSE deltas when asked, then
 * a usage chunk and `[DONE]`, as OpenAI streams with `stream_options.include_usage`). Given to
 * startBenchWorker as `webFetcher`, it receives the Worker's outbound model calls after the
 * egress guard, so what a benchmark measures is the chat pipeline, not a model.
 */

/** Short, cites its source, and is split into a few deltas like a real stream. */
export const ZERO_LATENCY_ANSWER = ['Refunds', ' are', ' possible', ' within', ' 14', ' days', ' of', ' payment', ' [1].'];

const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

export function createZeroLatencyModel({ model = 'bench-zero' } = {}) {
  const stats = { completions: 0, streamed: 0, other: 0 };
  const usage = { prompt_tokens: 100, completion_tokens: ZERO_LATENCY_ANSWER.length, total_tokens: 100 + ZERO_LATENCY_ANSWER.length };

  async function fetch(request) {
    const url = new URL(request.url);
    if (request.method === 'GET' && url.pathname.endsWith('/models')) return json({ object: 'list', data: [{ id: model, object: 'model', created: 0, owned_by: 'bench' }] });
    if (request.method !== 'POST' || !url.pathname.endsWith('/chat/completions')) {
      stats.other++;
      return json({ error: { message: `the benchmark model does not serve ${request.method} ${url.pathname}` } }, 404);
    }
    const body = await request.json().catch(() => ({}));
    stats.completions++;
    const base = { id: `chatcmpl-bench-${stats.completions}`, created: Math.floor(Date.now() / 1000), model: body.model ?? model };
    if (!body.stream) {
      return json({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: ZERO_LATENCY_ANSWER.join('') }, finish_reason: 'stop' }],
        usage,
      });
    }
    stats.streamed++;
    const chunk = (choices, extra = {}) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`;
    const frames = [
      chunk([{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }]),
      ...ZERO_LATENCY_ANSWER.map((text) => chunk([{ index: 0, delta: { content: text }, finish_reason: null }])),
      chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]),
      chunk([], { usage }),
      'data: [DONE]\n\n',
    ];
    // One body write: "zero latency" means the model never makes the pipeline wait.
    return new Response(frames.join(''), { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  }

  return { fetch, stats, model };
}
