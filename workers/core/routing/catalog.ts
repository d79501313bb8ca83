/** The models the network serves now: any offer with a fresh heartbeat (or probe) that is not suspended. */
import { isFresh, PROBED_FRESH_MS } from "./health";
import type { Endpoint, RouteTable } from "./types";

export interface ServedModel {
  model: string;
  providers: number;
  endpoints: Endpoint[];
  contextLength: number;
  inputPrice: { min: bigint; max: bigint };
  outputPrice: { min: bigint; max: bigint };
}

export function listServedModels(
  table: RouteTable,
  nowMs: number,
  heartbeatFreshMs = 30_000,
  probedFreshMs = PROBED_FRESH_MS,
): ServedModel[] {
  const byModel = new Map<string, ServedModel>();
  for (const o of table.offers) {
    if (o.suspended || !isFresh(o, nowMs, { heartbeatFreshMs, probedFreshMs })) continue;
    const m = byModel.get(o.model);
    if (!m) {
      byModel.set(o.model, {
        model: o.model,
        providers: 1,
        endpoints: [...o.endpoints],
        contextLength: o.contextLength,
        inputPrice: { min: o.inputPrice, max: o.inputPrice },
        outputPrice: { min: o.outputPrice, max: o.outputPrice },
      });
      continue;
    }
    m.providers++;
    for (const e of o.endpoints) if (!m.endpoints.includes(e)) m.endpoints.push(e);
    m.contextLength = Math.max(m.contextLength, o.contextLength);
    m.inputPrice = { min: min(m.inputPrice.min, o.inputPrice), max: max(m.inputPrice.max, o.inputPrice) };
    m.outputPrice = { min: min(m.outputPrice.min, o.outputPrice), max: max(m.outputPrice.max, o.outputPrice) };
  }
  return [...byModel.values()].sort((a, b) => a.model.localeCompare(b.model));
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);
const max = (a: bigint, b: bigint) => (a > b ? a : b);
