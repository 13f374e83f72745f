/**
 * The OpenAI-compatible surface, mounted at `/v1` (OpenAI clients append `/chat/completions` to a
 * base URL ending in `/v1`):
 * - `GET /v1/models`, `GET /v1/models/{model}`: the org's bots; a bot id is a model.
 * - `POST /v1/chat/completions`: one chat turn with the bot named by `model`.
 *
 * Decisions (README "Chat protocols"):
 * - `system` / `developer` messages from the client are dropped: the bot's instructions are the
 *   org's, and a `chat`-scoped key (often shipped in less-trusted code) must not rewrite them or
 *   the grounding rules; a client system prompt would also be one more injection path.
 * - `temperature`, `max_tokens`, `max_completion_tokens`, `user` are accepted and ignored: the
 *   bot's settings apply. `n` other than 1 is a 422.
 * - Errors are OpenAI's shape `{ error: { message, type, code, param } }` (see `openAiErrors`),
 *   because OpenAI clients read `error`; `code` is our stable problem code. A failed turn adds
 *   `conversation_id`, `user_message_id` and `assistant_message_id` to `error` (extra fields).
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { createRouter } from '../../http/router';
import { ApiError } from '../../http/problem';
import { requirePermission, serviceContext } from '../../http/context';
import type { AppBindings } from '../../http/types';
import { CHAT_PROTOCOLS } from '../../limits';
import { getBot, listBots, type BotRow } from '../bots/service';
import { startTurn } from './pipeline';
import { chatCompletion, chatCompletionSseStream, openAiError, OPENAI_STREAM_HEADERS } from './protocols/openai-compat';
import { collectTurn, failedBeforeStreaming, peekTurn, type TurnFailureIds } from './protocols/turn-events';
import { lastUserMessage } from './chatbase-route';
import { CitationSchema } from './schemas';
import { clientTurn, pickConversationId, refusalProblem, turnCaller, turnFailureProblem, turnRequestKey, streamedReply } from './route-turn';

const TextPart = z.object({ type: z.string().max(64), text: z.string().max(CHAT_PROTOCOLS.maxClientMessageChars).optional() }).passthrough();

const OpenAiMessage = z
  .object({
    role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
    content: z.union([z.string().max(CHAT_PROTOCOLS.maxClientMessageChars), z.array(TextPart).max(CHAT_PROTOCOLS.maxContentParts), z.null()]).optional(),
    name: z.string().max(256).optional(),
  })
  .passthrough();

export const ChatCompletionRequest = z
  .object({
    model: z.string().min(1).max(64).openapi({ description: 'The bot id (`bot_…`), as listed by GET /v1/models' }),
    messages: z.array(OpenAiMessage).min(1).max(CHAT_PROTOCOLS.maxClientMessages),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    temperature: z.number().nullish().openapi({ description: 'Accepted and ignored: the bot settings apply' }),
    max_tokens: z.number().int().nullish().openapi({ description: 'Accepted and ignored: the bot settings apply' }),
    max_completion_tokens: z.number().int().nullish().openapi({ description: 'Accepted and ignored: the bot settings apply' }),
    n: z.number().int().nullish(),
    user: z.string().max(256).optional().openapi({ description: 'Accepted and ignored' }),
    conversation_id: z.string().min(1).max(64).optional().openapi({ description: 'KyroChat extra: continue this conversation (also X-Conversation-Id)' }),
  })
  .openapi('ChatCompletionRequest');

const Usage = z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int(), total_tokens: z.number().int() });

const ChatCompletion = z
  .object({
    id: z.string(),
    object: z.literal('chat.completion'),
    created: z.number().int(),
    model: z.string(),
    choices: z.array(
      z.object({
        index: z.number().int(),
        message: z.object({ role: z.literal('assistant'), content: z.string(), refusal: z.null(), citations: z.array(CitationSchema) }),
        logprobs: z.null(),
        finish_reason: z.literal('stop'),
      }),
    ),
    usage: Usage,
    conversation_id: z.string().nullable().openapi({ description: 'KyroChat extra: send it back to continue' }),
    unanswered: z.boolean(),
  })
  .openapi('ChatCompletion');

const Model = z.object({ id: z.string(), object: z.literal('model'), created: z.number().int(), owned_by: z.string(), name: z.string() }).openapi('OpenAiModel');
const ModelList = z.object({ object: z.literal('list'), data: z.array(Model) }).openapi('OpenAiModelList');

const OpenAiErrorSchema = z
  .object({
    error: z.object({
      message: z.string(),
      type: z.string(),
      code: z.string().nullable(),
      param: z.string().nullable(),
      conversation_id: z.string().nullable().optional().openapi({ description: 'KyroChat extra, on a failed turn: its conversation' }),
      user_message_id: z.string().nullable().optional().openapi({ description: 'KyroChat extra, on a failed turn: the stored user message (retry with the same Idempotency-Key)' }),
      assistant_message_id: z.string().nullable().optional().openapi({ description: 'KyroChat extra, on a failed turn: the stored assistant message carrying the error' }),
    }),
  })
  .openapi('OpenAiError');
const openAiErrorResponse = (description: string) => ({ description, content: { 'application/json': { schema: OpenAiErrorSchema } } }) as const;
const openAiErrorResponses = {
  400: openAiErrorResponse('Malformed JSON or invalid fields (`param` names the first)'),
  401: openAiErrorResponse('Missing, unknown or revoked API key'),
  403: openAiErrorResponse('The key lacks the `chat` scope'),
  404: openAiErrorResponse('Unknown model (bot) or conversation, or another organization\'s'),
  429: openAiErrorResponse('Rate limit or monthly message quota (see Retry-After)'),
} as const;

/**
 * Rewrites every problem+json answer under /v1 (auth, validation, rate limits, refusals, 404s)
 * into OpenAI's error shape, keeping status and headers (Retry-After, RateLimit, X-Request-Id).
 */
export const openAiErrors = (): MiddlewareHandler<AppBindings> =>
  async function openAiErrors(c, next) {
    await next();
    if (!(c.res.headers.get('content-type') ?? '').startsWith('application/problem+json')) return;
    const problem = (await c.res.clone().json()) as { status: number; detail?: string; title?: string; code?: string; errors?: { path: string }[] } & Partial<TurnFailureIds>;
    const status = c.res.status;
    const headers = new Headers(c.res.headers);
    headers.set('content-type', 'application/json; charset=utf-8');
    headers.delete('content-length');
    const body = openAiError(status, problem.detail ?? problem.title ?? 'Error', problem.code ?? null, problem.errors?.[0]?.path ?? null);
    // A failed turn's ids (turnFailureProblem) ride in extra fields, snake_case like the rest of /v1.
    if (problem.userMessageId !== undefined) {
      Object.assign(body.error, {
        conversation_id: problem.conversationId ?? null,
        user_message_id: problem.userMessageId,
        assistant_message_id: problem.assistantMessageId ?? null,
      });
    }
    c.res = undefined;
    c.res = new Response(JSON.stringify(body), { status, headers });
  };

const modelNotFound = (model: string) =>
  new ApiError({
    status: 404,
    code: 'model_not_found',
    title: 'Not found',
    detail: `The model \`${model}\` does not exist or you do not have access to it.`,
    errors: [{ path: 'model', message: 'Unknown model' }],
  });

const toModel = (bot: BotRow) => ({ id: bot.id, object: 'model' as const, created: Math.floor(bot.createdAt / 1000), owned_by: bot.orgId, name: bot.name });

/** The text of an OpenAI message: a string, or its text parts joined. Non-text parts (images, audio) are refused. */
function messageText(message: z.infer<typeof OpenAiMessage>, index: number): string {
  if (typeof message.content === 'string') return message.content;
  if (!message.content) return '';
  const texts: string[] = [];
  for (const part of message.content) {
    if (part.type !== 'text' || typeof part.text !== 'string') {
      throw new ApiError({
        status: 422,
        code: 'unsupported_content',
        title: 'Unsupported content',
        detail: `Only text content is supported; messages.${index} has a "${part.type}" part.`,
        errors: [{ path: `messages.${index}.content`, message: 'Only text parts are supported' }],
      });
    }
    texts.push(part.text);
  }
  return texts.join('\n');
}

export function openAiRoutes() {
  const router = createRouter();

  router.openapi(
    createRoute({
      method: 'get',
      path: '/models',
      tags: ['OpenAI-compatible'],
      security: [{ bearer: [] }],
      summary: "The org's bots as OpenAI models",
      responses: { 200: { description: 'The models', content: { 'application/json': { schema: ModelList } } }, 401: openAiErrorResponses[401], 403: openAiErrorResponses[403], 429: openAiErrorResponses[429] },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const db = c.get('db');
      const data: ReturnType<typeof toModel>[] = [];
      let cursor: string | null = null;
      while (data.length < CHAT_PROTOCOLS.maxModelsListed) {
        const rows = await listBots(db, org.orgId, cursor, 100);
        data.push(...rows.slice(0, 100).map(toModel));
        if (rows.length <= 100) break;
        cursor = rows[99]!.id;
      }
      return c.json({ object: 'list' as const, data: data.slice(0, CHAT_PROTOCOLS.maxModelsListed) }, 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'get',
      path: '/models/{model}',
      tags: ['OpenAI-compatible'],
      security: [{ bearer: [] }],
      summary: 'One bot as an OpenAI model',
      request: { params: z.object({ model: z.string().min(1).max(64).openapi({ param: { name: 'model', in: 'path' } }) }) },
      responses: { 200: { description: 'The model', content: { 'application/json': { schema: Model } } }, ...openAiErrorResponses },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const { model } = c.req.valid('param');
      const bot = await getBot(c.get('db'), org.orgId, model);
      if (!bot) throw modelNotFound(model);
      return c.json(toModel(bot), 200);
    },
  );

  router.openapi(
    createRoute({
      method: 'post',
      path: '/chat/completions',
      tags: ['OpenAI-compatible'],
      security: [{ bearer: [] }],
      summary: 'Chat with a bot, OpenAI-compatible',
      description:
        'The model is the bot id. `system`/`developer` messages are ignored (the bot\'s instructions apply); earlier user/assistant messages are the history of a new conversation. With `stream: true`, `chat.completion.chunk` events end with `data: [DONE]`; `stream_options.include_usage` adds a last chunk with usage and no choices. Citations ride in `citations` (on the message, or on the finishing chunk); `conversation_id` (body or `X-Conversation-Id`) continues a conversation. Errors use OpenAI\'s `{ error }` shape.',
      request: {
        body: { required: true, content: { 'application/json': { schema: ChatCompletionRequest } } },
        headers: z.object({ 'x-conversation-id': z.string().min(1).max(64).optional().openapi({ param: { name: 'x-conversation-id', in: 'header' } }) }),
      },
      responses: {
        200: {
          description: 'The completion, or its chunks as Server-Sent Events',
          content: { 'application/json': { schema: ChatCompletion }, 'text/event-stream': { schema: z.string() } },
        },
        ...openAiErrorResponses,
        413: openAiErrorResponse('The message is over the length limit, or the body over the size limit'),
        422: openAiErrorResponse('The last message is not the user\'s, non-text content, or `n` other than 1'),
        502: openAiErrorResponse('The bot\'s model failed (the user message is stored; retry with the same Idempotency-Key)'),
        503: openAiErrorResponse('A dependency is unavailable; retry later'),
        504: openAiErrorResponse('The bot\'s model timed out (the user message is stored; retry with the same Idempotency-Key)'),
      },
    }),
    async (c) => {
      const org = requirePermission(c, 'chat');
      const body = c.req.valid('json');
      const conversationId = pickConversationId(body.conversation_id, c.req.valid('header')['x-conversation-id']);
      if (body.n != null && body.n !== 1) {
        throw new ApiError({ status: 422, code: 'unsupported_n', title: 'Unsupported', detail: 'Only one choice (n = 1) is supported.', errors: [{ path: 'n', message: 'Must be 1' }] });
      }
      // Only user and assistant turns are conversation; system/developer/tool are dropped (see above).
      const dialogue = body.messages.flatMap((m, i) => (m.role === 'user' || m.role === 'assistant' ? [{ role: m.role, content: messageText(m, i), index: i }] : []));
      const question = lastUserMessage(body.messages);
      const bot = await getBot(c.get('db'), org.orgId, body.model);
      if (!bot) throw modelNotFound(body.model);

      const client = clientTurn(c);
      const start = await startTurn(serviceContext(c), {
        orgId: org.orgId,
        botId: bot.id,
        channel: 'openai',
        caller: turnCaller(c),
        conversationId,
        message: messageText(question, body.messages.length - 1),
        clientHistory: dialogue.slice(0, -1).map(({ role, content }) => ({ role, content })),
        requestKey: turnRequestKey(c),
        signal: client.signal,
      });
      if (!start.ok) throw refusalProblem(start.refusal);
      const options = { model: bot.id, created: Math.floor(Date.now() / 1000), includeUsage: body.stream_options?.include_usage === true };

      if (body.stream) {
        const peeked = await peekTurn(client.events(start.events));
        const failed = failedBeforeStreaming(peeked, start.conversationId);
        if (failed) throw turnFailureProblem(failed);
        return streamedReply(
          new Response(chatCompletionSseStream(peeked.events, options, client.abort), {
          status: 200,
          headers: { ...OPENAI_STREAM_HEADERS, 'x-conversation-id': start.conversationId },
        }),
        );
      }
      const turn = await collectTurn(client.events(start.events));
      if (turn.status === 'failed') throw turnFailureProblem(turn);
      c.header('x-conversation-id', start.conversationId);
      return c.json(chatCompletion(turn, options), 200);
    },
  );
  return router;
}
