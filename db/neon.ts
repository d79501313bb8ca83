/**
 * The database inside workerd: the Neon serverless driver (Postgres over a WebSocket) + drizzle.
 * Locally the worker gets a WSPROXY binding ("127.0.0.1:PORT/v1", served by scripts/lib/wsproxy.ts);
 * in production it is unset and the driver's defaults reach Neon.
 */
import { neonConfig, Pool } from "@neondatabase/serverless";
import { drizzle } from "drizzle-orm/neon-serverless";
import type { DbHandle } from "./client";
import * as schema from "./schema";

/** Points the module-global `neonConfig` at a local wsproxy. Without `wsProxy` it changes nothing. */
export function configureNeon(cfg: { wsProxy?: string }): void {
  const { wsProxy } = cfg;
  if (!wsProxy) return;
  neonConfig.wsProxy = (host, port) => `${wsProxy}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false; // ws://, not wss://
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false; // required for SCRAM; fine with cleartext passwords
  neonConfig.forceDisablePgSSL = true; // no TLS inside the tunnel
}

/** One unit of work's database: a single-connection Pool; close it within the request (`ctx.waitUntil(close())`). */
export function openNeonDb(databaseUrl: string, wsProxy?: string): DbHandle {
  configureNeon({ wsProxy });
  const pool = new Pool({ connectionString: databaseUrl, max: 1 });
  // An idle connection that drops would otherwise throw from an event handler; the next query reconnects.
  pool.on("error", () => {});
  return {
    db: drizzle({ client: pool, schema, casing: "snake_case" }),
    query: async <R>(text: string, params: unknown[] = []) => (await pool.query(text, params)).rows as R[],
    close: () => pool.end(),
  };
}
