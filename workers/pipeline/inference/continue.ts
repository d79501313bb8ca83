/**
 * Mid-stream continuation: a stream that broke or stalled after bytes reached the client is
 * continued on another provider of the same model. The continuation is a new upstream request —
 * its own request id (`<rid>.1`), the original request plus the partial assistant output as a
 * prefill (core/openai/continuation), the cap lowered by what was delivered, the providers that
 * already served it excluded — whose stream the relay splices into the client's. The part that
 * broke is metered at once as it would have been (partial, billed as delivered, its receipt judged);
 * the continuation is metered as its own usage event when the stream ends, and the admission is
 * settled once with the sum (./ending.ts).
 */
import { estimatePromptTokens } from "../../core/money/estimate";
import { costPico } from "../../core/money/pricing";
import { formatUsdc } from "../../core/money/units";
import type { TokenCounts } from "../../core/openai/chunks";
import { continuationBody, continuationRequestId, remainingCap, sumCounts, whyNotContinue } from "../../core/openai/continuation";
import type { Deps } from "../../ports";
import type { Ending } from "./ending";
import { meter, type Exchange, type ServedBy } from "./finish";
import { forward, type Served } from "./forward";
import type { CutPart, RelayPart } from "./relay";

/** How many times one answer may be continued. */
export const MAX_CONTINUATIONS = 2;

export const servedBy = (s: Served): ServedBy => ({
  offer: s.offer,
  model: s.model,
  ttftMs: s.reply.firstByteAtMs - s.reply.sentAtMs,
  firstByteAtMs: s.reply.firstByteAtMs,
});

/**
 * The relay's `continueAfter` for one request, first served by `first`. The route table is read
 * again: the one the request started with may be older than the providers' heartbeats allow.
 */
export function continuer(deps: Deps, end: Ending, first: Served): (cut: CutPart) => Promise<RelayPart | null> {
  const x0 = end.x;
  const excluded = [first.offer.providerId];
  let current: Exchange = x0;
  let carried: TokenCounts = { promptTokens: 0, completionTokens: 0 };
  let carriedPico = 0n;
  let deliveredBefore = 0;
  let n = 0;

  return async (cut) => {
    const req = x0.req;
    const delivered = deliveredBefore + cut.deliveredTokens;
    const why = whyNotContinue(
      {
        endpoint: req.endpoint,
        stream: req.stream,
        body: req.body,
        maxOutputTokens: req.maxOutputTokens,
        optIn: req.steering?.continuation,
      },
      cut.transcript,
      delivered,
    );
    if (why !== null || n >= MAX_CONTINUATIONS || end.done || req.endpoint === "embeddings") return null;
    const cap = remainingCap(req.maxOutputTokens, delivered);
    const body = continuationBody(req.endpoint, req.body, cut.transcript.text, cap);
    const requestId = continuationRequestId(x0.call.requestId, n + 1);
    const startedAtMs = deps.now();
    const contReq = {
      ...req,
      body,
      models: [current.served?.model ?? req.models[0] ?? ""],
      maxOutputTokens: cap,
      promptTokens: estimatePromptTokens(body),
    };
    const got = await forward(
      deps,
      { ...contReq, requestId, edge: x0.call.edge, signal: x0.call.signal, startedAtMs: x0.call.startedAtMs, excludeProviderIds: excluded },
      await deps.routes.table(x0.call.edge),
    );
    if (!got.ok) return null; // nobody could continue (none left, or the fallback refused the prefill)
    if (got.reply.kind !== "stream" || end.done) {
      if (got.reply.kind === "stream") {
        got.reply.abort("client_disconnected");
        got.reply.reader.cancel().catch(() => undefined);
      }
      return null;
    }
    // The part that broke is metered now, as it would have been finished; the request goes on as the continuation.
    const metered = meter(deps, current, {
      observed: { reported: cut.reported, deliveredTokens: cut.deliveredTokens, promptEstimate: current.req.promptTokens, complete: false },
      errorCode: cut.errorCode,
      endedAtMs: cut.endedAtMs,
      receipt: cut.receipt,
    });
    current = {
      call: { ...x0.call, requestId, startedAtMs },
      req: contReq,
      admitted: x0.admitted,
      attempts: got.attempts,
      served: servedBy(got),
    };
    end.continuedAs(current, metered);
    carried = sumCounts(carried, { promptTokens: metered.promptTokens, completionTokens: metered.completionTokens });
    carriedPico += metered.costPico;
    deliveredBefore = delivered;
    excluded.push(got.offer.providerId);
    n++;
    const offer = got.offer;
    const before = carriedPico;
    return {
      first: got.reply.first,
      reader: got.reply.reader,
      abortUpstream: got.reply.abort,
      costOf: (t) => formatUsdc(before + costPico(t, offer)),
      carried,
    };
  };
}
