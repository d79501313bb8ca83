import { describe, expect, it } from "vitest";
import { allowedBy, ProviderPreferences, steeringExclusion } from "./steering";
import type { ProviderOffer } from "./types";

const offer = (providerId: string, inputPrice = 200_000n, outputPrice = 800_000n): ProviderOffer => ({
  providerId,
  address: null,
  url: `http://127.0.0.1/${providerId}`,
  model: "m",
  endpoints: ["chat"],
  inputPrice,
  outputPrice,
  contextLength: 8192,
  lastHeartbeatMs: 0,
  suspended: false,
  stakeOk: true,
  waitingRequests: 0,
  maxWaitingRequests: 10,
});

describe("ProviderPreferences", () => {
  it("defaults allow_fallbacks to true and keeps unknown keys", () => {
    const p = ProviderPreferences.parse({ data_collection: "deny" });
    expect(p.allow_fallbacks).toBe(true);
    expect(p).toMatchObject({ data_collection: "deny" });
  });

  it("parses max_price numbers and strings to micro-USDC per million tokens exactly", () => {
    const p = ProviderPreferences.parse({ max_price: { prompt: 0.2, completion: "1.000001", request: 0 } });
    expect(p.max_price?.prompt).toBe(200_000n);
    expect(p.max_price?.completion).toBe(1_000_001n);
    expect(ProviderPreferences.parse({ max_price: { prompt: 0.3 } }).max_price?.prompt).toBe(300_000n);
    expect(ProviderPreferences.parse({ max_price: { prompt: 1e-6 } }).max_price?.prompt).toBe(1n);
  });

  it.each([
    { max_price: { prompt: -1 } },
    { max_price: { prompt: "0.0000001" } },
    { max_price: { prompt: 0.1 + 0.2 } }, // 0.30000000000000004: more than 6 decimals, not silently rounded
    { max_price: { completion: "cheap" } },
    { sort: "fastest" },
    { order: "p1" },
    { only: [""] },
    { allow_fallbacks: "no" },
  ])("rejects %j", (input) => {
    const r = ProviderPreferences.safeParse(input);
    expect(r.success).toBe(false);
  });

  it("names the bad max_price field in the issue path", () => {
    const r = ProviderPreferences.safeParse({ max_price: { completion: "x" } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(["max_price", "completion"]);
  });
});

describe("allowedBy", () => {
  it("allows everything without preferences", () => {
    expect(allowedBy(undefined, offer("a"))).toBe(true);
    expect(allowedBy(ProviderPreferences.parse({}), offer("a"))).toBe(true);
  });

  it("applies only and ignore by providerId", () => {
    const only = ProviderPreferences.parse({ only: ["a", "b"] });
    expect(allowedBy(only, offer("a"))).toBe(true);
    expect(steeringExclusion(only, offer("c"))).toBe("steering");
    const ignore = ProviderPreferences.parse({ ignore: ["a"] });
    expect(steeringExclusion(ignore, offer("a"))).toBe("steering");
    expect(allowedBy(ignore, offer("b"))).toBe(true);
    const both = ProviderPreferences.parse({ only: ["a"], ignore: ["a"] });
    expect(allowedBy(both, offer("a"))).toBe(false);
  });

  it("filters by max_price per million tokens, inclusive", () => {
    const prefs = ProviderPreferences.parse({ max_price: { prompt: "0.20", completion: 0.8 } });
    expect(allowedBy(prefs, offer("a", 200_000n, 800_000n))).toBe(true);
    expect(steeringExclusion(prefs, offer("a", 200_001n, 800_000n))).toBe("over_max_price");
    expect(steeringExclusion(prefs, offer("a", 200_000n, 800_001n))).toBe("over_max_price");
    const promptOnly = ProviderPreferences.parse({ max_price: { prompt: 0.2 } });
    expect(allowedBy(promptOnly, offer("a", 100_000n, 99_000_000n))).toBe(true);
  });

  it("leaves order to the ranking: an unordered provider is still allowed here", () => {
    const prefs = ProviderPreferences.parse({ order: ["a"], allow_fallbacks: false });
    expect(allowedBy(prefs, offer("b"))).toBe(true);
  });
});
