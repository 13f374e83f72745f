/** The columns of a chunk row that feed the full-text indexes (migration 0004's triggers read them). */
import { hasSpacelessScript, searchFormOf } from '../../../lib/text/text-fold';

export function searchColumns(text: string, headingPath: readonly string[]) {
  const heading = JSON.stringify(headingPath);
  return { searchText: searchFormOf(text), searchHeading: searchFormOf(heading), spaceless: hasSpacelessScript(text) };
}
