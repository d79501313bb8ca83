/**
 * The database from Node-side tools (seeding, tests, jobs run by hand): node-postgres over TCP.
 * The worker uses the Neon driver instead (`db/neon.ts`); both return the same handle over one schema.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import type { DbHandle } from "./client";
import * as schema from "./schema";

export function openNodeDb(url: string): DbHandle {
  const pool = new pg.Pool({ connectionString: url });
  // An idle client dies when Postgres stops (e.g. at test teardown); without a listener that error
  // crashes the process. Queries on a dead connection still reject normally.
  pool.on("error", () => {});
  return {
    db: drizzle({ client: pool, schema, casing: "snake_case" }),
    query: async <R>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as R[],
    close: () => pool.end(),
  };
}
