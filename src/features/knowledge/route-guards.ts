/** Lookups every knowledge route starts with: another org's bot or source is a 404. */
import type { Context } from 'hono';
import type { AppBindings } from '../../http/types';
import { notFound } from '../../http/problem';
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
