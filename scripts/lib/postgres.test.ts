import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { neonConfig, Pool } from "@neondatabase/serverless";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { runMigrations } from "../../db/migrate";
import { openNodeDb } from "../../db/node";
import { accounts } from "../../db/schema";
import { configureNeon, openNeonDb } from "../../db/neon";
import { startPostgres, type LocalPostgres } from "./postgres";
import { startWsProxy, type WsProxy } from "./wsproxy";

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "meshgate-pg-"));
  fs.chmodSync(dir, 0o755); // mkdtemp gives 0700; Postgres runs as the `postgres` user when we are root
  return dir;
}

/** Opens a raw WebSocket to the proxy; resolves with the HTTP status it was refused with, or "open". */
function dialProxy(proxy: WsProxy, address: string): Promise<number | "open"> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://${proxy.wsProxy}?address=${address}`);
    ws.once("open", () => {
      ws.terminate();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once("error", reject);
  });
}

describe("local Postgres behind the Neon wsproxy", () => {
  let dir: string;
  let postgres: LocalPostgres | undefined;
  let proxy: WsProxy | undefined;

  beforeAll(async () => {
    dir = tempDir();
    [postgres, proxy] = await Promise.all([startPostgres({ dataDir: path.join(dir, "data"), persistent: false }), startWsProxy({})]);
    configureNeon({ wsProxy: proxy.wsProxy });
    neonConfig.webSocketConstructor = WebSocket; // Node 20 has no global WebSocket; workerd does
  }, 30_000);

  afterAll(async () => {
    await proxy?.stop();
    await postgres?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("answers `select 1` through the Neon driver", async () => {
    const pool = new Pool({ connectionString: postgres!.url, max: 1 });
    try {
      const { rows } = await pool.query("select 1 as one");
      expect(rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
  });

  it("runs an interactive transaction through the Neon driver", async () => {
    const pool = new Pool({ connectionString: postgres!.url, max: 1 });
    const client = await pool.connect();
    try {
      await client.query("create table notes (id serial primary key, body text not null)");

      await client.query("begin");
      const inserted = await client.query<{ id: number }>("insert into notes (body) values ('kept') returning id");
      const read = await client.query("select body from notes where id = $1", [inserted.rows[0]!.id]);
      expect(read.rows).toEqual([{ body: "kept" }]);
      await client.query("commit");

      await client.query("begin");
      await client.query("insert into notes (body) values ('dropped')");
      await client.query("rollback");

      const after = await client.query("select body from notes order by id");
      expect(after.rows).toEqual([{ body: "kept" }]);
    } finally {
      client.release();
      await pool.end();
    }
  });

  it("migrates, then both drivers see the same rows with snake_case columns", async () => {
    await runMigrations(postgres!.url);
    await runMigrations(postgres!.url); // already applied: a no-op

    const node = openNodeDb(postgres!.url);
    const worker = openNeonDb(postgres!.url, proxy!.wsProxy);
    try {
      const [created] = await node.db.insert(accounts).values({ name: "acme" }).returning();
      const seen = await worker.db.select().from(accounts);
      expect(seen).toEqual([created]);
      expect(seen[0]!.createdAt).toBeInstanceOf(Date);
    } finally {
      await node.close();
      await worker.close();
    }
  });

  it("refuses a non-loopback address without ever connecting to it", async () => {
    // The spy also sees the test's own dials to the proxy, so it is read by target host.
    const connect = vi.spyOn(net, "connect");
    const targets = () => connect.mock.calls.map(([target]) => target as unknown as { host?: string; port?: number });
    const dialedHosts = () => targets().map((t) => t.host);
    try {
      expect(await dialProxy(proxy!, "10.255.255.1:5432")).toBe(403);
      expect(await dialProxy(proxy!, "example.com:5432")).toBe(403);
      const outside = new Pool({ connectionString: "postgres://postgres:postgres@10.255.255.1:5432/meshgate" });
      outside.on("error", () => {});
      await expect(outside.query("select 1")).rejects.toThrow();
      await outside.end().catch(() => {});
      expect(dialedHosts()).not.toContain("10.255.255.1");
      expect(dialedHosts()).not.toContain("example.com");

      // The spy does see the proxy's real dials: a loopback target goes through.
      expect(await dialProxy(proxy!, `127.0.0.1:${postgres!.port}`)).toBe("open");
      expect(targets().some((t) => t.host === "127.0.0.1" && t.port === postgres!.port)).toBe(true);
    } finally {
      connect.mockRestore();
    }
  });
});

describe("startPostgres on a persistent data dir", () => {
  it("keeps its data across restarts and survives a stale postmaster.pid", async () => {
    const dir = tempDir();
    const dataDir = path.join(dir, "data");
    try {
      const first = await startPostgres({ dataDir, persistent: true });
      await withClient(first.url, (c) => c.query("create table kept (n int); insert into kept values (7)"));
      await first.stop();

      const deadPid = spawnSync("true").pid; // exited: its pid names no live process
      fs.writeFileSync(path.join(dataDir, "postmaster.pid"), `${deadPid}\n${dataDir}\n`);

      const second = await startPostgres({ dataDir, persistent: true });
      try {
        const { rows } = await withClient(second.url, (c) => c.query("select n from kept"));
        expect(rows).toEqual([{ n: 7 }]);
      } finally {
        await second.stop();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

async function withClient<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
