/** The automatic title of a new conversation: its first message, on one line, cut at a word. */
import { CHAT } from '../../limits';

export function autoTitle(firstMessage: string): string {
  // Control and format characters (bidi overrides included) would make a list unreadable.
  const line = firstMessage.replace(/[\p{Cc}\p{Cf}]+/gu, ' ').replace(/\s+/g, ' ').trim();
  if (line.length <= CHAT.titleMaxChars) return line || 'New conversation';
  const cut = line.slice(0, CHAT.titleMaxChars - 1);
  const space = cut.lastIndexOf(' ');
  return `${(space >= CHAT.titleMaxChars / 2 ? cut.slice(0, space) : cut).replace(/[\s,;:.-]+$/, '')}…`;
}
