/**
 * Demo traffic for a fresh `npm start`, so the dashboard has something to show: requests through
 * the real path (the openai SDK against the gateway: chat, streamed and not, and embeddings, from
 * two keys, spread over the three providers), then one settlement run that pays the providers on
 * the local chain. Only start.ts asks for it; the tests make their own traffic.
 */
import OpenAI from "openai";

export interface SeedOptions {
  baseURL: string;
  gatewayURL: string;
  adminToken: string;
  /** Inference keys to spread the requests over. */
  apiKeys: string[];
  financeKey: string;
  model: string;
  embeddingModel: string;
  providerIds: string[];
  requests: number;
  concurrency?: number;
  /** false: no chain, so nothing to settle. */
  settle: boolean;
  log?: (line: string) => void;
}

const PROMPTS = [
  "Summarise our Q3 numbers",
  "Write a haiku about GPUs",
  "Translate 'good morning' to French",
  "List three prime numbers",
  "Explain settlement batches",
];

/** Runs `opts.requests` requests, `concurrency` at a time; returns how many failed. */
export async function seedTraffic(opts: SeedOptions): Promise<{ ok: number; failed: number; settlement: string }> {
  const clients = opts.apiKeys.map((apiKey) => new OpenAI({ baseURL: opts.baseURL, apiKey, maxRetries: 2, timeout: 30_000 }));
  let next = 0,
    ok = 0,
    failed = 0;
  const one = async (i: number) => {
    const client = clients[i % clients.length]!;
    // The OpenRouter-style `provider` object steers each request to one provider first, so all three earn.
    const provider = { order: [opts.providerIds[i % opts.providerIds.length]], allow_fallbacks: true };
    const content = `${PROMPTS[i % PROMPTS.length]} (#${i})`;
    const max_tokens = 16 + (i % 5) * 12;
    switch (i % 4) {
      case 0:
      case 3:
        await client.chat.completions.create({
          model: opts.model,
          messages: [{ role: "user", content }],
          max_tokens,
          provider,
        } as OpenAI.ChatCompletionCreateParamsNonStreaming);
        break;
      case 1: {
        const stream = await client.chat.completions.create({
          model: opts.model,
          messages: [{ role: "user", content }],
          max_tokens,
          stream: true,
          provider,
        } as OpenAI.ChatCompletionCreateParamsStreaming);
        for await (const _ of stream) {
          /* read it all, as a client would */
        }
        break;
      }
      case 2:
        await client.embeddings.create({ model: opts.embeddingModel, input: [content, `${content} again`] });
        break;
    }
  };
  const worker = async () => {
    for (let i = next++; i < opts.requests; i = next++) {
      try {
        await one(i);
        ok++;
      } catch (err) {
        failed++;
        if (failed <= 3) opts.log?.(`seed request ${i} failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  await meteredAll(opts, ok);
  const settlement = opts.settle ? await settleOnce(opts) : "no chain";
  return { ok, failed, settlement };
}

/** Metering runs after each response (batched, off the request path): wait until the finance API counts them. */
async function meteredAll(opts: SeedOptions, expected: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${opts.gatewayURL}/finance/v1/usage?group_by=model`, {
      headers: { authorization: `Bearer ${opts.financeKey}` },
    });
    if (res.ok && ((await res.json()) as { totals: { requests: number } }).totals.requests >= expected) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  opts.log?.("seed: not every request was metered within 20 s; the settlement run takes what is there");
}

async function settleOnce(opts: SeedOptions): Promise<string> {
  const res = await fetch(`${opts.gatewayURL}/admin/v1/jobs/settlement/run`, {
    method: "POST",
    headers: { authorization: `Bearer ${opts.adminToken}` },
  });
  const body = (await res.json().catch(() => ({}))) as { data?: { status?: string }; status?: string };
  return res.ok ? String(body.data?.status ?? body.status ?? "done") : `failed (${res.status})`;
}
