/** rankCandidates under the request's provider preferences (only, ignore, order, allow_fallbacks, max_price, sort). */
import { describe, expect, it } from "vitest";
import { rankCandidates } from "./rank";
import { ctx, ids, offer, req, table, type Row } from "./rank.fixtures";

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
