/**
 * `POST /integrations/{id}/test`: the whole receive path minus its effects. The payload (or the
 * action's sample) is signed with the integration's current secret exactly as a sender would,
 * verified by the same code as a received request, validated as one, and the action reports
 * what it would do now. Nothing is stored: no log row, no replay-guard entry, no change.
 */
import type { ServiceContext } from '../../context';
import { newId } from '../../lib/ids';
import { SAMPLE_PAYLOADS } from './payloads';
import { previewAction } from './process';
import { validatePayload } from './receive';
import { currentSecret, getIntegration, verifyingSecrets } from './service';
import { signedHeaders, verifySignature } from './signing';

export async function testIntegration(ctx: ServiceContext, orgId: string, integrationId: string, payload: unknown) {
  const integration = await getIntegration(ctx.db, orgId, integrationId);
  if (!integration) return null;
  const body = JSON.stringify(payload === undefined ? SAMPLE_PAYLOADS[integration.action] : payload);
  const headers = signedHeaders(await currentSecret(ctx, integration), `msg_test_${newId('ihe', ctx.clock).slice(4)}`, new Date(ctx.clock.now()), body);
  const verification = verifySignature(await verifyingSecrets(ctx, integration), body, {
    id: headers['webhook-id'],
    timestamp: headers['webhook-timestamp'],
    signature: headers['webhook-signature'],
  });
  const valid = validatePayload(integration, body);
  return {
    request: { headers, body },
    verification,
    valid: valid.ok,
    errors: valid.ok ? [] : valid.malformed ? [{ path: '(body)', message: 'Not valid JSON', code: 'invalid_json' }] : valid.errors,
    dryRun: valid.ok ? await previewAction(ctx, integration, valid.payload) : null,
  };
}
