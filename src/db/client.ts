import { drizzle } from 'drizzle-orm/d1';
import { getTableColumns, is, sql, SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from './schema';

export type Db = ReturnType<typeof createDb>;
export const createDb = (d1: D1Database) => drizzle(d1, { schema });

/**
 * `INSERT INTO table SELECT <row> WHERE changes() = 1`, as a statement that can go in a
 * `db.batch`: the row is written only if the batch's previous statement changed a row (D1 has
 * no interactive transactions, so this is how a batch makes one write depend on another).
 * drizzle's `db.run(sql\`…\`)` cannot be used for this: with bound parameters it breaks
 * inside `db.batch` ("Cannot read properties of undefined (reading 'bind')").
 */
export function insertIfPreviousChanged<T extends SQLiteTable>(db: Db, table: T, row: T['$inferInsert']) {
  // drizzle lists every column of the table, in declaration order (tables with generated
  // columns are not supported: the column counts would not match and SQLite would say so).
  const values = Object.entries(getTableColumns(table)).map(([key, column]) => {
    const value = (row as Record<string, unknown>)[key];
    if (value !== undefined) return value === null ? sql`NULL` : sql.param(value, column);
    if (column.default === undefined || column.default === null) return sql`NULL`;
    return is(column.default, SQL) ? column.default : sql.param(column.default, column);
  });
  return db.insert(table).select(sql`SELECT ${sql.join(values, sql`, `)} WHERE changes() = 1`);
}
