/** pg_stat_statements on the embedded Postgres the bench starts: the server setting reaches it, and a window counts what ran. */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres, type LocalPostgres } from "../../scripts/lib/postgres";
import { windowStatements } from "./gateway-postgres";
import { enableStatements, statementSnapshot } from "./pg-statements";

describe("statement counts on a local Postgres started with pg_stat_statements", () => {
  let dir: string;
  let server: LocalPostgres | undefined;
  let db: pg.Client;
  let other: pg.Client;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "meshgate-pgss-"));
    fs.chmodSync(dir, 0o755); // Postgres runs as the `postgres` user when we are root
    server = await startPostgres({
      dataDir: path.join(dir, "data"),
      persistent: false,
      settings: { shared_preload_libraries: "pg_stat_statements" },
    });
    db = new pg.Client({ connectionString: server.url });
    other = new pg.Client({ connectionString: server.url });
    await Promise.all([db.connect(), other.connect()]);
    await other.query("create table usage_events (id text primary key, n int)");
  }, 60_000);
  afterAll(async () => {
    await Promise.all([db?.end(), other?.end()]);
    await server?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("counts another client's reads and writes in a window, and none of the bench's own", async () => {
    expect(await enableStatements(db)).toBe(true);
    const before = await statementSnapshot(db);
    for (let i = 0; i < 3; i++) await other.query("insert into usage_events values ($1, $2)", [`r${i}`, i]);
    await other.query("update usage_events set n = n + 1 where id = $1", ["r1"]);
    for (let i = 0; i < 5; i++) await other.query("select n from usage_events where id = $1", [`r${i}`]);
    await statementSnapshot(db); // the bench's own snapshot in the middle of a window is left out
    const t = windowStatements(before, await statementSnapshot(db));
    expect([t.writes, t.reads, t.other]).toEqual([4, 5, 0]);
    expect(t.statements.find((s) => s.kind === "read")).toMatchObject({ tables: ["usage_events"], calls: 5 });
  });
});
