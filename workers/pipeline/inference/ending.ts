/**
 * How a request ends, exactly once: `finish` behind a guard, so that the path that finishes first
 * (the response, a failure, or the client leaving) is the only one metered and settled.
 *
 * A client that leaves before the first byte was served is finished at once, from its signal's abort
 * event — in workerd the handler is not resumed once its client is gone, so waiting for the provider
 * would leave the reservation held: `failed` / `client_disconnected`, cost 0, the reservation
 * released. A provider that had already started generating is owed nothing here (a failed request
 * costs nothing); what it signs for such a request is judged by the receipts path.
 */
import type { UsageRecord } from "../../core/metering/usage";
import type { Deps } from "../../ports";
import { NOTHING_RESERVED, reservationOf, type Admitted } from "./admit";
import { finish, type Exchange, type Outcome } from "./finish";
import type { InferenceCall } from "./validate";

export interface Ending {
  /** The exchange the request ends as: the first, or the continuation that took over (continuedAs). */
  readonly x: Exchange;
  /** The request has been finished (metered and settled). */
  readonly done: boolean;
  /** Finishes the request unless it already was; null when it already was. */
  finish(o: Outcome): UsageRecord | null;
  /** The client left: finish as client_disconnected (nothing served) and answer nobody. */
  clientLeft(): Response;
  /** Runs once when the request is finished, or when watching stops. */
  onEnd(fn: () => void): void;
  /** Stop watching the client (refused, or the relay owns its abort from here). */
  stopWatching(): void;
  /**
   * A continuation took over: the part that broke was metered as `metered`; the request now ends
   * as `next` (its own request id and provider), settled once with every part's charge.
   */
  continuedAs(next: Exchange, metered: UsageRecord): void;
}

/** While admission is in flight its answer may never reach this handler: release by request id (a no-op if nothing was reserved). */
export function releaseById(deps: Pick<Deps, "guard" | "cfg">, call: InferenceCall): Admitted {
  return deps.cfg.admission === "off" ? NOTHING_RESERVED : reservationOf(deps, call, {});
}

export function endOnce(deps: Deps, x: Exchange): Ending {
  let done = false;
  let current = x;
  const prior: UsageRecord[] = [];
  const ends: (() => void)[] = [];
  const stopWatching = () => {
    for (const fn of ends.splice(0)) fn();
  };
  const end: Ending = {
    get x() {
      return current;
    },
    get done() {
      return done;
    },
    finish(o) {
      if (done) return null;
      done = true;
      stopWatching();
      return finish(deps, current, o, prior);
    },
    clientLeft() {
      end.finish({
        observed: { reported: null, deliveredTokens: 0, promptEstimate: current.req.promptTokens, complete: false },
        errorCode: "client_disconnected",
        endedAtMs: deps.now(),
        receipt: null,
      });
      return gone();
    },
    onEnd: (fn) => void ends.push(fn),
    stopWatching,
    continuedAs(next, metered) {
      current = next;
      prior.push(metered);
    },
  };
  return end;
}

/** The answer to a client that is no longer there (nginx's 499); nobody reads it. */
export const gone = (): Response => new Response(null, { status: 499 });
