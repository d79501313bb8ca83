/**
 * Many rows as ONE statement parameter: the rows as a JSON array, spread back into typed columns by
 * `jsonb_to_recordset`. drizzle's insert builder types every value of every row on its way to a
 * parameter (a dozen entity checks per value): a usage flush of a few hundred requests' events,
 * postings and reservations was a fifth of the gateway's workerd CPU (a V8 profile at concurrency 32,
 * issue 13). Here the statement's cost no longer grows with its parameters: one JSON.stringify.
 *
 * The recordset's columns are the table's own (names in snake_case, as db/ declares them, and SQL
 * types from the schema), in the table's order, so `db.insert(table).select(rowsOf(table, …))`
 * keeps drizzle's typed `onConflict…` and `returning`.
 */
import { getTableColumns, type SQL, sql } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

interface Spread {
  names: string;
  defs: string;
  keys: [jsKey: string, column: string][];
}

const spreads = new WeakMap<PgTable, Map<string, Spread>>();

function spreadOf(table: PgTable, only: readonly string[] | undefined): Spread {
  const id = only?.join(",") ?? "*";
  let byTable = spreads.get(table);
  if (!byTable) spreads.set(table, (byTable = new Map()));
  let s = byTable.get(id);
  if (!s) {
    const cols = Object.entries(getTableColumns(table)).filter(([k]) => !only || only.includes(k));
    const keys = cols.map(([k]): [string, string] => [k, snake(k)]);
    s = {
      keys,
      names: keys.map(([, c]) => `"${c}"`).join(", "),
      defs: cols.map(([k, c]) => `"${snake(k)}" ${c.getSQLType()}`).join(", "),
    };
    byTable.set(id, s);
  }
  return s;
}

const json = (v: unknown) => (typeof v === "bigint" ? v.toString() : v);

/**
 * `select <columns> from jsonb_to_recordset($1)`: the rows (the table's insert shape) as one
 * parameter, with `columns` — `(<columns>)` — for a plain `insert into … <columns> <select>`.
 * Every column of the table by default, in its order (what `db.insert(table).select(…)` expects:
 * give every NOT NULL column, defaults included, as a missing one is NULL); `only` for a subset
 * (columns left to their defaults, such as a bigserial id).
 */
export function rowsOf<T extends PgTable>(
  table: T,
  rows: readonly T["$inferInsert"][],
  only?: readonly (keyof T["$inferInsert"] & string)[],
): { select: SQL; columns: SQL } {
  const { names, defs, keys } = spreadOf(table, only);
  const records = rows.map((r) => {
    const out: Record<string, unknown> = {};
    for (const [k, c] of keys) out[c] = json((r as Record<string, unknown>)[k] ?? null);
    return out;
  });
  return {
    select: sql`select ${sql.raw(names)} from jsonb_to_recordset(${JSON.stringify(records)}::jsonb) as r(${sql.raw(defs)})`,
    columns: sql.raw(`(${names})`),
  };
}

/** `= any(…)` over a list of text values: one parameter however long the list. */
export function anyText(values: readonly string[]): SQL {
  return sql`any(array(select jsonb_array_elements_text(${JSON.stringify(values)}::jsonb)))`;
}
