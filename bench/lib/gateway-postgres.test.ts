import { describe, expect, it } from "vitest";
import { summarize, tally, type ProbeStatement } from "./gateway-postgres";
import { statementDelta, type StatementSnapshot } from "./pg-statements";

const snap = (entries: [string, number][]): StatementSnapshot => new Map(entries.map(([query, calls]) => [query, { query, calls }]));

describe("the first-byte probe's tally", () => {
  it("splits each request's statements into before and after its first byte, and counts the windows each ran in", () => {
    const by = new Map<string, ProbeStatement>();
    // Request 1: a key lookup before its first byte, the usage insert after.
    tally(by, statementDelta(snap([]), snap([["select * from api_keys", 1]])), "before");
    tally(by, statementDelta(snap([]), snap([["insert into usage_events values ($1)", 1]])), "after");
    // Request 2: a route refresh before its first byte; request 3: nothing.
    tally(by, statementDelta(snap([]), snap([["select * from providers join offers on true", 2]])), "before");
    tally(by, [], "before");
    const s = summarize(by, 3, 1);
    expect([s.readsBeforeFirstByte, s.writesBeforeFirstByte, s.readsAfter, s.writesAfter]).toEqual([3, 0, 0, 1]);
    expect(s.recurringReadsBeforeFirstByte).toBe(0); // each read ran in 1 of 3 windows: occasional
    expect(s.statements.map((x) => [x.tables, x.beforeFirstByte, x.windows, x.after])).toEqual([
      [["providers", "offers"], 2, 1, 0],
      [["api_keys"], 1, 1, 0],
      [["usage_events"], 0, 0, 1],
    ]);
    tally(by, statementDelta(snap([]), snap([["select * from api_keys", 1]])), "before");
    expect(summarize(by, 3, 1).recurringReadsBeforeFirstByte).toBe(2); // the key lookup, now in 2 of 3 windows
  });
});
