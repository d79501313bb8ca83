/** Builders shared by the AccountAdmission tests: a key's limits and an admission request, with defaults to override. */
import type { AdmitRequest, KeyLimits } from "./admission";

const TTL = 30_000;

export const limits = (over: Partial<KeyLimits> = {}): KeyLimits => ({ keyId: "k1", rpm: null, tpm: null, budgetPico: null, ...over });

export const req = (requestId: string, over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  requestId,
  limits: limits(),
  reservePico: 100n,
  reserveTokens: 0,
  nowMs: 0,
  ttlMs: TTL,
  ...over,
});
