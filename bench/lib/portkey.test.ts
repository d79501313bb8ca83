import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TARGETS } from "./gateway-settings";
import type { Target } from "./load";
import { PORTKEY, startPortkey, type Portkey } from "./portkey";

/** An OpenAI-compatible engine: 16 tokens with ignore_eos (vLLM's), 14 (its natural end) without. */
function stubEngine(): http.Server {
  return http.createServer((req, res) => {
    let raw = "";
    req.on("data", (d: Buffer) => (raw += d.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw) as { stream?: boolean; ignore_eos?: boolean };
      const tokens = body.ignore_eos ? 16 : 14;
      const base = { id: "chatcmpl-1", created: 1, model: "m" };
      if (!body.stream) {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify({
            ...base,
            object: "chat.completion",
            choices: [{ index: 0, message: { role: "assistant", content: "w ".repeat(tokens) }, finish_reason: "length" }],
            usage: { prompt_tokens: 5, completion_tokens: tokens, total_tokens: 5 + tokens },
          }),
        );
        return;
      }
      res.setHeader("content-type", "text/event-stream");
      for (let i = 0; i < tokens; i++)
        res.write(
          `data: ${JSON.stringify({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta: { content: ` w${i}` }, finish_reason: null }] })}\n\n`,
        );
      res.end("data: [DONE]\n\n");
    });
  });
}

describe("Portkey beside the floor", () => {
  const engine = stubEngine();
  let engineUrl = "";
  const body = (stream: boolean) =>
    JSON.stringify({
      model: "m",
      messages: [{ role: "user", content: "hi" }],
      max_tokens: 16,
      ignore_eos: true,
      ...(stream ? { stream } : {}),
    });
  const direct = (stream: boolean): Target => ({
    url: `${engineUrl}/v1/chat/completions`,
    headers: { "content-type": "application/json" },
    body: body(stream),
  });
  beforeAll(async () => {
    await new Promise<void>((resolve) => engine.listen(0, "127.0.0.1", resolve));
    engineUrl = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => engine.close(() => resolve())));

  it("starts from node_modules, answers plain and streamed requests through the engine, and says what reached it", async () => {
    const portkey = await startPortkey();
    try {
      expect(portkey.pid).toBeGreaterThan(0);
      await portkey.check(direct(false), portkey.target(engineUrl, body(false)), false);
      // Streaming needs package.json's override of @hono/node-server (TypeError: immutable otherwise).
      await portkey.check(direct(true), portkey.target(engineUrl, body(true)), true);
      expect(portkey.targets(TARGETS)).toEqual([...TARGETS, PORTKEY]);
      expect(portkey.note()).toContain(
        "non-streamed: 14 completion tokens through Portkey, 16 directly; streamed: 14 completion tokens through Portkey, 16 directly",
      );
    } finally {
      await portkey.stop();
    }
  }, 30_000);

  it("a failure while measuring takes Portkey out of the rest of the run, not the bench", async () => {
    const portkey: Portkey = await startPortkey();
    try {
      await portkey.guard(PORTKEY, async () => {
        throw new Error("stream answered 500");
      });
      expect(portkey.targets(TARGETS)).toEqual(TARGETS);
      expect(portkey.note()).toMatch(/^Portkey: left out of the rest of the run .*: stream answered 500\.$/);
      let ran = false;
      await portkey.guard(PORTKEY, async () => {
        ran = true;
      });
      expect(ran).toBe(false);
      await expect(portkey.guard("bare proxy", () => Promise.reject(new Error("floor down")))).rejects.toThrow("floor down");
    } finally {
      await portkey.stop();
    }
  }, 30_000);

  it("a Portkey that cannot start is not measured, with the reason", async () => {
    const portkey = await startPortkey({ entry: "/nonexistent/start-server.js" });
    expect(portkey.pid).toBeNull();
    expect(portkey.targets(TARGETS)).toEqual(TARGETS);
    expect(portkey.note()).toMatch(/^Portkey: not measured: .*start-server\.js is missing \(npm install\)\.$/);
    await portkey.stop();
  });
});
