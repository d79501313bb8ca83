import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { BreakerBoard } from "./breaker";
import {
  DEFAULT_ROUTING_POLICY,
  excludedByRequest,
  expectedCostPico,
  rankCandidates,
  summarizeExclusions,
  type RouteRequest,
  type RoutingPolicy,
} from "./rank";
import { ProviderPreferences, type ProviderPreferencesInput } from "./steering";
import { latencyKey, type LatencyStats, type ProviderOffer, type RouteTable } from "./types";

const NOW = 1_000_000;

function offer(providerId: string, over: Partial<ProviderOffer> = {}): ProviderOffer {
  return {
    providerId,
    address: null,
    url: `http://127.0.0.1/${providerId}`,
    model: "llama",
    endpoints: ["chat", "completions"],
    inputPrice: 200_000n,
    outputPrice: 800_000n,
    contextLength: 8192,
    lastHeartbeatMs: NOW - 1_000,
    suspended: false,
    stakeOk: true,
    waitingRequests: 0,
    maxWaitingRequests: 16,
    ...over,
  };
}

type Row = [edge: string, providerId: string, stats: Partial<LatencyStats>];

function table(offers: ProviderOffer[], rows: Row[] = []): RouteTable {
  const latency = new Map<string, LatencyStats>();
  for (const [edge, providerId, s] of rows) {
    latency.set(latencyKey(edge, providerId, "llama"), { ttftMs: 100, tpotMs: 10, successRate: 1, samples: 10, ...s });
  }
  return { offers, latency, loadedAtMs: NOW };
}

function req(over: Partial<Omit<RouteRequest, "steering">> & { steering?: ProviderPreferencesInput } = {}): RouteRequest {
  const { steering, ...rest } = over;
  return {
    model: "llama",
    endpoint: "chat",
    edge: "AMS",
    promptTokens: 1_000,
    maxOutputTokens: 100,
    ...rest,
    steering: steering === undefined ? undefined : ProviderPreferences.parse(steering),
  };
}

const ctx = (over: { breakers?: BreakerBoard; policy?: RoutingPolicy } = {}) => ({
  nowMs: NOW,
  breakers: over.breakers ?? new BreakerBoard(),
  policy: over.policy ?? DEFAULT_ROUTING_POLICY,
});

const ids = (r: { ranked: ProviderOffer[] }) => r.ranked.map((o) => o.providerId);

describe("rankCandidates: cheapest healthy provider", () => {
  it("puts the cheapest first", () => {
    const t = table([offer("pricey", { inputPrice: 900_000n }), offer("cheap", { inputPrice: 100_000n }), offer("mid", { inputPrice: 400_000n })]);
    expect(ids(rankCandidates(t, req(), ctx()))).toEqual(["cheap", "mid", "pricey"]);
  });

  it("weighs output price by max tokens, or the default expectation without it", () => {
    const t = table([
      offer("cheap-in", { inputPrice: 100_000n, outputPrice: 2_000_000n }),
      offer("cheap-out", { inputPrice: 300_000n, outputPrice: 500_000n }),
    ]);
    // 1000 prompt + 10 out: cheap-in 100M+20M=120M vs cheap-out 300M+5M=305M
    expect(ids(rankCandidates(t, req({ maxOutputTokens: 10 }), ctx()))[0]).toBe("cheap-in");
    // 1000 prompt + 4000 out: cheap-in 100M+8000M vs cheap-out 300M+2000M
    expect(ids(rankCandidates(t, req({ maxOutputTokens: 4_000 }), ctx()))[0]).toBe("cheap-out");
    // no max tokens: 256 expected → cheap-in 100M+512M=612M vs cheap-out 300M+128M=428M
    expect(ids(rankCandidates(t, req({ maxOutputTokens: null }), ctx()))[0]).toBe("cheap-out");
  });

  it("prices embeddings by input only", () => {
    const t = table([
      offer("a", { endpoints: ["embeddings"], inputPrice: 100_000n, outputPrice: 99_000_000n }),
      offer("b", { endpoints: ["embeddings"], inputPrice: 150_000n, outputPrice: 0n }),
    ]);
    const r = req({ endpoint: "embeddings", maxOutputTokens: null });
    expect(ids(rankCandidates(t, r, ctx()))).toEqual(["a", "b"]);
    expect(expectedCostPico(offer("a", { inputPrice: 100_000n, outputPrice: 99_000_000n }), r)).toBe(100_000_000n);
  });

  it("knows a model only when an offer serves it on this endpoint", () => {
    const t = table([offer("a", { endpoints: ["chat"] })]);
    expect(rankCandidates(t, req({ model: "other" }), ctx())).toEqual({ ranked: [], excluded: [], modelKnown: false });
    expect(rankCandidates(t, req({ endpoint: "embeddings" }), ctx()).modelKnown).toBe(false);
    const stale = table([offer("a", { lastHeartbeatMs: 0 })]);
    expect(rankCandidates(stale, req(), ctx())).toMatchObject({ ranked: [], modelKnown: true });
  });
});

describe("rankCandidates: health", () => {
  it.each([
    ["stale_heartbeat", { lastHeartbeatMs: NOW - 30_001 }],
    ["suspended", { suspended: true }],
    ["no_stake", { stakeOk: false }],
    ["overloaded", { waitingRequests: 16, maxWaitingRequests: 16 }],
    ["context_too_long", { contextLength: 1_099 }], // 1000 prompt + 100 max output
  ] as const)("excludes %s with that reason", (reason, over) => {
    const t = table([offer("bad", { inputPrice: 1n, ...over }), offer("good")]);
    const r = rankCandidates(t, req(), ctx());
    expect(ids(r)).toEqual(["good"]);
    expect(r.excluded).toEqual([{ providerId: "bad", reason }]);
  });

  it("keeps a heartbeat exactly at the freshness limit and a prompt that exactly fits", () => {
    const t = table([offer("a", { lastHeartbeatMs: NOW - 30_000, contextLength: 1_100 })]);
    expect(ids(rankCandidates(t, req(), ctx()))).toEqual(["a"]);
  });

  it("excludes a low success rate on the caller's edge once there are enough samples", () => {
    const t = table([offer("flaky", { inputPrice: 1n }), offer("good")], [
      ["AMS", "flaky", { successRate: 0.85, samples: 5 }],
      ["SJC", "flaky", { successRate: 0.85, samples: 4 }],
    ]);
    expect(rankCandidates(t, req({ edge: "AMS" }), ctx()).excluded).toEqual([{ providerId: "flaky", reason: "low_success_rate" }]);
    expect(ids(rankCandidates(t, req({ edge: "SJC" }), ctx()))).toEqual(["flaky", "good"]); // too few samples to judge
    expect(ids(rankCandidates(t, req({ edge: "FRA" }), ctx()))).toEqual(["flaky", "good"]); // no row at all
  });

  it("falls back to low-success providers, cheapest first, only when nothing healthier is left", () => {
    const t = table([offer("flaky", { inputPrice: 1n }), offer("shaky"), offer("stale", { lastHeartbeatMs: 0 })], [
      ["AMS", "flaky", { successRate: 0.5, samples: 20 }],
      ["AMS", "shaky", { successRate: 0.6, samples: 20 }],
    ]);
    const r = rankCandidates(t, req(), ctx());
    expect(ids(r)).toEqual(["flaky", "shaky"]);
    expect(r.excluded).toEqual([{ providerId: "stale", reason: "stale_heartbeat" }]);
  });

  it("excludes an open circuit and readmits it after the cooldown, without taking the trial", () => {
    const board = new BreakerBoard({ failureThreshold: 2, cooldownMs: 10_000 });
    board.recordFailure("a", NOW - 5_000);
    board.recordFailure("a", NOW - 5_000);
    const t = table([offer("a", { inputPrice: 1n }), offer("b")]);
    const open = rankCandidates(t, req(), ctx({ breakers: board }));
    expect(open.excluded).toEqual([{ providerId: "a", reason: "circuit_open" }]);
    const later = { ...ctx({ breakers: board }), nowMs: NOW + 5_000 };
    expect(ids(rankCandidates(t, req(), later))).toEqual(["a", "b"]);
    expect(ids(rankCandidates(t, req(), later))).toEqual(["a", "b"]); // ranking twice still offers it
    expect(board.get("a").state).toBe("open");
    expect(board.onAttempt("a", NOW + 5_000)).toBe(true); // the pipeline takes the trial
    expect(rankCandidates(t, req(), later).excluded).toEqual([{ providerId: "a", reason: "circuit_open" }]);
  });

  it("skips providers the pipeline excluded", () => {
    const t = table([offer("a", { inputPrice: 1n }), offer("b")]);
    const r = rankCandidates(t, req({ excludeProviderIds: new Set(["a"]) }), ctx());
    expect(ids(r)).toEqual(["b"]);
    expect(r.excluded).toEqual([{ providerId: "a", reason: "excluded" }]);
  });
});

describe("rankCandidates: near-ties and latency", () => {
  // 1000 × 200_000 + 100 × 800_000 = 280M pico for "a"; "b" is 4 % dearer, "c" 20 % dearer.
  const a = offer("a");
  const b = offer("b", { inputPrice: 211_200n }); // 291.2M: within 5 % of 280M
  const c = offer("c", { inputPrice: 256_000n }); // 336M: not a tie
  const rows: Row[] = [
    ["AMS", "a", { ttftMs: 400, tpotMs: 30 }],
    ["AMS", "b", { ttftMs: 100, tpotMs: 10 }],
    ["AMS", "c", { ttftMs: 10, tpotMs: 1 }],
    ["SJC", "a", { ttftMs: 100, tpotMs: 10 }],
    ["SJC", "b", { ttftMs: 400, tpotMs: 30 }],
  ];

  it("breaks a near-tie by latency on the caller's edge", () => {
    expect(ids(rankCandidates(table([a, b, c], rows), req({ edge: "AMS" }), ctx()))).toEqual(["b", "a", "c"]);
  });

  it("a different edge picks differently", () => {
    expect(ids(rankCandidates(table([a, b, c], rows), req({ edge: "SJC" }), ctx()))).toEqual(["a", "b", "c"]);
  });

  it("price wins over latency when it is not a tie", () => {
    const t = table([a, c], rows);
    expect(ids(rankCandidates(t, req({ edge: "AMS" }), ctx()))).toEqual(["a", "c"]);
  });

  it("uses expected output in the latency score", () => {
    // b: lower ttft, higher tpot. Short answers favour b, long answers favour a.
    const t = table([a, b], [["AMS", "a", { ttftMs: 500, tpotMs: 10 }], ["AMS", "b", { ttftMs: 100, tpotMs: 20 }]]);
    expect(ids(rankCandidates(t, req({ maxOutputTokens: 10, promptTokens: 100 }), ctx()))[0]).toBe("b");
    // with 100 output tokens: a = 500 + 1000 = 1500, b = 100 + 2000 = 2100 (cost gap is still < 5 %)
    expect(ids(rankCandidates(t, req({ maxOutputTokens: 100 }), ctx()))[0]).toBe("a");
  });

  it("ranks unknown latency after known within a tie", () => {
    const t = table([a, b], [["AMS", "b", { ttftMs: 900, tpotMs: 90 }]]);
    expect(ids(rankCandidates(t, req(), ctx()))).toEqual(["b", "a"]);
    const unmeasured = table([a, b], [["AMS", "a", { ttftMs: 0, tpotMs: 0, successRate: 0.95 }], ["AMS", "b", { ttftMs: 900, tpotMs: 90 }]]);
    expect(ids(rankCandidates(unmeasured, req(), ctx()))).toEqual(["b", "a"]); // 0 means not measured
  });

  it("with a zero tie ratio, latency never beats price", () => {
    const policy = { ...DEFAULT_ROUTING_POLICY, nearTieRatio: 0 };
    expect(ids(rankCandidates(table([a, b], rows), req(), ctx({ policy })))).toEqual(["a", "b"]);
  });
});

describe("rankCandidates: steering", () => {
  const cheap = offer("cheap", { inputPrice: 100_000n, outputPrice: 100_000n });
  const mid = offer("mid", { inputPrice: 200_000n, outputPrice: 200_000n });
  const dear = offer("dear", { inputPrice: 400_000n, outputPrice: 400_000n });
  const rows: Row[] = [
    ["AMS", "cheap", { ttftMs: 900, tpotMs: 5 }],
    ["AMS", "mid", { ttftMs: 300, tpotMs: 50 }],
    ["AMS", "dear", { ttftMs: 50, tpotMs: 20 }],
  ];
  const t = table([dear, mid, cheap], rows);

  it("only and ignore filter with reason steering", () => {
    const only = rankCandidates(t, req({ steering: { only: ["mid", "dear"] } }), ctx());
    expect(ids(only)).toEqual(["mid", "dear"]);
    expect(only.excluded).toEqual([{ providerId: "cheap", reason: "steering" }]);
    expect(ids(rankCandidates(t, req({ steering: { ignore: ["cheap"] } }), ctx()))).toEqual(["mid", "dear"]);
  });

  it("order comes first, then the rest by the normal ranking", () => {
    expect(ids(rankCandidates(t, req({ steering: { order: ["dear"] } }), ctx()))).toEqual(["dear", "cheap", "mid"]);
    expect(ids(rankCandidates(t, req({ steering: { order: ["dear", "mid", "dear"] } }), ctx()))).toEqual(["dear", "mid", "cheap"]);
  });

  it("an unhealthy ordered provider is skipped with its health reason", () => {
    const t2 = table([offer("dear", { ...dear, suspended: true }), mid, cheap], rows);
    const r = rankCandidates(t2, req({ steering: { order: ["dear"] } }), ctx());
    expect(ids(r)).toEqual(["cheap", "mid"]);
    expect(r.excluded).toEqual([{ providerId: "dear", reason: "suspended" }]);
  });

  it("allow_fallbacks false keeps only the ordered providers", () => {
    const r = rankCandidates(t, req({ steering: { order: ["mid", "dear"], allow_fallbacks: false } }), ctx());
    expect(ids(r)).toEqual(["mid", "dear"]);
    expect(r.excluded).toEqual([{ providerId: "cheap", reason: "steering" }]);
  });

  it("allow_fallbacks false without order keeps only the top-ranked provider", () => {
    const r = rankCandidates(t, req({ steering: { allow_fallbacks: false } }), ctx());
    expect(ids(r)).toEqual(["cheap"]);
    expect(r.excluded.map((e) => e.reason)).toEqual(["steering", "steering"]);
  });

  it("max_price filters by per-million prices", () => {
    const r = rankCandidates(t, req({ steering: { max_price: { prompt: "0.2", completion: 0.2 } } }), ctx());
    expect(ids(r)).toEqual(["cheap", "mid"]);
    expect(r.excluded).toEqual([{ providerId: "dear", reason: "over_max_price" }]);
  });

  it("sort latency ranks by time to first token", () => {
    expect(ids(rankCandidates(t, req({ steering: { sort: "latency" } }), ctx()))).toEqual(["dear", "mid", "cheap"]);
  });

  it("sort throughput ranks by time per output token", () => {
    expect(ids(rankCandidates(t, req({ steering: { sort: "throughput" } }), ctx()))).toEqual(["cheap", "dear", "mid"]);
  });

  it("sort price is the default", () => {
    expect(ids(rankCandidates(t, req({ steering: { sort: "price" } }), ctx()))).toEqual(ids(rankCandidates(t, req(), ctx())));
    expect(ids(rankCandidates(t, req(), ctx()))).toEqual(["cheap", "mid", "dear"]);
  });

  it("sort latency puts unknown latency last", () => {
    const t2 = table([dear, mid, cheap], [["AMS", "mid", { ttftMs: 300 }]]);
    expect(ids(rankCandidates(t2, req({ steering: { sort: "latency" } }), ctx()))).toEqual(["mid", "cheap", "dear"]);
  });
});

describe("summarizeExclusions and excludedByRequest", () => {
  it("counts reasons, most frequent first", () => {
    expect(
      summarizeExclusions([
        { providerId: "a", reason: "circuit_open" },
        { providerId: "b", reason: "stale_heartbeat" },
        { providerId: "c", reason: "stale_heartbeat" },
      ]),
    ).toBe("2 stale heartbeat, 1 circuit open");
    expect(summarizeExclusions([])).toBe("no providers");
    expect(summarizeExclusions([{ providerId: "a", reason: "over_max_price" }])).toBe("1 over max price");
  });

  it("tells the request's own exclusions from the network's", () => {
    expect(excludedByRequest([{ providerId: "a", reason: "steering" }, { providerId: "b", reason: "over_max_price" }])).toBe(true);
    expect(excludedByRequest([{ providerId: "a", reason: "steering" }, { providerId: "b", reason: "stale_heartbeat" }])).toBe(false);
    expect(excludedByRequest([])).toBe(false);
  });
});

describe("rankCandidates: properties", () => {
  const offerArb = fc.record({
    inputPrice: fc.bigInt({ min: 0n, max: 5_000_000n }),
    outputPrice: fc.bigInt({ min: 0n, max: 5_000_000n }),
    stale: fc.boolean(),
    suspended: fc.boolean(),
    waitingRequests: fc.integer({ min: 0, max: 20 }),
    contextLength: fc.integer({ min: 512, max: 32_768 }),
    ttftMs: fc.option(fc.double({ min: 1, max: 2_000, noNaN: true })),
    successRate: fc.double({ min: 0, max: 1, noNaN: true }),
  });
  const scenario = fc.record({
    offers: fc.array(offerArb, { maxLength: 8 }),
    promptTokens: fc.integer({ min: 1, max: 10_000 }),
    maxOutputTokens: fc.option(fc.integer({ min: 1, max: 4_000 })),
  });

  type OfferGen = typeof offerArb extends fc.Arbitrary<infer T> ? T : never;
  function build(s: { offers: OfferGen[] } & Pick<RouteRequest, "promptTokens" | "maxOutputTokens">) {
    const offers = s.offers.map((o, i) =>
      offer(`p${i}`, {
        inputPrice: o.inputPrice,
        outputPrice: o.outputPrice,
        lastHeartbeatMs: o.stale ? NOW - 60_000 : NOW,
        suspended: o.suspended,
        waitingRequests: o.waitingRequests,
        contextLength: o.contextLength,
      }),
    );
    const rows: Row[] = s.offers.flatMap((o, i): Row[] => (o.ttftMs === null ? [] : [["AMS", `p${i}`, { ttftMs: o.ttftMs, successRate: o.successRate }]]));
    return { t: table(offers, rows), r: req({ promptTokens: s.promptTokens, maxOutputTokens: s.maxOutputTokens }) };
  }

  it("without near-ties or steering: every offer is ranked or excluded, ranked in non-decreasing cost", () => {
    const policy = { ...DEFAULT_ROUTING_POLICY, nearTieRatio: 0 };
    fc.assert(
      fc.property(scenario, (s) => {
        const { t, r } = build(s);
        const out = rankCandidates(t, r, ctx({ policy }));
        const seen = [...ids(out), ...out.excluded.map((e) => e.providerId)].sort();
        expect(seen).toEqual(t.offers.map((o) => o.providerId).sort());
        const costs = out.ranked.map((o) => expectedCostPico(o, r, policy));
        for (let i = 1; i < costs.length; i++) expect(costs[i - 1]! <= costs[i]!).toBe(true);
        for (const o of out.ranked) {
          expect(o.suspended).toBe(false);
          expect(NOW - o.lastHeartbeatMs <= policy.heartbeatFreshMs).toBe(true);
          expect(o.waitingRequests < o.maxWaitingRequests).toBe(true);
        }
      }),
    );
  });

  it("with near-ties: the winner costs at most nearTieRatio more than the cheapest healthy offer", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const { t, r } = build(s);
        const out = rankCandidates(t, r, ctx());
        if (out.ranked.length === 0) return;
        const costs = out.ranked.map((o) => expectedCostPico(o, r));
        const min = costs.reduce((m, c) => (c < m ? c : m));
        expect((costs[0]! - min) * 100n <= min * 5n).toBe(true);
      }),
    );
  });

  it("steering never adds providers: ranked with preferences ⊆ ranked or last-resort without", () => {
    const prefsArb = fc.record(
      {
        only: fc.array(fc.constantFrom("p0", "p1", "p2", "p3"), { maxLength: 3 }),
        ignore: fc.array(fc.constantFrom("p0", "p1", "p2", "p3"), { maxLength: 3 }),
        order: fc.array(fc.constantFrom("p0", "p1", "p2", "p3"), { maxLength: 3 }),
        sort: fc.constantFrom("price", "latency", "throughput" as const),
        allow_fallbacks: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(scenario, prefsArb, (s, prefs) => {
        const { t, r } = build(s);
        const unsteered = rankCandidates(t, r, ctx());
        // Steering can empty the healthy set and so bring in the low-success last resort, never more.
        const base = new Set([...ids(unsteered), ...unsteered.excluded.filter((e) => e.reason === "low_success_rate").map((e) => e.providerId)]);
        const steered = rankCandidates(t, { ...r, steering: ProviderPreferences.parse(prefs) }, ctx());
        for (const id of ids(steered)) expect(base.has(id)).toBe(true);
        expect(new Set(ids(steered)).size).toBe(steered.ranked.length);
      }),
    );
  });
});
