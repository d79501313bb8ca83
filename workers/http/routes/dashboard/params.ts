/**
 * The dashboard's query parameters. The usage filters are the Finance API's own (`from`, `to`,
 * `group_by`, `model`, `key_id`, `provider_id`, with the same defaults), so the page's CSV link
 * and /finance/v1/usage?format=csv with the same query return the same rows.
 */
import { z } from "zod";
import { reportRange } from "../../../core/finance/range";
import type { FinanceScope, UsageGroup } from "../../../core/finance/views";
import type { FinanceSession } from "./session";

const HOUR_MS = 3_600_000;

const DateParam = z
  .union([z.iso.date(), z.iso.datetime({ offset: true })])
  .transform((s) => new Date(s.length === 10 ? `${s}T00:00:00Z` : s));
const Optional = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === "" ? undefined : v), t.optional());

export const UsageFilters = z.object({
  from: Optional(DateParam),
  to: Optional(DateParam),
  group_by: z.enum(["day", "hour", "model", "key", "provider"]).catch("day"),
  model: Optional(z.string().min(1).max(200)),
  key_id: Optional(z.uuid()),
  provider_id: Optional(z.string().max(100)),
});
export type UsageFilters = z.infer<typeof UsageFilters>;

export interface UsageQueryOf {
  from: Date;
  to: Date;
  groupBy: UsageGroup;
  model?: string;
  keyId?: string;
  providerId?: string;
}

/** The filters as a usage query, over the Finance API's default range and limits. */
export function usageQueryOf(f: UsageFilters, nowMs: number): UsageQueryOf | { error: string } {
  const r = reportRange(f, nowMs, f.group_by === "hour");
  if ("error" in r) return { error: r.message };
  return {
    from: r.from,
    to: r.to,
    groupBy: f.group_by,
    model: f.model,
    keyId: f.key_id,
    // "none": requests no provider served (stored as "").
    providerId: f.provider_id === "none" ? "" : f.provider_id,
  };
}

/** The overview's windows: whole hours, ending with the current one. */
export const OVERVIEW_RANGES = {
  "24h": { hours: 24, grain: "hour" },
  "7d": { hours: 24 * 7, grain: "day" },
  "30d": { hours: 24 * 30, grain: "day" },
} as const;
export type OverviewRange = keyof typeof OVERVIEW_RANGES;

export function overviewWindow(range: OverviewRange, nowMs: number): { from: Date; to: Date; grain: "hour" | "day" } {
  const { hours, grain } = OVERVIEW_RANGES[range];
  const toMs = Math.floor(nowMs / HOUR_MS) * HOUR_MS + HOUR_MS;
  return { from: new Date(toMs - hours * HOUR_MS), to: new Date(toMs), grain };
}

export const scopeOf = (s: FinanceSession): FinanceScope =>
  s.scope === "all" ? { kind: "all" } : { kind: "account", accountId: s.accountId };

/** A query string from defined values only. */
export function queryString(params: Record<string, string | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
