/**
 * Dashboard sign-in tokens. The browser's cookie holds 32 random bytes (base64url); Postgres holds
 * only their SHA-256, so a database read does not yield a usable session.
 */
import { encodeBase64url } from "../protocol/base64url";
import { sha256Hex } from "./keys";

export const SESSION_COOKIE = "mg_session";
/** A signed-in dashboard lasts a working day; signing out ends it sooner. */
export const SESSION_TTL_MS = 12 * 60 * 60 * 1000;

export function newSessionToken(): string {
  return encodeBase64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The stored form of a token; null for anything that cannot be one of ours (43 base64url chars). */
export async function sessionTokenHash(token: string | undefined): Promise<string | null> {
  if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return null;
  return sha256Hex(token);
}

/** A live dashboard session: a finance key's (with the key's facts) or a provider wallet's. */
export type DashboardSession =
  | { kind: "finance"; keyId: string; accountId: string; scope: "account" | "all"; keyName: string; keyPrefix: string }
  | { kind: "provider"; providerId: string; address: string };

export type NewDashboardSession =
  | { kind: "finance"; tokenHash: string; keyId: string; expiresAt: Date }
  | { kind: "provider"; tokenHash: string; providerId: string; expiresAt: Date };
