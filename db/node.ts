/**
 * The database from Node-side tools (seeding, tests, jobs run by hand): node-postgres over TCP.
 * The worker uses the Neon driver instead (`workers/adapters/postgres/neon.ts`); both share the schema.
 */
import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import * as schema from "./schema";

export function createNodeDb(url: string) {
  const pool = new pg.Pool({ connectionString: url });
  // An idle client dies when Postgres stops (e.g. at test teardown); without a listener that error
  // crashes the process. Queries on a dead connection still reject normally.
  pool.on("error", () => {});
  const db = drizzle({ client: pool, schema, casing: "snake_case" });
  return { db, pool, close: () => pool.end() };
}

export type NodeDb = ReturnType<typeof createNodeDb>["db"];
