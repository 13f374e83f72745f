/**
 * D1 rejects a statement with more than D1_MAX_BOUND_PARAMETERS bound parameters (local D1
 * does not; test/setup/d1-bound-parameter-guard.ts makes the suite as strict). Any statement
 * whose parameter count grows with its input (`IN (…)` lists, multi-row inserts) is split with
 * this helper.
 */
import { D1_MAX_BOUND_PARAMETERS } from '../limits';

/**
 * Splits `values` into groups small enough for one statement each: every value binds
 * `parametersPerValue` parameters (a row's column count, 1 for an IN list) on top of the
 * statement's `fixedParameters` (its other filters).
 */
export function splitForStatements<T>(values: readonly T[], parametersPerValue = 1, fixedParameters = 0): T[][] {
  const perStatement = Math.floor((D1_MAX_BOUND_PARAMETERS - fixedParameters) / parametersPerValue);
  if (perStatement < 1) throw new Error(`a statement with ${fixedParameters} fixed and ${parametersPerValue} per-value parameters cannot fit D1's limit`);
  const groups: T[][] = [];
  for (let i = 0; i < values.length; i += perStatement) groups.push(values.slice(i, i + perStatement));
  return groups;
}
