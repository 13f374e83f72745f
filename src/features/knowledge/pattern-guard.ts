/** Refuses a website source whose include/exclude globs exceed the wildcard cap (a 422). */
import { ApiError, type FieldError } from '../../http/problem';
import { WILDCARD_MAX_PER_PATTERN } from '../../limits';
import { withinWildcardLimit } from './web/wildcard';

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
