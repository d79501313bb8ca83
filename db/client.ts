/**
 * The one database type every adapter takes — any drizzle Postgres driver (Neon in workerd,
 * node-postgres in Node) — and the handle both drivers return, so the same adapters run on either.
 */
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type * as schema from "./schema";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
/** A transaction: everything a Db does, inside `db.transaction(…)`. Adapters take `Db | Tx` as `Db`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** An open database: drizzle, raw SQL (tests, tools, benchmarks), and the way to close it. */
export interface DbHandle {
  db: Db;
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  close(): Promise<void>;
}

/** Runs `fn` with a database opened for this unit of work and closed after it (adapters and wiring only). */
export type WithDb = <T>(fn: (db: Db) => Promise<T>) => Promise<T>;
