/**
 * `?format=csv&table=…`: each table of the overview as its own CSV (RFC 4180, CRLF, a header row,
 * formula-looking cells defused by leads/csv.ts). Breakdowns are long tables, one row per day
 * and key, so a spreadsheet can pivot them. The top lists stay ranked lists, one row per item
 * with its totals first (the columns they always had) and then one column per day of the range
 * headed by its date: the series reads along the row, and a reader of the first columns is
 * unaffected.
 */
import { csvRow } from '../leads/csv';
import type { Breakdown, Overview } from './overview';

export const CSV_TABLES = [
  'totals',
  'usage',
  'daily',
  'by_channel',
  'by_country',
  'by_sentiment',
  'by_hour_of_week',
  'top_questions',
  'top_unanswered',
  'top_sources',
  'never_cited_sources',
] as const;
export type CsvTable = (typeof CSV_TABLES)[number];

type Cell = string | number | null;
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

function long(o: Overview, rows: Breakdown[], keyName: string): Cell[][] {
  return [['day', keyName, 'conversations'], ...o.range.days.flatMap((day, i) => rows.map((b): Cell[] => [day, b.key ?? '', b.series[i] ?? 0]))];
}

/** A top list: `columns` then one column per day, each row its cells then its series. */
function ranked<T extends { series: number[] }>(o: Overview, columns: string[], items: T[], cells: (item: T) => Cell[]): Cell[][] {
  return [[...columns, ...o.range.days], ...items.map((item): Cell[] => [...cells(item), ...o.range.days.map((_, i) => item.series[i] ?? 0)])];
}

export function overviewCsv(o: Overview, table: CsvTable): string {
  let rows: Cell[][];
  switch (table) {
    case 'totals':
      rows = [['metric', 'value'], ...Object.entries(o.totals).map(([k, v]): Cell[] => [k, v])];
      break;
    case 'usage':
      rows = [['provider', 'model', 'promptTokens', 'completionTokens', 'totalTokens', 'costUsd'], ...o.usage.byModel.map((m): Cell[] => [m.provider, m.model, m.promptTokens, m.completionTokens, m.totalTokens, m.costUsd])];
      break;
    case 'daily':
      rows = [['day', 'conversations', 'messages'], ...o.range.days.map((d, i): Cell[] => [d, o.series.conversations[i] ?? 0, o.series.messages[i] ?? 0])];
      break;
    case 'by_channel':
      rows = long(o, o.byChannel, 'channel');
      break;
    case 'by_country':
      rows = long(o, o.byCountry, 'country');
      break;
    case 'by_sentiment':
      rows = long(o, o.bySentiment, 'sentiment');
      break;
    case 'by_hour_of_week':
      rows = [['weekday', 'hour', 'conversations', 'messages'], ...o.byHourOfWeek.map((h): Cell[] => [WEEKDAYS[h.weekday]!, h.hour, h.conversations, h.messages])];
      break;
    case 'top_questions':
      rows = ranked(o, ['question', 'count', 'unanswered'], o.topQuestions, (q) => [q.question, q.count, q.unanswered]);
      break;
    case 'top_unanswered':
      rows = ranked(o, ['question', 'count'], o.topUnanswered, (q) => [q.question, q.count]);
      break;
    case 'top_sources':
      rows = ranked(o, ['sourceId', 'title', 'citations'], o.topSources, (s) => [s.sourceId, s.title, s.citations]);
      break;
    case 'never_cited_sources':
      rows = [['sourceId', 'title', 'botId'], ...o.neverCitedSources.map((s): Cell[] => [s.sourceId, s.title, s.botId])];
      break;
  }
  return rows.map(csvRow).join('');
}
