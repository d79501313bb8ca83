import { describe, expect, it } from "vitest";
import { AccountAdmission, WINDOW_MS, formatResetDuration, rateLimitHeaders } from "./admission";
import { limits, req } from "./admission.fixtures";

describe("rate limits", () => {
  it("rpm 0 refuses with a finite wait of one window", () => {
    const d = new AccountAdmission(10n).admit(req("r", { limits: limits({ rpm: 0 }), reservePico: 1n }));
    expect(d).toMatchObject({ ok: false, denial: { kind: "rate_limited", limit: "requests", retryAfterMs: 60_000 } });
  });

  it("rpm: admits exactly rpm of a burst, then denies until the window passes", () => {
    const a = new AccountAdmission(10n ** 6n);
    const l = limits({ rpm: 10 });
    const results = Array.from({ length: 30 }, (_, i) => a.admit(req(`r${i}`, { limits: l, reservePico: 1n, nowMs: 1_000 })));
    expect(results.filter((d) => d.ok)).toHaveLength(10);
    expect(results.slice(0, 10).every((d) => d.ok)).toBe(true);
    expect(results[10]).toMatchObject({ ok: false, denial: { kind: "rate_limited", limit: "requests", retryAfterMs: WINDOW_MS } });
    expect(a.admit(req("later", { limits: l, reservePico: 1n, nowMs: 31_000 }))).toMatchObject({ denial: { retryAfterMs: 30_000 } });
    expect(a.admit(req("next", { limits: l, reservePico: 1n, nowMs: 1_000 + WINDOW_MS })).ok).toBe(true);
  });

  it("rpm slides: one request per second, one slot frees at 60.5 s", () => {
    const a = new AccountAdmission(10n ** 6n);
    const l = limits({ rpm: 10 });
    for (let s = 0; s < 10; s++) expect(a.admit(req(`r${s}`, { limits: l, reservePico: 1n, nowMs: s * 1_000 })).ok).toBe(true);
    expect(a.admit(req("x", { limits: l, reservePico: 1n, nowMs: 59_000 })).ok).toBe(false);
    expect(a.admit(req("y", { limits: l, reservePico: 1n, nowMs: 60_500 })).ok).toBe(true);
    expect(a.admit(req("z", { limits: l, reservePico: 1n, nowMs: 60_500 }))).toMatchObject({ ok: false, denial: { retryAfterMs: 500 } });
  });

  it("tpm: counts reserved tokens at admission and corrects them at settle", () => {
    const a = new AccountAdmission(10n ** 6n);
    const l = limits({ tpm: 1_000 });
    expect(a.admit(req("a", { limits: l, reserveTokens: 800 })).ok).toBe(true);
    expect(a.admit(req("b", { limits: l, reserveTokens: 800, nowMs: 10_000 }))).toMatchObject({
      ok: false,
      denial: { kind: "rate_limited", limit: "tokens", retryAfterMs: 50_000 },
      rate: { remainingTokens: 200 },
    });
    a.settle("a", 1n, 100);
    expect(a.admit(req("b", { limits: l, reserveTokens: 800, nowMs: 10_000 }))).toMatchObject({ ok: true, rate: { remainingTokens: 100 } });
  });

  it("tpm: a request larger than the limit is told to wait a window", () => {
    const a = new AccountAdmission(10n ** 6n);
    expect(a.admit(req("big", { limits: limits({ tpm: 1_000 }), reserveTokens: 1_001 }))).toMatchObject({
      ok: false,
      denial: { kind: "rate_limited", limit: "tokens", retryAfterMs: WINDOW_MS },
    });
    expect(a.reservedPico).toBe(0n);
  });

  it("rate info and headers: remaining counts this request; headers only for the key's limits", () => {
    const a = new AccountAdmission(10n ** 6n);
    const first = a.admit(req("a", { limits: limits({ rpm: 10 }) }));
    expect(first.rate).toMatchObject({ limitRequests: 10, remainingRequests: 9, limitTokens: null });
    expect(rateLimitHeaders(first.rate)).toEqual({
      "x-ratelimit-limit-requests": "10",
      "x-ratelimit-remaining-requests": "9",
      "x-ratelimit-reset-requests": "1m0s",
    });
    const both = a.admit(req("b", { limits: limits({ keyId: "k2", rpm: 5, tpm: 100 }), reserveTokens: 30, nowMs: 20_000 }));
    expect(rateLimitHeaders(both.rate)).toEqual({
      "x-ratelimit-limit-requests": "5",
      "x-ratelimit-remaining-requests": "4",
      "x-ratelimit-reset-requests": "1m0s",
      "x-ratelimit-limit-tokens": "100",
      "x-ratelimit-remaining-tokens": "70",
      "x-ratelimit-reset-tokens": "1m0s",
    });
    const none = a.admit(req("c", { limits: limits({ keyId: "k3" }) }));
    expect(rateLimitHeaders(none.rate)).toEqual({});
  });

  it("formats reset durations the way OpenAI does", () => {
    expect([20, 1_000, 1_500, 360_000, 61_000, 0].map(formatResetDuration)).toEqual(["20ms", "1s", "2s", "6m0s", "1m1s", "0ms"]);
  });
});
