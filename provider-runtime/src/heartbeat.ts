/**
 * Heartbeats: every --heartbeat-ms, the engine's load (from its /metrics) signed and posted to
 * the gateway. No heartbeat while the engine cannot be scraped: a silent provider goes stale and
 * is not routed to, which is right when its engine is down. A 403 or 404 means the gateway no
 * longer knows this provider (a reset registry): it registers again.
 */
import type { HeartbeatPayload } from "../../workers/core/protocol/provider-messages";
import { scrapeMetrics } from "./engine";
import { GatewayReply, postSigned, type SignedPost } from "./gateway-client";
import { loadFromMetrics } from "./metrics";
import { describe } from "./errors";

export interface HeartbeatDeps {
  providerId: string;
  address: `0x${string}`;
  metricsUrl: string;
  periodMs: number;
  post: SignedPost;
  nextTimestamp: () => number;
  reregister: () => Promise<void>;
  log: (line: string) => void;
}

export interface Heartbeats {
  /** One heartbeat now (the final one carries draining: true); throws when the gateway refuses it. */
  send(draining: boolean): Promise<void>;
  stop(): void;
}

export function startHeartbeats(d: HeartbeatDeps): Heartbeats {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let failing = false;
  let lastLoad: HeartbeatPayload["load"] | null = null;

  async function send(draining: boolean): Promise<void> {
    let load: HeartbeatPayload["load"];
    try {
      load = loadFromMetrics(await scrapeMetrics(d.metricsUrl));
    } catch (err) {
      // Draining still says so, with the last load seen; a live heartbeat needs a live engine.
      if (!draining || !lastLoad) throw new Error(`engine metrics unavailable: ${describe(err)}`);
      load = lastLoad;
    }
    lastLoad = load;
    // Once stopped, only the draining heartbeat may go out: a live one stamped after it would undo it.
    if (stopped && !draining) return;
    const payload: HeartbeatPayload = { id: d.providerId, address: d.address, timestamp: d.nextTimestamp(), load, draining };
    await postSigned(d.post, "/providers/v1/heartbeat", "heartbeat", payload);
  }

  async function tick(): Promise<void> {
    try {
      await send(false);
      if (failing) d.log("heartbeats accepted again");
      failing = false;
    } catch (err) {
      if (stopped) return;
      if (err instanceof GatewayReply && (err.status === 403 || err.status === 404)) {
        d.log(`the gateway does not know this provider (${err.message}); registering again`);
        await d.reregister().catch((e: unknown) => d.log(`re-registration failed: ${describe(e)}`));
      } else if (!failing) d.log(`heartbeat failed: ${describe(err)}`);
      failing = true;
    } finally {
      if (!stopped) timer = setTimeout(() => void tick(), d.periodMs);
    }
  }

  void tick();
  return {
    send,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
