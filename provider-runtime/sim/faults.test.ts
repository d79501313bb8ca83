import { spawn } from "node:child_process";
import { once } from "node:events";
import { networkInterfaces } from "node:os";
import OpenAI from "openai";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startSimEngine, type SimEngine } from "./engine";
import { metricValue, postJson, readRaw, sseData } from "./testing";

const MODEL = "meshgate/sim-llama-8b";
let engine: SimEngine;
let client: OpenAI;
const chatUrl = () => `${engine.url}/v1/chat/completions`;
const stream = (extra: object = {}) => ({
  model: MODEL,
  messages: [{ role: "user" as const, content: "fault" }],
  max_tokens: 6,
  stream: true,
  ...extra,
});
const control = (body: unknown) => postJson(engine.controlUrl, body);
const contentChunks = (data: string[]) => data.filter((d) => d.startsWith("{") && d.includes('"content":"') && !d.includes('"content":""'));

beforeAll(async () => {
  engine = await startSimEngine({ model: MODEL, embeddingModel: "meshgate/sim-embed", ttftMs: 0, tokensPerSecond: 0 });
  client = new OpenAI({ baseURL: `${engine.url}/v1`, apiKey: "sim", maxRetries: 0 });
});
afterEach(() => engine.setMode({ mode: "ok" }));
afterAll(() => engine.close());

describe("control endpoint", () => {
  it("switches modes by POST, shows them by GET, and rejects invalid bodies with zod's message", async () => {
    const set = await control({ mode: "status_before_first_byte", status: 503, times: 2 });
    expect(await set.json()).toEqual({ mode: "status_before_first_byte", status: 503, times: 2 });
    expect(await (await fetch(engine.controlUrl)).json()).toMatchObject({ mode: "status_before_first_byte", times: 2 });
    const bad = await control({ mode: "drop_after_n", n: -1 });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/^n: /);
    expect((await control({ mode: "explode" })).status).toBe(400);
  });

  it("applies a mode `times` times, then reverts to ok", async () => {
    engine.setMode({ mode: "status_before_first_byte", status: 500, times: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await postJson(chatUrl(), { ...stream(), stream: false })).status);
    expect(statuses).toEqual([500, 500, 200]);
    expect(await (await fetch(engine.controlUrl)).json()).toEqual({ mode: "ok" });
  });
});

// Reaching our own non-loopback address makes the request come from a non-loopback peer.
const externalIp = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === "IPv4" && !i.internal)?.address;

describe("control endpoint from the network", () => {
  it.skipIf(!externalIp)("refuses non-loopback clients with 403", async () => {
    const open = await startSimEngine({ model: MODEL, host: "0.0.0.0", ttftMs: 0, tokensPerSecond: 0 });
    try {
      const remote = open.controlUrl.replace("127.0.0.1", externalIp!);
      expect((await fetch(remote)).status).toBe(403);
      expect((await postJson(remote, { mode: "refuse" })).status).toBe(403);
      expect((await fetch(open.controlUrl)).status).toBe(200);
    } finally {
      await open.close();
    }
  });
});

describe("fault modes", () => {
  it("refuse resets the connection and is still counted", async () => {
    const before = await metricValue(engine.metricsUrl, "meshgate_sim_requests_total", 'path="/v1/chat/completions"');
    engine.setMode({ mode: "refuse" });
    await expect(postJson(chatUrl(), stream())).rejects.toThrow();
    await expect(client.chat.completions.create({ ...stream(), stream: false })).rejects.toBeInstanceOf(OpenAI.APIConnectionError);
    expect(await metricValue(engine.metricsUrl, "meshgate_sim_requests_total", 'path="/v1/chat/completions"')).toBe(before + 2);
  });

  it("status_before_first_byte answers an OpenAI error with Retry-After", async () => {
    engine.setMode({ mode: "status_before_first_byte", status: 503, retry_after: 7, message: "overloaded" });
    const res = await postJson(chatUrl(), stream());
    expect([res.status, res.headers.get("retry-after")]).toEqual([503, "7"]);
    expect(await res.json()).toEqual({ error: { message: "overloaded", type: "server_error", param: null, code: "simulated_failure" } });
    await expect(client.embeddings.create({ model: "meshgate/sim-embed", input: "x" })).rejects.toMatchObject({ status: 503 });
  });

  it("drop_after_n cuts the stream after n chunks, without [DONE]", async () => {
    engine.setMode({ mode: "drop_after_n", n: 2 });
    const { text, error } = await readRaw(await postJson(chatUrl(), stream()));
    expect(error).toBeTruthy();
    expect(contentChunks(sseData(text))).toHaveLength(2);
    expect(text).not.toContain("[DONE]");
    engine.setMode({ mode: "drop_after_n" });
    await expect(postJson(chatUrl(), { ...stream(), stream: false })).rejects.toThrow();
  });

  it("stall_before_first_byte delays everything, then serves normally", async () => {
    engine.setMode({ mode: "stall_before_first_byte", ms: 150, times: 1 });
    const started = Date.now();
    const res = await postJson(chatUrl(), stream());
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect((await readRaw(res)).text).toContain("[DONE]");
  });

  it("stall_after_n goes silent mid-stream, then finishes", async () => {
    engine.setMode({ mode: "stall_after_n", n: 1, ms: 150 });
    const started = Date.now();
    const res = await postJson(chatUrl(), stream());
    expect(Date.now() - started).toBeLessThan(100);
    const { text } = await readRaw(res);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(contentChunks(sseData(text))).toHaveLength(6);
    expect(text).toContain("[DONE]");
  });

  it("trickle paces tokens one per interval", async () => {
    engine.setMode({ mode: "trickle", interval_ms: 30 });
    const started = Date.now();
    await readRaw(await postJson(chatUrl(), stream()));
    expect(Date.now() - started).toBeGreaterThanOrEqual(5 * 30 - 10);
  });

  it("malformed_chunk inserts one bad line after n chunks and carries on", async () => {
    engine.setMode({ mode: "malformed_chunk", n: 2 });
    const data = sseData((await readRaw(await postJson(chatUrl(), stream()))).text);
    const bad = data.indexOf("{not json");
    expect(contentChunks(data.slice(0, bad))).toHaveLength(2);
    expect(contentChunks(data)).toHaveLength(6);
    expect(data.at(-1)).toBe("[DONE]");
  });

  it("usage_scale inflates usage but not the text; wrong_model renames the model", async () => {
    const ask = () => client.chat.completions.create({ ...stream(), stream: false });
    const honest = await ask();
    engine.setMode({ mode: "usage_scale", factor: 3 });
    const scaled = await ask();
    expect(scaled.choices[0]!.message.content).toBe(honest.choices[0]!.message.content);
    expect(scaled.usage).toEqual({
      prompt_tokens: honest.usage!.prompt_tokens * 3,
      completion_tokens: honest.usage!.completion_tokens * 3,
      total_tokens: honest.usage!.total_tokens * 3,
    });
    engine.setMode({ mode: "wrong_model" });
    expect((await ask()).model).toBe("other-model");
    const chunks = sseData((await readRaw(await postJson(chatUrl(), stream()))).text);
    expect(JSON.parse(chunks[0]!).model).toBe("other-model");
  });

  it("redirect answers every inference request with the redirect, counts it, and GETs to inference paths count too", async () => {
    const count = (path: string) => metricValue(engine.metricsUrl, "meshgate_sim_requests_total", `path="${path}"`);
    const target = "http://169.254.169.254/latest/meta-data/";
    expect(await (await control({ mode: "redirect", location: target })).json()).toEqual({
      mode: "redirect",
      location: target,
      status: 302,
    });
    const before = await count("/v1/chat/completions");
    const res = await postJson(chatUrl(), stream(), { redirect: "manual" });
    expect([res.status, res.headers.get("location")]).toEqual([302, target]);
    expect(await res.text()).toContain(target);
    engine.setMode({ mode: "redirect", location: "/v1/models", status: 307, times: 1 });
    const embed = await postJson(`${engine.url}/v1/embeddings`, { model: "meshgate/sim-embed", input: "x" }, { redirect: "manual" });
    expect([embed.status, embed.headers.get("location")]).toEqual([307, "/v1/models"]);
    await embed.body?.cancel();
    expect((await postJson(chatUrl(), { ...stream(), stream: false })).status).toBe(200); // `times` ran out
    expect(await count("/v1/chat/completions")).toBe(before + 2);
    const completions = await count("/v1/completions");
    expect((await fetch(`${engine.url}/v1/completions`)).status).toBe(405);
    expect(await count("/v1/completions")).toBe(completions + 1);
    for (const bad of [{ mode: "redirect" }, { mode: "redirect", location: target, status: 200 }, { mode: "redirect", location: "" }]) {
      expect((await control(bad)).status).toBe(400);
    }
  });
});

describe("CLI", () => {
  const cli = (args: string[]) =>
    spawn(process.execPath, ["--import", "tsx", "provider-runtime/sim/main.ts", ...args], { stdio: ["ignore", "pipe", "pipe"] });

  it("prints a ready line, serves, and exits cleanly on SIGTERM; a bad flag is one line and exit 2", async () => {
    const bad = cli(["--port", "x", "--model", MODEL]);
    const good = cli(["--port", "0", "--model", MODEL, "--name", "sim-cli"]);
    let stderr = "";
    bad.stderr.on("data", (d) => (stderr += d));
    const [code] = await once(bad, "exit");
    expect(code).toBe(2);
    expect(stderr.trim().split("\n")).toEqual(["meshgate-sim: --port: Invalid input: expected number, received NaN"]);

    const [line] = await once(good.stdout, "data");
    const ready = JSON.parse(String(line));
    expect(ready).toMatchObject({
      event: "ready",
      pid: good.pid,
      controlUrl: `${ready.url}/sim/control`,
      metricsUrl: `${ready.url}/metrics`,
    });
    expect((await fetch(`${ready.url}/health`)).status).toBe(200);
    good.kill("SIGTERM");
    expect((await once(good, "exit"))[0]).toBe(0);
  }, 15_000);
});
