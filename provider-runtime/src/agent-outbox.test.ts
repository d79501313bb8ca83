/** The agent's receipt outbox: delivery in signed batches, compaction, a restart, receipts the gateway refuses; and re-registration. */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { generatePrivateKey } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "./agent";
import { chat, config, MODEL, quiet, removeOutboxDirs } from "./agent.fixtures";
import { eventually, FakeGateway } from "./fake-gateway";

let gw: FakeGateway;
let agent: AgentHandle;

beforeAll(async () => {
  gw = await new FakeGateway().start();
  agent = await startAgent(config(gw), { log: quiet });
});
afterAll(async () => {
  await agent?.shutdown();
  await gw?.close();
  removeOutboxDirs();
});

describe("the outbox", () => {
  it("posts every receipt in signed batches and compacts the acknowledged ones away", async () => {
    const requestId = `gen-outbox-${Date.now()}`;
    await (await gw.send(agent.url, "/v1/completions", { model: MODEL, prompt: "hi", max_tokens: 5 }, { requestId })).text();
    await eventually(() => gw.acknowledged.has(requestId), 3_000, "the acknowledgement");
    expect(gw.receiptPosts.every((p) => p.valid && p.payload.address === agent.address)).toBe(true);
    await eventually(() => agent.outbox.size === 0, 2_000, "an empty outbox");
    await eventually(() => !readFileSync(agent.outbox.file, "utf8").includes(requestId), 2_000, "compaction");
  });

  it("keeps receipts the gateway cannot take yet across a restart, and delivers them later", async () => {
    const missing = await new FakeGateway().start();
    missing.receiptsMode = "missing";
    const key = generatePrivateKey();
    const cfg = config(missing, [], key);
    const first = await startAgent(cfg, { log: quiet });
    const ids = [`gen-keep-1-${Date.now()}`, `gen-keep-2-${Date.now()}`];
    for (const requestId of ids) await (await missing.send(first.url, "/v1/chat/completions", chat(), { requestId })).text();
    await eventually(() => missing.receiptAttempts > 0, 2_000, "a refused post");
    await first.shutdown();
    const lines = readFileSync(first.outbox.file, "utf8").trim().split("\n");
    expect(lines.map((l) => (JSON.parse(l) as { requestId: string }).requestId)).toEqual(ids);

    const ok = await new FakeGateway().start();
    const second = await startAgent({ ...cfg, gatewayUrl: ok.url }, { log: quiet });
    await eventually(() => ids.every((id) => ok.acknowledged.has(id)), 3_000, "delivery after restart");
    await eventually(() => readFileSync(second.outbox.file, "utf8") === "", 2_000, "compaction");
    await second.shutdown();
    await Promise.all([missing.close(), ok.close()]);
  });
});

describe("when the gateway refuses", () => {
  it("sets receipts it refuses three times aside in rejected.jsonl, and stops posting them", async () => {
    const g = await new FakeGateway().start();
    g.receiptsMode = "reject";
    const a = await startAgent(config(g), { log: quiet });
    const requestId = `gen-refused-${Date.now()}`;
    await (await g.send(a.url, "/v1/chat/completions", chat(), { requestId })).text();
    await eventually(() => a.outbox.size === 0, 3_000, "the receipt set aside");
    const aside = readFileSync(join(dirname(a.outbox.file), "rejected.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { requestId: string; reason: string });
    expect(aside).toEqual([expect.objectContaining({ requestId, reason: "not addressed to this gateway" })]);
    expect(g.receiptPosts.filter((p) => p.payload.receipts.some((r) => r.includes(requestId)))).toHaveLength(3);
    await a.shutdown();
    await g.close();
  });

  it("registers again when its heartbeats are refused as unknown", async () => {
    const g = await new FakeGateway().start();
    const a = await startAgent(config(g), { log: quiet });
    await eventually(() => g.heartbeats.length > 0, 2_000, "a heartbeat");
    g.forgotten = true;
    await eventually(() => g.registers.length === 2 && !g.forgotten, 2_000, "a second registration");
    expect(g.registers[1]!.valid).toBe(true);
    await a.shutdown();
    await g.close();
  });
});
