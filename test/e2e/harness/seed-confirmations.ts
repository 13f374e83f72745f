/**
 * Seeds the action-confirmation browser test (issue #11): a public bot whose model is the fake
 * OpenAI-compatible server (harness/fake-model.ts, reached as a fallback endpoint, the way an
 * org points a bot at a self-hosted model) and an http action on the same server that needs the
 * visitor's confirmation.
 */
import { ownerApi } from './seed';

export interface SeededConfirmations {
  botId: string;
  actionId: string;
  actionName: string;
}

export async function seedConfirmations(opts: { workerUrl: string; hostOrigin: string; modelOrigin: string; token: string }): Promise<SeededConfirmations> {
  const api = ownerApi(opts.workerUrl, opts.token);
  const model = 'e2e-tools';
  const bot = await api<{ id: string }>(
    'POST',
    '/api/v1/bots',
    {
      name: 'Acme Orders',
      visibility: 'public',
      allowedOrigins: [opts.hostOrigin],
      widget: { appearance: { theme: 'light', title: 'Acme Orders' }, leadForm: { enabled: false } },
    },
    201,
  );
  await api('PATCH', `/api/v1/bots/${bot.id}`, {
    model: { provider: 'openai-compatible', model },
    modelFallbacks: [{ baseUrl: `${opts.modelOrigin}/v1`, model, apiKeySecret: null }],
  });
  const actionName = 'cancel_order';
  const action = await api<{ id: string }>(
    'POST',
    '/api/v1/actions',
    {
      name: actionName,
      description: 'Cancels an order by its id',
      type: 'http',
      parameters: { type: 'object', properties: { orderId: { type: 'string', pattern: '^[0-9]{1,8}$' } }, required: ['orderId'], additionalProperties: false },
      http: { method: 'POST', urlTemplate: `${opts.modelOrigin}/action/cancel?order={{args.orderId}}`, bodyTemplate: { order: '{{args.orderId}}' } },
      botIds: [bot.id],
      needsConfirmation: true,
    },
    201,
  );
  return { botId: bot.id, actionId: action.id, actionName };
}
