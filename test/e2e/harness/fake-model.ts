/**
 * A fake OpenAI-compatible chat model and an action endpoint on one loopback origin, for the
 * browser test of action confirmations (issue #11): the Worker under `wrangler dev` reaches it
 * through the egress guard because global-setup lists its host in EGRESS_ALLOW_HOSTS.
 *
 * - POST /v1/chat/completions (streamed in OpenAI's chunk format, or whole): with tools offered and no tool
 *   result after the last user message, it calls the first tool with the JSON object found in the
 *   user's message; once a tool result is there it answers "Tool results: <contents>".
 * - POST /action/<anything>: answers {"cancelled": <body.order>}.
 */
import { createServer, type Server } from 'node:http';

export interface FakeModel {
  origin: string;
  close: () => Promise<void>;
}

type ChatMessage = { role: string; content: unknown };

function plan(body: any): { text: string } | { call: { name: string; arguments: string } } {
  const messages: ChatMessage[] = Array.isArray(body.messages) ? body.messages : [];
  const lastUser = messages.map((m) => m.role).lastIndexOf('user');
  const results = messages.slice(lastUser + 1).filter((m) => m.role === 'tool');
  if (results.length > 0) return { text: `Tool results: ${results.map((m) => String(m.content)).join(' | ')}` };
  const tool = Array.isArray(body.tools) ? body.tools[0]?.function?.name : undefined;
  if (typeof tool !== 'string') return { text: 'No tools were offered.' };
  const json = /\{[\s\S]*\}/.exec(lastUser >= 0 ? String(messages[lastUser]!.content) : '');
  return { call: { name: tool, arguments: json ? json[0] : '{}' } };
}

function chunk(body: any, delta: object, finish: string | null = null) {
  return { id: 'chatcmpl-e2e', object: 'chat.completion.chunk', created: 0, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] };
}

export async function startFakeModel(port: number): Promise<FakeModel> {
  const server: Server = createServer(async (req, res) => {
    let raw = '';
    for await (const piece of req) raw += piece;
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    let body: any = {};
    try {
      body = raw ? JSON.parse(raw) : {};
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (req.method === 'POST' && path.startsWith('/action/')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cancelled: body.order ?? null }));
      return;
    }
    if (req.method !== 'POST' || path !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    const next = plan(body);
    if (!body.stream) {
      // Not streamed (e.g. a conversation title): the whole message at once.
      const message = 'text' in next
        ? { role: 'assistant', content: next.text }
        : { role: 'assistant', content: null, tool_calls: [{ id: 'call_e2e', type: 'function', function: next.call }] };
      const choice = { index: 0, message, finish_reason: 'text' in next ? 'stop' : 'tool_calls' };
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'chatcmpl-e2e', object: 'chat.completion', created: 0, model: body.model, choices: [choice], usage }));
      return;
    }
    const chunks: object[] = [chunk(body, { role: 'assistant', content: '' })];
    if ('text' in next) {
      for (const word of next.text.match(/\S+\s*/g) ?? []) chunks.push(chunk(body, { content: word }));
      chunks.push(chunk(body, {}, 'stop'));
    } else {
      chunks.push(chunk(body, { tool_calls: [{ index: 0, id: 'call_e2e', type: 'function', function: { name: next.call.name, arguments: next.call.arguments } }] }));
      chunks.push(chunk(body, {}, 'tool_calls'));
    }
    if (body.stream_options?.include_usage) chunks.push({ ...chunk(body, {}), choices: [], usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } });
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.end([...chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`), 'data: [DONE]\n\n'].join(''));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
