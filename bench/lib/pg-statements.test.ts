import { describe, expect, it } from "vitest";
import { isBenchOwn, kindOf, statementDelta, tablesOf, totals, type StatementSnapshot } from "./pg-statements";

describe("kindOf", () => {
  it("classes writes, CTE writes and upserts as writes", () => {
    expect(kindOf('insert into "usage_events" ("id") values ($1), ($2) on conflict do nothing')).toBe("write");
    expect(kindOf('update "latency_stats" set "n" = $1 where "key" = $2')).toBe("write");
    expect(kindOf("UPDATE accounts a SET balance = balance - $1")).toBe("write");
    expect(kindOf("delete from reservations where id = $1")).toBe("write");
    expect(kindOf("with moved as (delete from outbox returning *) select count(*) from moved")).toBe("write");
    expect(kindOf("/* drizzle */ insert into x values (1)")).toBe("write");
  });
  it("classes queries as reads and the rest as other", () => {
    expect(kindOf('select "id", "updated_at" from "providers" where "suspended" = $1')).toBe("read");
    expect(kindOf("(select 1) union (select 2)")).toBe("read");
    expect(kindOf("with r as (select * from offers) select * from r")).toBe("read");
    expect(kindOf("select updated_at from providers")).toBe("read"); // a column named like a keyword is no write
    expect(kindOf("begin")).toBe("other");
    expect(kindOf("COMMIT")).toBe("other");
    expect(kindOf("set statement_timeout = 1000")).toBe("other");
  });
});

describe("tablesOf", () => {
  it("names each table once, without schema or quotes", () => {
    expect(tablesOf('select * from "public"."providers" p join offers o on o.p = p.id join "providers" q on true')).toEqual([
      "providers",
      "offers",
    ]);
    expect(tablesOf('insert into "usage_events" ("a") select a from staging')).toEqual(["usage_events", "staging"]);
    expect(tablesOf("update accounts set x = 1")).toEqual(["accounts"]);
    expect(tablesOf("select * from (select 1) s")).toEqual([]);
    expect(tablesOf("select * from unnest($1::text[]) as t(x)")).toEqual([]);
    expect(tablesOf("begin")).toEqual([]);
    expect(tablesOf("select (extract($1 from now()) * $2)::float8 from (select $3) as clock")).toEqual([]);
    expect(tablesOf('insert into "usage_rollups" ("a") values ($1) on conflict ("a") do update set "n" = excluded.n')).toEqual([
      "usage_rollups",
    ]);
  });
});

describe("statementDelta", () => {
  const snap = (entries: [string, string, number][]): StatementSnapshot =>
    new Map(entries.map(([id, query, calls]) => [id, { query, calls }]));

  it("counts the calls each statement made between two snapshots and leaves the bench's own out", () => {
    const before = snap([
      ["1", "select * from providers", 10],
      ["2", "insert into usage_events values ($1)", 3],
      ["3", "select calls from pg_stat_statements", 5],
    ]);
    const after = snap([
      ["1", "select * from providers", 12],
      ["2", "insert into usage_events values ($1)", 3],
      ["3", "select calls from pg_stat_statements", 9],
      ["4", "update accounts set b = $1", 4],
      ["5", "select sessions from pg_stat_database", 2],
    ]);
    expect(statementDelta(before, after)).toEqual([
      { query: "update accounts set b = $1", kind: "write", tables: ["accounts"], calls: 4 },
      { query: "select * from providers", kind: "read", tables: ["providers"], calls: 2 },
    ]);
  });

  it("counts every call of a statement that was evicted and came back with fewer calls", () => {
    expect(statementDelta(snap([["1", "select 1 from keys", 50]]), snap([["1", "select 1 from keys", 3]]))[0]?.calls).toBe(3);
  });

  it("sums reads, writes and other", () => {
    const t = totals(
      statementDelta(
        new Map(),
        snap([
          ["1", "select * from providers", 2],
          ["2", "insert into usage_events values ($1)", 3],
          ["3", "begin", 1],
          ["4", "commit", 1],
        ]),
      ),
      2,
    );
    expect([t.reads, t.writes, t.other, t.statements.length]).toEqual([2, 3, 2, 2]);
  });

  it("knows the bench's own queries", () => {
    expect(isBenchOwn("select sessions::text as s from pg_stat_database")).toBe(true);
    expect(isBenchOwn("select current_setting('shared_preload_libraries') as s")).toBe(true);
    expect(isBenchOwn("create extension if not exists pg_stat_statements")).toBe(true);
    expect(isBenchOwn("select * from api_keys")).toBe(false);
  });
});
