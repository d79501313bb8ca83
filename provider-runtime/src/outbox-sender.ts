/**
 * Posts the outbox to the gateway in signed batches (`POST /providers/v1/receipts`) every
 * --outbox-ms until acknowledged. A gateway without the endpoint (404) or that is down just means
 * "later", with backoff; receipts it explicitly refuses again and again are set aside.
 */
import { z } from "zod";
import { describe } from "./errors";
import { backoffMs, GatewayReply, postSigned, type SignedPost } from "./gateway-client";
import type { Outbox, OutboxEntry } from "./outbox";

const ReceiptsAck = z.looseObject({
  accepted: z.array(z.string()),
  rejected: z.array(z.looseObject({ request_id: z.string().nullable(), reason: z.string() })).optional(),
});
const BATCH = 256;
/** Refusals of the same receipt (counted per process) before it is set aside. */
const MAX_REJECTIONS = 3;

export interface OutboxSenderDeps {
  outbox: Outbox;
  post: SignedPost;
  address: `0x${string}`;
  periodMs: number;
  nextTimestamp: () => number;
  log: (line: string) => void;
}

export interface OutboxSender {
  /** Posts everything pending, batch by batch, until empty or the gateway fails; resolves either way. */
  flush(): Promise<{ sent: number; remaining: number }>;
  stop(): void;
}

export function startOutboxSender(d: OutboxSenderDeps): OutboxSender {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failures = 0;
  let running: Promise<{ sent: number; remaining: number }> | null = null;

  const rejections = new Map<string, number>();

  async function postBatch(): Promise<number> {
    const batch = d.outbox.batch(BATCH);
    const payload = { address: d.address, timestamp: d.nextTimestamp(), receipts: batch.map((e) => e.receipt) };
    const ack = ReceiptsAck.safeParse(await postSigned(d.post, "/providers/v1/receipts", "receipts", payload));
    const accepted = new Set(ack.success ? ack.data.accepted : []);
    for (const id of accepted) rejections.delete(id);
    await d.outbox.settle(
      [...accepted],
      batch.filter((e) => !accepted.has(e.requestId)),
    );
    // Explicit refusals: retried (the gateway may not know this provider yet), then set aside.
    const aside: { entry: OutboxEntry; reason: string }[] = [];
    for (const r of (ack.success && ack.data.rejected) || []) {
      const entry = r.request_id === null ? undefined : batch.find((e) => e.requestId === r.request_id);
      if (!entry || accepted.has(entry.requestId)) continue;
      const count = (rejections.get(entry.requestId) ?? 0) + 1;
      rejections.set(entry.requestId, count);
      if (count >= MAX_REJECTIONS) aside.push({ entry, reason: r.reason });
    }
    if (aside.length > 0) {
      await d.outbox.setAside(aside);
      for (const { entry } of aside) rejections.delete(entry.requestId);
      d.log(
        `${aside.length} receipts refused ${MAX_REJECTIONS} times (${[...new Set(aside.map((a) => a.reason))].join(", ")}); set aside in rejected.jsonl`,
      );
    }
    return batch.filter((e) => accepted.has(e.requestId)).length;
  }

  async function drain(): Promise<{ sent: number; remaining: number }> {
    let sent = 0;
    try {
      // Bounded: one pass over what is pending now, so refused receipts cannot spin the loop.
      for (let rounds = Math.ceil(d.outbox.size / BATCH); rounds > 0 && d.outbox.size > 0; rounds--) sent += await postBatch();
      if (failures > 0) d.log(`receipts accepted again (${d.outbox.size} pending)`);
      failures = 0;
    } catch (err) {
      if (failures === 0) {
        const why = err instanceof GatewayReply && err.status === 404 ? "the gateway has no receipts endpoint yet (404)" : describe(err);
        d.log(`receipts not delivered: ${why}; keeping ${d.outbox.size} in the outbox and retrying`);
      }
      failures++;
    }
    return { sent, remaining: d.outbox.size };
  }

  function flush() {
    running ??= drain().finally(() => {
      running = null;
    });
    return running;
  }

  function schedule() {
    if (stopped) return;
    const delay = failures === 0 ? d.periodMs : Math.max(d.periodMs, backoffMs(failures + 2, 30_000));
    timer = setTimeout(() => {
      const work = d.outbox.size > 0 ? flush() : Promise.resolve();
      void work.finally(schedule);
    }, delay);
  }

  schedule();
  return {
    flush,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
