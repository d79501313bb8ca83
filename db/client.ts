/** The database type every adapter takes: any drizzle Postgres driver (Neon in workerd, pg in Node). */
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type * as schema from "./schema";

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;
