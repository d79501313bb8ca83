/**
 * Mid-stream continuation through the real SDK, real agents and the simulated engines: a stream
 * that breaks or stalls after bytes reached the client is finished by another provider and spliced
 * into the same stream; each provider is billed for its part; the books still balance.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import OpenAI, { type APIError } from "openai";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";
import { parseUsdc } from "../../workers/core/money/units";
import { byId, resetNetwork, sdk, setMode } from "../support/network-client";

const dev = inject("dev");
const client = sdk(dev);
const simA = byId(dev, "sim-a");
const run = promisify(execFile);
// The part the provider cut is billed at the gateway's prompt estimate until its signed receipt
// corrects it to the provider's count (reconcile: correctProviderCut). This prompt's estimate
// (5 + ceil(29 / 4) + 3) equals the simulator's count (15 words + 1), so the sums stay exact.
const messages = [{ role: "user" as const, content: "a b c d e f g h i j k l m n o" }];
const ask = { model: dev.model, messages, max_tokens: 40, ignore_eos: true } as OpenAI.ChatCompletionCreateParamsNonStreaming;
const streamed = { ...ask, stream: true, stream_options: { include_usage: true } } as OpenAI.ChatCompletionCreateParamsStreaming;
type Usage = { prompt_tokens: number; completion_tokens: number; total_tokens: number; cost: string };
type Part = {
  id: string;
  provider: string;
  status: string;
  tokens_prompt: number;
  tokens_completion: number;
  cost_pico: string;
  receipt_status: string;
};

let db: pg.Client;
beforeAll(async () => {
  db = new pg.Client({ connectionString: dev.databaseUrl });
  await db.connect();
});
afterAll(() => db.end());
beforeEach(() => resetNetwork(dev));

async function read(params: OpenAI.ChatCompletionCreateParamsStreaming) {
  const { data: stream, response } = await client.chat.completions.create(params).withResponse();
  let text = "";
  const ids = new Set<string>();
  const usages: Usage[] = [];
  const error = await (async () => {
    for await (const c of stream) {
      ids.add(c.id);
      text += c.choices[0]?.delta.content ?? "";
      if (c.usage) usages.push(c.usage as unknown as Usage);
    }
  })().then(
    () => null,
    (e: unknown) => e,
  );
  return { text, ids, usages, error, requestId: response.headers.get("x-request-id")! };
}

async function generation(id: string): Promise<Record<string, unknown> & { continuations: Part[] }> {
  for (let i = 0; i < 40; i++) {
    const res = await fetch(`${dev.baseURL}/generation?id=${id}`, { headers: { authorization: `Bearer ${dev.apiKey}` } });
    const data = res.status === 200 ? ((await res.json()) as { data: Record<string, unknown> & { continuations: Part[] } }).data : null;
    // Both parts' usage events are written by the batched writer, within about a second.
    if (data && (data.status !== "partial" || data.continuations.length > 0 || i > 30)) return data;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no generation ${id}`);
}

/** The providers' usage postings of these requests, once the batched writer has written them all. */
async function providerPostings(ids: string[]): Promise<{ reference: string; account: string }[]> {
  for (let i = 0; ; i++) {
    const { rows } = await db.query<{ reference: string; account: string }>(
      "select reference, account from ledger_entries where kind = 'usage' and reference = any($1) and account like 'provider:%'",
      [ids],
    );
    if (rows.length >= ids.length || i >= 50) return rows;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function until(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function ledgerCheck(): Promise<number> {
  try {
    await run("npx", ["tsx", "scripts/ledger-check.ts", "--database-url", dev.databaseUrl], { timeout: 60_000 });
    return 0;
  } catch (err) {
    return (err as { code?: number }).code ?? -1;
  }
}

describe("a stream that breaks mid-answer is continued by another provider", () => {
  it("a drop at token 20: the client gets the whole answer, one id, one summed usage chunk; each provider billed its part", async () => {
    const reference = (await client.chat.completions.create(ask)).choices[0]?.message.content;
    expect(reference?.split(" ")).toHaveLength(40);
    await setMode(simA, { mode: "drop_after_n", n: 20 });
    const got = await read(streamed);
    expect(got.error).toBeNull();
    expect(got.text).toBe(reference);
    expect(got.ids.size).toBe(1);
    expect(got.usages).toHaveLength(1);
    const usage = got.usages[0]!;

    const gen = await generation(got.requestId);
    expect(gen).toMatchObject({ provider: "sim-a", status: "partial", error_code: "upstream_stream_ended", tokens_completion: 20 });
    expect(gen.continuations).toHaveLength(1);
    const cont = gen.continuations[0]!;
    expect(cont).toMatchObject({ id: `${got.requestId}.1`, status: "ok", tokens_completion: 20 });
    expect(cont.provider).not.toBe("sim-a");
    // The one usage chunk is the sum of the two usage events.
    expect(usage.completion_tokens).toBe(40);
    expect(usage.prompt_tokens).toBe((gen.tokens_prompt as number) + cont.tokens_prompt);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    expect(parseUsdc(usage.cost)).toBe(BigInt(gen.cost_pico as string) + BigInt(cont.cost_pico));

    // Each provider is paid for its own part, from its own usage event.
    const rows = await providerPostings([got.requestId, cont.id]);
    expect(new Set(rows.map((r) => r.reference))).toEqual(new Set([got.requestId, cont.id]));
    expect(new Set(rows.map((r) => r.account)).size).toBe(2);
    // The continuation's agent signed a receipt for its own request id and counts, verified inline.
    await until(async () => (await generation(got.requestId)).continuations[0]?.receipt_status === "verified");
    expect(await ledgerCheck()).toBe(0);
  });

  it("a stall after the first bytes: continued after the idle deadline", async () => {
    const reference = (await client.chat.completions.create(ask)).choices[0]?.message.content;
    await setMode(simA, { mode: "stall_after_n", n: 5, ms: 20_000 });
    const got = await read(streamed);
    expect(got.error).toBeNull();
    expect(got.text).toBe(reference);
    const gen = await generation(got.requestId);
    expect(gen).toMatchObject({ provider: "sim-a", error_code: "upstream_idle_timeout", tokens_completion: 5 });
    expect(gen.continuations[0]).toMatchObject({ status: "ok", tokens_completion: 35 });
  });

  it("opted out (provider.continuation: false): the error event, as before", async () => {
    await setMode(simA, { mode: "drop_after_n", n: 20 });
    const got = await read({ ...streamed, provider: { continuation: false } } as OpenAI.ChatCompletionCreateParamsStreaming);
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect((got.error as APIError).code).toBe("upstream_stream_ended");
    expect(got.text.split(" ")).toHaveLength(20);
    expect((await generation(got.requestId)).continuations).toEqual([]);
  });

  it("no other provider may serve (provider.only): the error event, as before", async () => {
    await setMode(simA, { mode: "drop_after_n", n: 20 });
    const got = await read({ ...streamed, provider: { only: ["sim-a"] } } as OpenAI.ChatCompletionCreateParamsStreaming);
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect((await generation(got.requestId)).continuations).toEqual([]);
  });

  it("every fallback refuses the prefill: the error event, as before", async () => {
    await setMode(simA, { mode: "drop_after_n", n: 20 });
    for (const id of ["sim-b", "sim-c"]) await setMode(byId(dev, id), { mode: "reject_prefill" });
    const got = await read(streamed);
    expect(got.error).toBeInstanceOf(OpenAI.APIError);
    expect(got.text.split(" ")).toHaveLength(20);
    expect(await ledgerCheck()).toBe(0);
  });
});
