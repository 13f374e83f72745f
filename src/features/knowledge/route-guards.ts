/** Checks knowledge routes start with: another org's bot or source is a 404; over-wild globs are a 422. */
import type { Context } from 'hono';
import type { AppBindings } from '../../http/types';
import { ApiError, notFound, type FieldError } from '../../http/problem';
import { WILDCARD_MAX_PER_PATTERN } from '../../limits';
import { withinWildcardLimit } from './web/wildcard';
import { getBot } from '../bots/service';
import { getSource } from './sources';

export async function requireBot(c: Context<AppBindings>, botId: string) {
  const bot = await getBot(c.get('db'), c.get('org').orgId, botId);
  if (!bot) throw notFound('Bot', 'bot_not_found');
  return bot;
}

export const sourceNotFound = () => notFound('Source', 'source_not_found');

export async function requireSource(c: Context<AppBindings>, sourceId: string) {
  const source = await getSource(c.get('db'), c.get('org').orgId, sourceId);
  if (!source) throw sourceNotFound();
  return source;
}

/** Refuses a website source whose include/exclude globs exceed the wildcard cap (a 422). */
export function rejectOverlyWildPatterns(input: { type: string; include?: string[]; exclude?: string[] }) {
  if (input.type !== 'website') return;
  const errors: FieldError[] = [];
  for (const list of ['include', 'exclude'] as const) {
    (input[list] ?? []).forEach((pattern, i) => {
      if (!withinWildcardLimit(pattern)) {
        errors.push({ path: `${list}.${i}`, message: `At most ${WILDCARD_MAX_PER_PATTERN} wildcards (*) per pattern.`, code: 'too_many_wildcards' });
      }
    });
  }
  if (errors.length > 0) {
    throw new ApiError({
      status: 422,
      code: 'pattern_too_complex',
      title: 'Unprocessable pattern',
      detail: `An include or exclude pattern has more than ${WILDCARD_MAX_PER_PATTERN} wildcards.`,
      errors,
    });
  }
}
