/**
 * rankCandidates on price, health and latency, and the exclusion summaries.
 * Provider preferences: rank-steering.test.ts; random route tables: rank-properties.test.ts.
 */
import { describe, expect, it } from "vitest";
import { BreakerBoard } from "./breaker";
import { DEFAULT_ROUTING_POLICY, excludedByRequest, expectedCostPico, rankCandidates, summarizeExclusions } from "./rank";
import { ctx, ids, NOW, offer, req, table, WALLET, type Row } from "./rank.fixtures";

describe("rankCandidates: cheapest healthy provider", () => {
  it("puts the cheapest first", () => {
    const t = table([
      offer("pricey", { inputPrice: 900_000n }),
      offer("cheap", { inputPrice: 100_000n }),
      offer("mid", { inputPrice: 400_000n }),
    ]);
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
    ["stale_heartbeat", { address: WALLET, lastHeartbeatMs: NOW - 30_001 }],
    ["stale_heartbeat", { address: null, lastHeartbeatMs: NOW - 150_001 }], // operator-vouched: 2.5 probe intervals
    ["suspended", { suspended: true }],
    ["no_stake", { address: WALLET, stakeOk: false }],
    ["overloaded", { waitingRequests: 16, maxWaitingRequests: 16 }],
    ["context_too_long", { contextLength: 1_099 }], // 1000 prompt + 100 max output
  ] as const)("excludes %s with that reason", (reason, over) => {
    const t = table([offer("bad", { inputPrice: 1n, ...over }), offer("good")]);
    const r = rankCandidates(t, req(), ctx());
    expect(ids(r)).toEqual(["good"]);
    expect(r.excluded).toEqual([{ providerId: "bad", reason }]);
  });

  it("routes an operator-vouched provider (no wallet) without stake, and across a whole probe interval and more", () => {
    const t = table([
      offer("vouched", { address: null, stakeOk: false, lastHeartbeatMs: NOW - 90_000 }),
      offer("wallet", { address: WALLET, stakeOk: false }),
      offer("beating", { address: WALLET, lastHeartbeatMs: NOW - 90_000 }),
    ]);
    const r = rankCandidates(t, req(), ctx());
    expect(ids(r)).toEqual(["vouched"]);
    expect(r.excluded).toEqual([
      { providerId: "wallet", reason: "no_stake" },
      { providerId: "beating", reason: "stale_heartbeat" },
    ]);
  });

  it("keeps a heartbeat exactly at the freshness limit and a prompt that exactly fits", () => {
    const t = table([offer("a", { address: WALLET, lastHeartbeatMs: NOW - 30_000, contextLength: 1_100 })]);
    expect(ids(rankCandidates(t, req(), ctx()))).toEqual(["a"]);
  });

  it("excludes a low success rate on the caller's edge once there are enough samples", () => {
    const t = table(
      [offer("flaky", { inputPrice: 1n }), offer("good")],
      [
        ["AMS", "flaky", { successRate: 0.85, samples: 5 }],
        ["SJC", "flaky", { successRate: 0.85, samples: 4 }],
      ],
    );
    expect(rankCandidates(t, req({ edge: "AMS" }), ctx()).excluded).toEqual([{ providerId: "flaky", reason: "low_success_rate" }]);
    expect(ids(rankCandidates(t, req({ edge: "SJC" }), ctx()))).toEqual(["flaky", "good"]); // too few samples to judge
    expect(ids(rankCandidates(t, req({ edge: "FRA" }), ctx()))).toEqual(["flaky", "good"]); // no row at all
  });

  it("falls back to low-success providers, cheapest first, only when nothing healthier is left", () => {
    const t = table(
      [offer("flaky", { inputPrice: 1n }), offer("shaky"), offer("stale", { lastHeartbeatMs: 0 })],
      [
        ["AMS", "flaky", { successRate: 0.5, samples: 20 }],
        ["AMS", "shaky", { successRate: 0.6, samples: 20 }],
      ],
    );
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
    const t = table(
      [a, b],
      [
        ["AMS", "a", { ttftMs: 500, tpotMs: 10 }],
        ["AMS", "b", { ttftMs: 100, tpotMs: 20 }],
      ],
    );
    expect(ids(rankCandidates(t, req({ maxOutputTokens: 10, promptTokens: 100 }), ctx()))[0]).toBe("b");
    // with 100 output tokens: a = 500 + 1000 = 1500, b = 100 + 2000 = 2100 (cost gap is still < 5 %)
    expect(ids(rankCandidates(t, req({ maxOutputTokens: 100 }), ctx()))[0]).toBe("a");
  });

  it("ranks unknown latency after known within a tie", () => {
    const t = table([a, b], [["AMS", "b", { ttftMs: 900, tpotMs: 90 }]]);
    expect(ids(rankCandidates(t, req(), ctx()))).toEqual(["b", "a"]);
    const unmeasured = table(
      [a, b],
      [
        ["AMS", "a", { ttftMs: 0, tpotMs: 0, successRate: 0.95 }],
        ["AMS", "b", { ttftMs: 900, tpotMs: 90 }],
      ],
    );
    expect(ids(rankCandidates(unmeasured, req(), ctx()))).toEqual(["b", "a"]); // 0 means not measured
  });

  it("with a zero tie ratio, latency never beats price", () => {
    const policy = { ...DEFAULT_ROUTING_POLICY, nearTieRatio: 0 };
    expect(ids(rankCandidates(table([a, b], rows), req(), ctx({ policy })))).toEqual(["a", "b"]);
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
    expect(
      excludedByRequest([
        { providerId: "a", reason: "steering" },
        { providerId: "b", reason: "over_max_price" },
      ]),
    ).toBe(true);
    expect(
      excludedByRequest([
        { providerId: "a", reason: "steering" },
        { providerId: "b", reason: "stale_heartbeat" },
      ]),
    ).toBe(false);
    expect(excludedByRequest([])).toBe(false);
  });
});
