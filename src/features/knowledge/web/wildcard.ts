/**
 * The one wildcard matcher for crawl include/exclude globs and robots.txt rules: `*` matches any
 * run of characters (including "/"), everything else is literal. No regular expression is built.
 *
 * A pattern is the literals between its `*`s. The first literal must be a prefix of the text,
 * (when anchored at the end) the last one a suffix, and the ones between are found in order,
 * each at its leftmost position after the previous. Leftmost is always the right choice with
 * `*` as the only operator: an earlier end leaves at least as much room for what follows, so
 * nothing is ever retried. Cost: one indexOf per literal, at most O(text × pattern) in all,
 * where a backtracking regex for `/a*a*a*a*a*a*a*a*b` is O(text^8).
 */
import { WILDCARD_MAX_PER_PATTERN } from '../../../limits';

export interface WildcardPattern {
  /** The text between wildcards; runs of `*` count as one wildcard (they match the same). */
  readonly literals: readonly string[];
  /** Whether the pattern must match up to the end of the text (a whole-text glob, or robots' `$`). */
  readonly anchoredEnd: boolean;
}

function splitLiterals(pattern: string): string[] {
  const literals: string[] = [];
  let current = '';
  let afterStar = false;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*') {
      if (!afterStar) literals.push(current);
      current = '';
      afterStar = true;
    } else {
      current += char;
      afterStar = false;
    }
  }
  literals.push(current);
  return literals;
}

/** Wildcards in a pattern, counting a run of `*` once. */
export function wildcardCount(pattern: string): number {
  return splitLiterals(pattern).length - 1;
}

/** Whether a pattern stays within WILDCARD_MAX_PER_PATTERN. */
export const withinWildcardLimit = (pattern: string) => wildcardCount(pattern) <= WILDCARD_MAX_PER_PATTERN;

export function compileWildcard(pattern: string, options: { anchoredEnd: boolean }): WildcardPattern {
  return { literals: splitLiterals(pattern), anchoredEnd: options.anchoredEnd };
}

/**
 * The same pattern cut after its first `keep` wildcards and no longer anchored: it matches every
 * text the original matches (and more), so a cut Disallow rule still blocks what it named.
 */
export function widenWildcard(pattern: WildcardPattern, keep: number): WildcardPattern {
  if (pattern.literals.length - 1 <= keep) return pattern;
  return { literals: [...pattern.literals.slice(0, keep), ''], anchoredEnd: false };
}

export function matchesWildcard(pattern: WildcardPattern, text: string): boolean {
  const { literals, anchoredEnd } = pattern;
  const first = literals[0]!;
  if (literals.length === 1) return anchoredEnd ? text === first : text.startsWith(first);
  if (!text.startsWith(first)) return false;
  let position = first.length;
  let end = text.length;
  let middleCount = literals.length - 1;
  if (anchoredEnd) {
    const last = literals[literals.length - 1]!;
    if (!text.endsWith(last) || text.length - last.length < position) return false;
    end = text.length - last.length;
    middleCount = literals.length - 2;
  }
  for (let i = 1; i <= middleCount; i++) {
    const literal = literals[i]!;
    const found = text.indexOf(literal, position);
    if (found === -1 || found + literal.length > end) return false;
    position = found + literal.length;
  }
  return true;
}
