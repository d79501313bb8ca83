/**
 * The isolate's route table after its first load: changes reach routing through incremental
 * refreshes (the rows changed since the last snapshot, not the whole registry), and the table reads
 * the latency rows of its own edge only, never every edge's.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  adminJson,
  call,
  chat,
  chatRequest,
  engine,
  model,
  newKey,
  PROVIDERS,
  registerProviders,
  resetNetwork,
  sessionKind,
  sql,
  tap,
  until,
} from "../support/workerd/gateway";

const [A, B] = PROVIDERS;
const OTHER_EDGE = "ZZ-elsewhere";
let k: Awaited<ReturnType<typeof newKey>>;
let edge = "";

beforeAll(async () => {
  await registerProviders();
  await resetNetwork();
  k = await newKey("Route refresh");
  // Warm the isolate (its first, full load) and learn which edge its requests come from.
  expect((await chat(k.secret)).res.status).toBe(200);
  await until(
    "a latency row for wk-a",
    async () => (await sql("select 1 from latency_stats where provider_id = $1", [A.id])).length > 0,
    5_000,
  );
  edge = (await sql<{ edge: string }>("select edge from latency_stats where provider_id = $1 order by updated_at desc limit 1", [A.id]))[0]!
    .edge;
});
afterAll(async () => {
  await registerProviders();
  await sql("delete from latency_stats where edge = $1", [OTHER_EDGE]);
  await sql("delete from latency_stats where provider_id = any($1)", [[A.id, B.id]]);
  await resetNetwork();
});

const servedBy = async (body: Record<string, unknown> = {}) => (await chat(k.secret, body)).res.headers.get("x-meshgate-provider");
/** The route-table statements this isolate sent since `mark` sessions. */
const routeStatements = async (mark: number) =>
  (await tap.sessions()).sessions
    .slice(mark)
    .filter((s) => sessionKind(s) === "route-table")
    .flatMap((s) => s.sql);

it("a re-registration's new price reaches routing through an incremental refresh", async () => {
  expect(await servedBy()).toBe(A.id);
  const mark = await tap.count();
  // wk-a registers again, now dearer than wk-b.
  await adminJson(
    "POST",
    "/providers",
    {
      id: A.id,
      url: engine(A.id).url,
      region: "local",
      models: [{ model, endpoints: ["chat", "completions"], input_price: "0.50", output_price: "1.00", context_length: 8192 }],
    },
    201,
  );
  await until("wk-b serves once wk-a's new price is in the table", async () => (await servedBy()) === B.id, 5_000);
  const statements = await routeStatements(mark);
  // The refresh read what changed since its snapshot (providers and offers by updated_at)...
  expect(statements.some((s) => /"provider_models"\."updated_at" >/.test(s))).toBe(true);
  // ...and no full load of the registry happened: every provider_models read is filtered.
  for (const s of statements.filter((x) => /from "provider_models"(?!.*where)/s.test(x) && !/"provider_models"\."updated_at"/.test(x)))
    expect.fail(`a full read of provider_models: ${s}`);
  await registerProviders();
  await until("wk-a serves again at its old price", async () => (await servedBy()) === A.id, 5_000);
});

it("a new latency row of this edge reaches routing incrementally; another edge's rows are never read", async () => {
  const mark = await tap.count();
  const upsert = (e: string, providerId: string, ttftMs: number) =>
    sql(
      `insert into latency_stats (edge, provider_id, model, ttft_ms, tpot_ms, success_rate, samples, updated_at)
       values ($1, $2, $3, $4, 1, 1, 50, now())
       on conflict (edge, provider_id, model) do update set ttft_ms = $4, tpot_ms = 1, success_rate = 1, samples = 50, updated_at = now()`,
      [e, providerId, model, ttftMs],
    );
  // This edge: wk-b is by far the faster. Another edge says the opposite.
  await upsert(edge, A.id, 5_000);
  await upsert(edge, B.id, 1);
  await upsert(OTHER_EDGE, A.id, 1);
  await upsert(OTHER_EDGE, B.id, 5_000);
  const fastest = { provider: { sort: "latency" }, max_tokens: 3 };
  await until("wk-b serves by latency on this edge", async () => (await servedBy(fastest)) === B.id, 5_000);
  const latencyReads = (await routeStatements(mark)).filter((s) => /from "latency_stats"/.test(s));
  expect(latencyReads.length).toBeGreaterThan(0);
  for (const s of latencyReads) {
    // Only the isolate's edges, and only rows that moved (or of providers that did).
    expect(s).toMatch(/"latency_stats"\."edge" in \(/);
    expect(s).toMatch(/"latency_stats"\."updated_at" >/);
  }
});

it("a request from another edge has that edge's latency rows read once, and is routed by them", async () => {
  const mark = await tap.count();
  const req = chatRequest(k.secret, { provider: { sort: "latency" }, max_tokens: 3 });
  const { res, settled } = await call(new Request(req, { cf: { colo: OTHER_EDGE } } as RequestInit));
  await res.text();
  await settled();
  // The other edge's rows (from the test before) say wk-a is the faster there.
  expect(res.status).toBe(200);
  expect(res.headers.get("x-meshgate-provider")).toBe(A.id);
  const statements = (await tap.sessions()).sessions.slice(mark).flatMap((s) => s.sql);
  expect(statements.some((s) => /from "latency_stats" where "latency_stats"\."edge" = \$1/.test(s))).toBe(true);
});
