/**
 * `npm run bench` (stages): the CPU of each stage of one inference request as the gateway runs it,
 * in µs, in one Node process (no network, no workerd): validation (the body's bytes → UTF-8 and depth
 * checks → JSON.parse → the ChatRequest schema → validateInference with its prompt estimate),
 * admission (AccountAdmission admit + settle of a key without limits), routing (the route walk on a
 * 1,000-offer table, the first three as forward takes them), signing (the upstream body's
 * JSON.stringify and signGatewayRequest with a key imported once, as wire.ts does), relay (a
 * recorded 64-chunk vLLM stream through relayStream, one upstream read per chunk, read to its end
 * by the client) and metering (the usage record and its pricing, as finish.ts builds them).
 *
 * Each figure is CPU time (process.cpuUsage), the median of 5 runs of at least BENCH_STAGES_MS (200) ms.
 * Markdown to stdout.
 */
import { performance } from "node:perf_hooks";
import type { KeyRecord } from "../workers/core/auth/keys";
import { AccountAdmission, type KeyLimits } from "../workers/core/money/admission";
import { costPico } from "../workers/core/money/pricing";
import { formatUsdc } from "../workers/core/money/units";
import { decodeUtf8, MAX_JSON_DEPTH, nestsDeeperThan } from "../workers/core/openai/body-text";
import { ChatRequest, parseBody } from "../workers/core/openai/schemas";
import { generateGatewayKeyPair, importGatewaySigningKey, signGatewayRequest } from "../workers/core/protocol/gateway-auth";
import { RECEIPT_EVENT } from "../workers/core/protocol/receipt";
import { DEFAULT_ROUTING_POLICY, type RankContext, type RouteRequest } from "../workers/core/routing/rank";
import { rankTop } from "../workers/core/routing/route-walk";
import { latencyKey, type LatencyStats, type ProviderOffer, type RouteTable } from "../workers/core/routing/types";
import { meter, type Exchange, type Outcome } from "../workers/pipeline/inference/finish";
import { relayStream } from "../workers/pipeline/inference/relay";
import { validateInference } from "../workers/pipeline/inference/validate";
import type { Deps } from "../workers/ports";
import { fmt, table } from "./lib/table";

const RUN_MS = Number(process.env.BENCH_STAGES_MS ?? 200);
const RUNS = 5;
const enc = new TextEncoder();

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * CPU µs per call (this process, all its threads: WebCrypto's thread pool included), the median of
 * RUNS runs of at least RUN_MS wall time each; the CPU clock is kinder to a shared machine than the wall.
 */
async function perCallUs(f: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < 50; i++) await f(i); // warm-up (JIT)
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    let n = 0;
    const t0 = performance.now();
    const c0 = cpuUs();
    while (n < 10 || performance.now() - t0 < RUN_MS) await f(n++);
    runs.push((cpuUs() - c0) / n);
  }
  return median(runs);
}

// ---- validation -------------------------------------------------------------------------------
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i % 97}`).join(" ");
const chatBody = (messages: number, wordsEach: number) =>
  enc.encode(
    JSON.stringify({
      model: "llama-3.1-8b",
      messages: Array.from({ length: messages }, (_, i) => ({
        role: i === 0 ? "system" : i % 2 ? "user" : "assistant",
        content: words(wordsEach),
      })),
      stream: true,
      stream_options: { include_usage: true },
      max_tokens: 256,
      temperature: 0.7,
    }),
  );
const TYPICAL = chatBody(3, 60); // ~1.3 KB
const LARGE = chatBody(200, 150); // ~200 KB
const KEY: KeyRecord = {
  id: "key-1",
  accountId: "acct-1",
  role: "inference",
  scope: "account",
  revoked: false,
  allowedModels: null,
  rpm: null,
  tpm: null,
  budgetPico: null,
  secretHash: "0".repeat(64),
};

/** What parse.ts and validate.ts do with a body's bytes. */
function validateBytes(bytes: Uint8Array) {
  const text = decodeUtf8(bytes);
  if (text === null || nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new Error("bad body");
  return validateInference({ endpoint: "chat", body: parseBody(ChatRequest, JSON.parse(text)) }, KEY);
}

// ---- routing ----------------------------------------------------------------------------------
let seed = 1;
const rand = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const NOW = 1_000_000_000;
function makeTable(providers: number): RouteTable {
  const offers: ProviderOffer[] = [];
  const latency = new Map<string, LatencyStats>();
  for (let i = 0; i < providers; i++) {
    const providerId = `prov-${i}`;
    const input = 100_000 + Math.floor(rand() * 900_000);
    offers.push({
      providerId,
      address: null,
      url: `http://10.0.${i >> 8}.${i & 255}:9100`,
      model: "llama-3.1-8b",
      endpoints: ["chat", "completions"],
      inputPrice: BigInt(input),
      outputPrice: BigInt(Math.floor(input * 3)),
      contextLength: 32_768,
      lastHeartbeatMs: NOW - 1_000,
      suspended: rand() < 0.03,
      stakeOk: true,
      waitingRequests: Math.floor(rand() * 4),
      maxWaitingRequests: 16,
    });
    latency.set(latencyKey("AMS", providerId, "llama-3.1-8b"), {
      ttftMs: 50 + rand() * 500,
      tpotMs: 5 + rand() * 30,
      successRate: 0.95,
      samples: 20,
    });
  }
  return { offers, latency, loadedAtMs: NOW };
}
const ROUTE: RouteRequest = {
  model: "llama-3.1-8b",
  endpoint: "chat",
  edge: "AMS",
  promptTokens: 400,
  maxOutputTokens: 256,
  steering: undefined,
};
const RANK: RankContext = { nowMs: NOW, breakers: { isAvailable: () => true }, policy: DEFAULT_ROUTING_POLICY };

// ---- relay ------------------------------------------------------------------------------------
/** A vLLM stream as the agent relays it: role chunk, 60 tokens, finish, usage, [DONE], the receipt event. */
function recordedStream(): Uint8Array[] {
  const head = { id: "chatcmpl-bench", object: "chat.completion.chunk", created: 1_700_000_000, model: "llama-3.1-8b" };
  const chunk = (delta: Record<string, unknown>, finish: string | null) =>
    `data: ${JSON.stringify({ ...head, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], usage: null })}\n\n`;
  const events = [chunk({ role: "assistant", content: "" }, null)];
  for (let i = 0; i < 60; i++) events.push(chunk({ content: ` tok${i}` }, null));
  events.push(chunk({}, "stop"));
  events.push(
    `data: ${JSON.stringify({ ...head, choices: [], usage: { prompt_tokens: 400, completion_tokens: 60, total_tokens: 460 } })}\n\n`,
  );
  events.push("data: [DONE]\n\n");
  events.push(`event: ${RECEIPT_EVENT}\ndata: ${"r".repeat(400)}\n\n`);
  return events.map((e) => enc.encode(e));
}
const STREAM = recordedStream();
const OFFER = makeTable(1).offers[0]!;

/** The recorded stream after its first chunk, one read per event, as upstream hands it over. */
function upstreamOf(): ReadableStream<Uint8Array> {
  let i = 1;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (i < STREAM.length) c.enqueue(STREAM[i++]!);
      else c.close();
    },
  });
}

/** The floor: a bare pull-through of the same reads (what any streaming proxy pays for the streams). */
async function pipeOnce(): Promise<void> {
  const reader = upstreamOf().getReader();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(c) {
        const r = await reader.read();
        if (r.done) c.close();
        else c.enqueue(r.value);
      },
    },
    { highWaterMark: 0 },
  );
  const client = body.getReader();
  while (!(await client.read()).done);
}

async function relayOnce(includeUsage: boolean): Promise<number> {
  const upstream = upstreamOf();
  let delivered = -1;
  const body = relayStream({
    first: STREAM[0]!,
    reader: upstream.getReader(),
    abortUpstream: () => undefined,
    includeUsage,
    idleDeadlineMs: 30_000,
    keepaliveMs: 15_000,
    now: Date.now,
    costOf: (t) => formatUsdc(costPico(t, OFFER)),
    deadlineAtMs: Date.now() + 600_000,
    totalDeadlineMs: 600_000,
    onFinish: (o) => {
      delivered = o.deliveredTokens;
    },
  });
  const reader = body.getReader();
  while (!(await reader.read()).done);
  if (delivered !== 60) throw new Error(`relay delivered ${delivered}`);
  return delivered;
}

// ---- metering ---------------------------------------------------------------------------------
const meterDeps = {
  cfg: { protocolFeeBps: 500 },
  usage: { record: () => undefined },
  background: () => undefined,
} as unknown as Deps;
const exchange: Exchange = {
  call: { requestId: "req-1", key: KEY, startedAtMs: NOW, edge: "AMS" },
  req: validateBytes(TYPICAL),
  admitted: { headers: {}, settle: () => undefined },
  attempts: [{ providerId: OFFER.providerId, model: OFFER.model, latencyMs: 40, error: null }],
  served: { offer: OFFER, model: OFFER.model, ttftMs: 40, firstByteAtMs: NOW + 40 },
};
const outcome: Outcome = {
  observed: { reported: { promptTokens: 400, completionTokens: 60 }, deliveredTokens: 60, promptEstimate: 420, complete: true },
  errorCode: null,
  endedAtMs: NOW + 900,
  receipt: null,
};

async function main() {
  const pair = await generateGatewayKeyPair();
  const signingKey = await importGatewaySigningKey(pair.privateKey);
  const typicalReq = validateBytes(TYPICAL);
  const largeReq = validateBytes(LARGE);
  const sign = (req: typeof typicalReq, i: number) =>
    signGatewayRequest(signingKey, {
      method: "POST",
      path: "/v1/chat/completions",
      requestId: `req-${i}`,
      timestampMs: NOW + i,
      body: JSON.stringify({ ...req.body, model: "llama-3.1-8b" }),
    });
  const routeTable = makeTable(1_000);
  const admission = new AccountAdmission(10n ** 18n);
  const limits: KeyLimits = { keyId: KEY.id, rpm: null, tpm: null, budgetPico: null };
  const rows: [string, number, string][] = [];
  const add = (stage: string, us: number, note: string) => rows.push([stage, us, note]);

  add("validation, typical body", await perCallUs(() => validateBytes(TYPICAL)), `${(TYPICAL.length / 1024).toFixed(1)} KB, 3 messages`);
  add("validation, large body", await perCallUs(() => validateBytes(LARGE)), `${(LARGE.length / 1024).toFixed(0)} KB, 200 messages`);
  add(
    "admission (admit + settle)",
    await perCallUs((i) => {
      const requestId = `a${i}`;
      admission.admit({ requestId, limits, reservePico: 1_000_000n, reserveTokens: 700, nowMs: NOW + i, ttlMs: 60_000 });
      admission.settle(requestId, 500_000n, 460);
    }),
    "AccountAdmission as it is, a key without limits",
  );
  add("routing", await perCallUs(() => rankTop(routeTable, ROUTE, RANK, 3)), "1,000 offers of one model, first 3");
  add("signing, typical body", await perCallUs((i) => sign(typicalReq, i)), "JSON.stringify + SHA-256 + Ed25519 + base64url");
  add("signing, large body", await perCallUs((i) => sign(largeReq, i)), "the same, 200 KB");
  const chunks = STREAM.length;
  add("relay, per chunk", (await perCallUs(() => relayOnce(false))) / chunks, `${chunks} events, client without usage`);
  add("relay, per chunk (include_usage)", (await perCallUs(() => relayOnce(true))) / chunks, `${chunks} events, usage priced`);
  add("relay floor, per chunk", (await perCallUs(() => pipeOnce())) / chunks, "a bare pull-through of the same reads, for scale");
  add("metering", await perCallUs(() => meter(meterDeps, exchange, outcome)), "usage record + pricing + observations");

  const relayRow = rows.find((r) => r[0] === "relay, per chunk")!;
  console.log(
    [
      "## CPU per stage (µs of CPU, Node, one process)",
      "",
      table(
        ["stage", "µs", "what"],
        rows.map(([s, us, what]) => [s, fmt(us, us < 10 ? 2 : 1), what]),
      ),
      "",
      `A 64-chunk stream's relay: ${fmt(relayRow[1] * chunks, 0)} µs in all.`,
    ].join("\n"),
  );
}

main().catch((err) => {
  process.stderr.write(`stages failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
