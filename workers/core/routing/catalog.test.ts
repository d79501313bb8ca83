import { describe, expect, it } from "vitest";
import { listServedModels } from "./catalog";
import type { ProviderOffer } from "./types";

const offer = (p: Partial<ProviderOffer>): ProviderOffer => ({
  providerId: "a",
  address: null,
  url: "http://a",
  model: "m",
  endpoints: ["chat"],
  inputPrice: 100n,
  outputPrice: 200n,
  contextLength: 4096,
  lastHeartbeatMs: 1_000,
  suspended: false,
  stakeOk: true,
  waitingRequests: 0,
  maxWaitingRequests: 8,
  ...p,
});

describe("listServedModels", () => {
  it("aggregates price ranges and endpoints per model, skipping stale and suspended offers", () => {
    const table = {
      offers: [
        offer({ providerId: "a", inputPrice: 100n, outputPrice: 300n }),
        offer({ providerId: "b", inputPrice: 50n, outputPrice: 400n, endpoints: ["chat", "completions"], contextLength: 8192 }),
        offer({ providerId: "c", inputPrice: 1n, lastHeartbeatMs: 0, address: "0x00000000000000000000000000000000000000c1" }),
        offer({ providerId: "d", inputPrice: 1n, suspended: true }),
        offer({ providerId: "e", model: "emb", endpoints: ["embeddings"] }),
      ],
      latency: new Map(),
      loadedAtMs: 0,
    };
    const models = listServedModels(table, 31_000);
    expect(models.map((m) => m.model)).toEqual(["emb", "m"]);
    const m = models[1]!;
    expect(m.providers).toBe(2);
    expect(m.inputPrice).toEqual({ min: 50n, max: 100n });
    expect(m.outputPrice).toEqual({ min: 300n, max: 400n });
    expect(m.endpoints).toEqual(["chat", "completions"]);
    expect(m.contextLength).toBe(8192);
  });

  it("lists an operator-vouched (probed) offer across the probe interval, a wallet offer only within the heartbeat window", () => {
    const table = {
      offers: [
        offer({ providerId: "vouched", model: "v" }),
        offer({ providerId: "w", model: "w", address: "0x00000000000000000000000000000000000000c1" }),
      ],
      latency: new Map(),
      loadedAtMs: 0,
    };
    expect(listServedModels(table, 1_000 + 90_000).map((m) => m.model)).toEqual(["v"]);
    expect(listServedModels(table, 1_000 + 150_001)).toEqual([]);
  });
});
