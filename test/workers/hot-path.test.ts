/**
 * Steady state makes no Postgres round trip before the first byte. The proof: a tap between the ws
 * proxy and Postgres holds every new database session (Postgres becomes unreachable for the worker,
 * nothing is stopped), and warm requests must still be answered in full. A control shows that the
 * hold does block a request that needs Postgres, and the work deferred to waitUntil lands afterwards.
 */
import { afterEach, beforeAll, expect, it } from "vitest";
import {
  BASE,
  call,
  chat,
  chatRequest,
  newKey,
  registerProviders,
  resetNetwork,
  sessionKind,
  sql,
  tap,
  within,
  type TapSession,
} from "../support/workerd/gateway";

let k: Awaited<ReturnType<typeof newKey>>;

beforeAll(async () => {
  await registerProviders();
  await resetNetwork();
  k = await newKey("Hot path");
});
afterEach(() => tap.release());

it("answers warm requests in full while every new Postgres session is held", async () => {
  // Warm the isolate: the key record and the route table are cached; its metering has finished.
  const warm = await chat(k.secret, { stream: true });
  expect(warm.res.status).toBe(200);

  await tap.hold();
  const mark = await tap.count();
  const served: { id: string; before: number; atHeaders: number; settled: () => Promise<void> }[] = [];
  for (let i = 0; i < 5; i++) {
    const before = await tap.count();
    const got = await within(call(chatRequest(k.secret, { stream: true, max_tokens: 3 })), 1_500);
    if (got === "timeout")
      expect.fail(`warm request ${i} waited for Postgres: no response headers within 1.5 s while the database was held`);
    const atHeaders = await tap.count(); // read as soon as the headers are here: an upper bound
    expect(got.res.status).toBe(200);
    expect(got.res.headers.get("x-meshgate-provider")).toBe("wk-a");
    const body = await within(got.res.text(), 1_500);
    expect(body).toContain("data: [DONE]");
    served.push({ id: got.res.headers.get("x-request-id")!, before, atHeaders, settled: got.settled });
  }

  // Control: a key this isolate has never seen needs Postgres, so while it is held there is no answer.
  const cold = call(new Request(`${BASE}/v1/models`, { headers: { authorization: `Bearer mg-${"z".repeat(40)}` } }));
  expect(await within(cold, 1_000)).toBe("timeout");
  expect(await tap.count()).toBeGreaterThan(mark); // the worker did try to reach Postgres, and was held

  await tap.release();
  const coldAnswer = await within(cold, 5_000);
  if (coldAnswer === "timeout") expect.fail("the cold-key request did not finish after Postgres came back");
  expect(coldAnswer.res.status).toBe(401);
  await coldAnswer.settled();
  for (const s of served) await s.settled();

  // The work deferred to waitUntil was delayed, not lost: one usage event per warm request.
  const rows = await sql<{ request_id: string; status: string }>(
    "select request_id, status from usage_events where request_id = any($1) order by request_id",
    [served.map((s) => s.id)],
  );
  expect(rows.map((r) => r.request_id)).toEqual(served.map((s) => s.id).sort());
  expect(rows.every((r) => r.status === "ok")).toBe(true);

  // Every session opened before a warm response's headers was held until after all five were answered,
  // so none was waited for; none was a key lookup; they are background work (a stale route-table
  // refresh, or an earlier request's metering flush).
  const { sessions } = await tap.sessions();
  const beforeHeaders: TapSession[] = served.flatMap((s) => sessions.slice(s.before, s.atHeaders));
  for (const s of beforeHeaders) {
    expect(s.held).toBe(true);
    expect(["route-table", "usage"]).toContain(sessionKind(s));
  }
  const heldKinds = sessions
    .slice(mark)
    .filter((s) => s.held)
    .map(sessionKind);
  expect(heldKinds).toContain("usage");
  expect(heldKinds.filter((kind) => kind === "key")).toHaveLength(1); // the cold key's lookup, and only that
  console.info(
    `[hot-path] sessions opened before each warm response's headers: ${served.map((s) => s.atHeaders - s.before).join(", ")} ` +
      `(${beforeHeaders.map(sessionKind).join(", ") || "none"}); held during the window: ${heldKinds.join(", ")}`,
  );
});
