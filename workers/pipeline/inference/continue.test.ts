/** serveInference continuing a stream that broke mid-answer: the prefill request, two usage events, one settlement. */
import { describe, expect, it } from "vitest";
import type { UsageRecord } from "../../core/metering/usage";
import { BreakerBoard } from "../../core/routing/breaker";
import type { ProviderOffer, RouteTable } from "../../core/routing/types";
import type { Deps, UpstreamReply, UpstreamRequest } from "../../ports";
import { serveInference } from "./serve";
import { offer as fixtureOffer } from "./forward.fixtures";
import type { InferenceCall, InferenceRequest } from "./validate";

const enc = new TextEncoder();
const NOW = Date.now();
const offer = (providerId: string, price: bigint): ProviderOffer => fixtureOffer(providerId, price, "m", NOW);
const sse = (id: string, delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id, created: 1, model: "m", choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = (p: number, c: number) =>
  `data: ${JSON.stringify({ id: "b-1", choices: [], usage: { prompt_tokens: p, completion_tokens: c, total_tokens: p + c } })}\n\n`;

function reply(pieces: string[]): UpstreamReply {
  const [first, ...rest] = pieces;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (const p of rest) c.enqueue(enc.encode(p));
      c.close();
    },
  });
  return {
    kind: "stream",
    headers: new Headers(),
    first: enc.encode(first!),
    reader: body.getReader(),
    abort: () => undefined,
    sentAtMs: NOW,
    firstByteAtMs: NOW,
  };
}

/** Provider a streams two tokens and its connection closes; b (the dearer) serves whatever it is sent. */
function harness(offers: ProviderOffer[], b: (body: Record<string, unknown>) => UpstreamReply | Error) {
  const sent: { providerId: string; requestId: string; body: Record<string, unknown> }[] = [];
  const records: UsageRecord[] = [];
  const settles: { requestId: string; chargePico: bigint; tokens: number }[] = [];
  const table: RouteTable = { offers, latency: new Map(), loadedAtMs: NOW };
  const deps = {
    cfg: {
      maxAttempts: 3,
      ttftDeadlineMs: 1_000,
      idleDeadlineMs: 5_000,
      totalDeadlineMs: 60_000,
      keepaliveMs: 5_000,
      heartbeatFreshMs: 30_000,
      protocolFeeBps: 500,
      admission: "enforce",
    },
    now: Date.now,
    breakers: new BreakerBoard(),
    routes: { table: async () => table },
    guard: {
      admit: async () => ({
        ok: true,
        rate: {
          limitRequests: null,
          remainingRequests: null,
          resetRequestsMs: null,
          limitTokens: null,
          remainingTokens: null,
          resetTokensMs: null,
        },
      }),
      settle: (_account: string, requestId: string, chargePico: bigint, tokens: number) => settles.push({ requestId, chargePico, tokens }),
    },
    usage: { record: (rec: UsageRecord | null) => rec && records.push(rec), setReceiptStatus: () => undefined },
    background: () => undefined,
    upstream: {
      send: async (req: UpstreamRequest): Promise<UpstreamReply> => {
        const body = JSON.parse(req.body) as Record<string, unknown>;
        sent.push({ providerId: req.offer.providerId, requestId: req.requestId, body });
        if (req.offer.providerId === "a")
          return reply([
            sse("a-1", { role: "assistant", content: "" }),
            sse("a-1", { content: "amber" }),
            sse("a-1", { content: " basalt" }),
          ]);
        const r = b(body);
        if (r instanceof Error) throw r;
        return r;
      },
    },
  } as unknown as Deps;
  return { deps, sent, records, settles };
}

const call: InferenceCall = {
  requestId: "gen-1",
  key: {
    id: "k",
    accountId: "acc",
    role: "inference",
    scope: "account",
    revoked: false,
    allowedModels: null,
    rpm: null,
    tpm: null,
    budgetPico: null,
    secretHash: "",
  },
  startedAtMs: NOW,
  edge: "local",
};
const request = (provider?: Record<string, unknown>): InferenceRequest => ({
  endpoint: "chat",
  path: "/v1/chat/completions",
  body: { model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 4, stream: true },
  models: ["m"],
  stream: true,
  includeUsage: true,
  promptTokens: 9,
  maxOutputTokens: 4,
  steering: provider as InferenceRequest["steering"],
});
const continuation = () =>
  reply([
    sse("b-1", { role: "assistant", content: "" }),
    sse("b-1", { content: " cedar" }),
    sse("b-1", { content: " delta" }, "length"),
    usage(12, 2),
    "data: [DONE]\n\n",
  ]);
const chunksOf = (text: string) =>
  text
    .split("\n\n")
    .filter((e) => e.startsWith("data: {"))
    .map((e) => JSON.parse(e.slice(6)) as Record<string, any>);

describe("serveInference continuing a broken stream", () => {
  it("asks another provider to continue the partial answer, splices it, meters both parts and settles once with the sum", async () => {
    const h = harness([offer("a", 1n), offer("b", 2n)], continuation);
    const res = await serveInference(h.deps, call, request());
    const chunks = chunksOf(await res.text());
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("amber basalt cedar delta");
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["a-1"]));
    expect(h.sent.map((s) => [s.providerId, s.requestId])).toEqual([
      ["a", "gen-1"],
      ["b", "gen-1.1"],
    ]);
    expect(h.sent[1]?.body).toMatchObject({
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "amber basalt" },
      ],
      continue_final_message: true,
      add_generation_prompt: false,
      max_tokens: 2,
    });
    const [part1, part2] = h.records;
    expect(part1).toMatchObject({
      requestId: "gen-1",
      providerId: "a",
      status: "partial",
      errorCode: "upstream_stream_ended",
      promptTokens: 9,
      completionTokens: 2,
    });
    expect(part2).toMatchObject({
      requestId: "gen-1.1",
      providerId: "b",
      status: "ok",
      errorCode: null,
      promptTokens: 12,
      completionTokens: 2,
    });
    expect(h.records).toHaveLength(2);
    expect(h.settles).toEqual([{ requestId: "gen-1", chargePico: part1!.costPico + part2!.costPico, tokens: 9 + 2 + 12 + 2 }]);
    const final = chunks.find((c) => c.choices.length === 0);
    expect(final?.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 4, total_tokens: 25 });
  });

  it("opted out: the error event, one usage event, no second request", async () => {
    const h = harness([offer("a", 1n), offer("b", 2n)], continuation);
    const text = await (await serveInference(h.deps, call, request({ continuation: false, allow_fallbacks: true }))).text();
    expect(text).toContain('"code":"upstream_stream_ended"');
    expect(h.sent).toHaveLength(1);
    expect(h.records).toMatchObject([{ requestId: "gen-1", status: "partial" }]);
    expect(h.settles).toHaveLength(1);
  });

  it("no other provider: the error event as before", async () => {
    const h = harness([offer("a", 1n)], continuation);
    const text = await (await serveInference(h.deps, call, request())).text();
    expect(text).toContain('"code":"upstream_stream_ended"');
    expect(h.records).toMatchObject([{ requestId: "gen-1", providerId: "a", status: "partial" }]);
    expect(h.settles).toEqual([{ requestId: "gen-1", chargePico: h.records[0]!.costPico, tokens: 11 }]);
  });
});
