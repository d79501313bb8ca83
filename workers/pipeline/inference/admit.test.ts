/** Admission's worst case comes from the route index: the same figure as a scan of every offer, at any table size. */
import { describe, expect, it } from "vitest";
import type { Config } from "../../config";
import { worstCaseCostPico } from "../../core/money/pricing";
import { offer } from "../../core/routing/rank.fixtures";
import type { ProviderOffer, RouteTable } from "../../core/routing/types";
import type { Deps } from "../../ports";
import { admit } from "./admit";
import type { InferenceCall, InferenceRequest } from "./validate";

const call: InferenceCall = {
  requestId: "req-1",
  key: {
    id: "k1",
    accountId: "acct",
    role: "inference",
    scope: "account",
    revoked: false,
    allowedModels: null,
    rpm: null,
    tpm: null,
    budgetPico: null,
    secretHash: "",
  },
  startedAtMs: 0,
  edge: "AMS",
};

const request = (over: Partial<InferenceRequest> = {}): InferenceRequest => ({
  endpoint: "chat",
  path: "/v1/chat/completions",
  body: {},
  models: ["llama", "qwen"],
  stream: false,
  includeUsage: false,
  promptTokens: 1_000,
  maxOutputTokens: null,
  steering: undefined,
  ...over,
});

type GuardAdmit = Parameters<Deps["guard"]["admit"]>[1];

/** What admit asks the account's guard to reserve (the guard answers nothing: the test stops there). */
async function reserved(table: RouteTable, req: InferenceRequest): Promise<GuardAdmit | null> {
  let asked: GuardAdmit | null = null;
  const stop = new Error("stop");
  const guard = {
    admit: async (_account: string, r: GuardAdmit) => {
      asked = r;
      throw stop;
    },
    settle: () => undefined,
    credit: async () => undefined,
  };
  const cfg = { admission: "enforce" } as Pick<Config, "admission"> as Config;
  const out = await admit({ guard, cfg }, call, req, table).catch((e: unknown) => (e === stop ? null : Promise.reject(e)));
  expect(out).toBeNull();
  return asked;
}

const tableOf = (offers: ProviderOffer[]): RouteTable => ({ offers, latency: new Map(), loadedAtMs: 0 });

describe("admit: the worst-case reservation", () => {
  it("is the highest input and output price and context length over the request's models on its endpoint", async () => {
    const t = tableOf([
      offer("a", { model: "llama", inputPrice: 300n, outputPrice: 10n, contextLength: 4_096 }),
      offer("b", { model: "qwen", inputPrice: 100n, outputPrice: 900n, contextLength: 16_384 }),
      offer("c", { model: "other", inputPrice: 99_999n, outputPrice: 99_999n, contextLength: 1_000_000 }),
      offer("d", { model: "llama", endpoints: ["embeddings"], inputPrice: 88_888n, outputPrice: 88_888n }),
    ]);
    const r = await reserved(t, request());
    expect(r?.reservePico).toBe(1_000n * 300n + (16_384n - 1_000n) * 900n);
    expect(r?.reserveTokens).toBe(16_384);
    const capped = await reserved(t, request({ maxOutputTokens: 50 }));
    expect(capped?.reservePico).toBe(1_000n * 300n + 50n * 900n);
  });

  it("reserves nothing when nobody serves the models", async () => {
    const out = await admit(
      {
        guard: { admit: () => Promise.reject(new Error("asked")), settle: () => undefined, credit: async () => undefined },
        cfg: { admission: "enforce" } as Config,
      },
      call,
      request({ models: ["nobody"] }),
      tableOf([offer("a")]),
    );
    expect(out.headers).toEqual({});
  });

  it("works at 200,000 offers of one model (a spread of every context length overflowed the call stack)", async () => {
    const offers = Array.from({ length: 200_000 }, (_, i) =>
      offer(`p${i}`, { model: "llama", inputPrice: BigInt(i % 997), outputPrice: BigInt(i % 1_009), contextLength: 1_000 + (i % 4_001) }),
    );
    const r = await reserved(tableOf(offers), request({ models: ["llama"] }));
    expect(r?.reservePico).toBe(worstCaseCostPico({ promptTokens: 1_000, maxOutputTokens: 5_000 - 1_000 }, offers));
  });
});
