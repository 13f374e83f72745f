import { drizzle } from 'drizzle-orm/d1';
import { getTableColumns, is, sql, SQL } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import * as schema from './schema';

const make = (d1: D1Database) => drizzle(d1, { schema });
export type Db = ReturnType<typeof make>;

// One drizzle instance per D1 binding (i.e. per isolate), so prepared queries can be reused.
const instances = new WeakMap<D1Database, Db>();
export function createDb(d1: D1Database): Db {
  let db = instances.get(d1);
  if (!db) {
    db = make(d1);
    instances.set(d1, db);
  }
  return db;
}

/** Memoizes a prepared query per drizzle instance: built once, bound per call. */
export function preparedFor<T>(build: (db: Db) => T): (db: Db) => T {
  const cache = new WeakMap<Db, T>();
  return (db) => {
    let query = cache.get(db);
    if (query === undefined) {
      query = build(db);
      cache.set(db, query);
    }
    return query;
  };
}

/**
 * `INSERT INTO table SELECT <row> WHERE changes() = 1`, as a statement that can go in a
 * `db.batch`: the row is written only if the batch's previous statement changed a row (D1 has
 * no interactive transactions, so this is how a batch makes one write depend on another).
 * drizzle's `db.run(sql\`…\`)` cannot be used for this: with bound parameters it breaks
 * inside `db.batch` ("Cannot read properties of undefined (reading 'bind')").
 */
export function insertIfPreviousChanged<T extends SQLiteTable>(db: Db, table: T, row: T['$inferInsert']) {
  return insertRowWhere(db, table, row, sql`changes() = 1`);
}

/** `INSERT INTO table SELECT <row> WHERE <condition>`: a guarded insert that can go in a `db.batch`. */
export function insertRowWhere<T extends SQLiteTable>(db: Db, table: T, row: T['$inferInsert'], condition: SQL) {
  // drizzle lists every column of the table, in declaration order (tables with generated
  // columns are not supported: the column counts would not match and SQLite would say so).
  const values = Object.entries(getTableColumns(table)).map(([key, column]) => {
    const value = (row as Record<string, unknown>)[key];
    if (value !== undefined) return value === null ? sql`NULL` : sql.param(value, column);
    if (column.default === undefined || column.default === null) return sql`NULL`;
    return is(column.default, SQL) ? column.default : sql.param(column.default, column);
  });
  return db.insert(table).select(sql`SELECT ${sql.join(values, sql`, `)} WHERE ${condition}`);
}
