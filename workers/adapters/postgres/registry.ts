/** The provider side of the registry: self-registration, heartbeats and receipts. */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { EndpointHolder, Heartbeat, RegisterOutcome, Registration } from "../../core/protocol/registration";
import type { Db } from "../../../db/client";
import { providerModels, providers, receipts, usageEvents, reservations } from "../../../db/schema";
import type { BilledUsage, ReceiptRecord, ReservationRecord, StoredReceipt } from "../../core/metering/records";

/** Declared in core (the receipt decision reads it); named here too for the ports that import it from this file. */

/**
 * Binds the provider id to the wallet at first registration; later registrations must come
 * from the same wallet. Binds the (normalised, challenged) endpoint to the provider: another
 * provider's registration of it is refused. One transaction: the endpoint's advisory lock and the
 * row lock serialise racing registrations (and the unique index on `endpoint` backs them).
 */
export async function registerProvider(db: Db, r: Registration): Promise<RegisterOutcome> {
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`endpoint:${r.url}`}, 0))`);
    const [existing] = await tx.select().from(providers).where(eq(providers.id, r.id)).for("update");
    const address = r.address.toLowerCase();
    if (existing?.address && existing.address !== address) return "address_mismatch";
    const [holder] = await tx.select({ id: providers.id }).from(providers).where(eq(providers.endpoint, r.url));
    if (holder && holder.id !== r.id) return "endpoint_taken";
    if (existing && existing.lastMessageAtMs >= r.messageAtMs) return "stale";
    const [other] = await tx.select({ id: providers.id }).from(providers).where(eq(providers.address, address));
    if (other && other.id !== r.id) return "address_in_use";
    const values = {
      address,
      url: r.url,
      endpoint: r.url,
      region: r.region,
      gpu: r.gpu,
      maxConcurrency: r.maxConcurrency,
      maxWaitingRequests: Math.max(1, r.maxConcurrency),
      draining: false,
      lastMessageAtMs: r.messageAtMs,
      lastHeartbeatAt: new Date(),
      updatedAt: new Date(),
    };
    if (existing) await tx.update(providers).set(values).where(eq(providers.id, r.id));
    else await tx.insert(providers).values({ id: r.id, ...values });
    await tx.delete(providerModels).where(eq(providerModels.providerId, r.id));
    await tx.insert(providerModels).values(r.models.map((m) => ({ ...m, providerId: r.id })));
    return existing ? "updated" : "created";
  });
}

/** What a registration is checked against before its challenge is sent (registerProvider checks again). */
export async function providerClaims(
  db: Db,
  id: string,
  endpoint: string,
): Promise<{ boundAddress?: string | null; endpointHolder: EndpointHolder | null }> {
  const rows = await db
    .select({ id: providers.id, address: providers.address, endpoint: providers.endpoint })
    .from(providers)
    .where(sql`${providers.id} = ${id} or ${providers.endpoint} = ${endpoint}`);
  const self = rows.find((p) => p.id === id);
  const holder = rows.find((p) => p.endpoint === endpoint);
  return {
    ...(self ? { boundAddress: self.address } : {}),
    endpointHolder: holder ? { id: holder.id, address: holder.address } : null,
  };
}

/** Applies a heartbeat only from the bound wallet and only if newer than the last message. */
export async function recordHeartbeat(db: Db, h: Heartbeat): Promise<"ok" | "unknown" | "stale"> {
  const updated = await db
    .update(providers)
    .set({
      lastHeartbeatAt: new Date(),
      lastMessageAtMs: h.messageAtMs,
      runningRequests: h.running,
      waitingRequests: h.waiting,
      kvCacheUsage: h.kvCacheUsage,
      tokensServed: h.tokensServed,
      draining: h.draining,
      updatedAt: new Date(),
    })
    .where(
      and(eq(providers.id, h.id), eq(providers.address, h.address.toLowerCase()), sql`${providers.lastMessageAtMs} < ${h.messageAtMs}`),
    )
    .returning({ id: providers.id });
  if (updated.length) return "ok";
  const [p] = await db.select({ address: providers.address }).from(providers).where(eq(providers.id, h.id));
  return p?.address === h.address.toLowerCase() ? "stale" : "unknown";
}

export async function providerByAddress(db: Db, address: string) {
  const [p] = await db
    .select({ id: providers.id, address: providers.address })
    .from(providers)
    .where(eq(providers.address, address.toLowerCase()));
  return p ?? null;
}

/**
 * Stores receipts once (request id, digest), and marks the usage events of those stored now
 * verified or not. A row whose insert conflicted (its request already has a receipt) changes
 * nothing: a stored verdict is changed only by the receipt that produced it. Resolves to the
 * request ids stored by this call.
 */
export async function storeReceipts(db: Db, rows: readonly ReceiptRecord[]): Promise<string[]> {
  if (rows.length === 0) return [];
  const inserted = await db
    .insert(receipts)
    .values([...rows])
    .onConflictDoNothing()
    .returning({ requestId: receipts.requestId, digest: receipts.digest });
  // The row that was written for each request id (a batch can carry two for one request).
  const written = new Set(inserted.map((r) => `${r.requestId} ${r.digest}`));
  const stored = rows.filter((r) => written.delete(`${r.requestId} ${r.digest}`));
  for (const status of ["verified", "mismatch"] as const) {
    const ids = stored.filter((r) => r.status === status).map((r) => r.requestId);
    if (ids.length === 0) continue;
    await db
      .update(usageEvents)
      .set({ receiptStatus: status === "verified" ? "verified" : "unverified" })
      .where(inArray(usageEvents.requestId, ids));
  }
  return stored.map((r) => r.requestId);
}

/** The billed counts of these requests' usage events, for judging outbox receipts. */
export async function usageFor(db: Db, requestIds: string[]): Promise<Map<string, BilledUsage>> {
  const out = new Map<string, BilledUsage>();
  if (requestIds.length === 0) return out;
  const rows = await db
    .select({
      requestId: usageEvents.requestId,
      accountId: usageEvents.accountId,
      providerId: usageEvents.providerId,
      promptTokens: usageEvents.promptTokens,
      completionTokens: usageEvents.completionTokens,
      costPico: usageEvents.costPico,
      feePico: usageEvents.feePico,
      errorCode: usageEvents.errorCode,
    })
    .from(usageEvents)
    .where(inArray(usageEvents.requestId, requestIds));
  for (const r of rows) out.set(r.requestId, r);
  return out;
}

/** Reservations of these requests (who they belong to, the most they may cost, whether they reported back). */
export async function reservationsFor(db: Db, requestIds: string[]): Promise<Map<string, ReservationRecord>> {
  const out = new Map<string, ReservationRecord>();
  if (requestIds.length === 0) return out;
  const rows = await db.select().from(reservations).where(inArray(reservations.requestId, requestIds));
  for (const r of rows) {
    out.set(r.requestId, {
      accountId: r.accountId,
      keyId: r.keyId,
      endpoint: r.endpoint,
      amountPico: r.amountPico,
      createdAtMs: r.createdAt.getTime(),
      settled: r.settledAt !== null,
    });
  }
  return out;
}

/** The receipts already stored for these requests (digest, signature, verdict, claim), to skip judging one twice. */
export async function storedReceipts(db: Db, requestIds: string[]): Promise<Map<string, StoredReceipt>> {
  const out = new Map<string, StoredReceipt>();
  if (requestIds.length === 0) return out;
  const rows = await db
    .select({
      requestId: receipts.requestId,
      digest: receipts.digest,
      signature: receipts.signature,
      status: receipts.status,
      model: receipts.model,
      promptTokens: receipts.promptTokens,
      completionTokens: receipts.completionTokens,
      inputPrice: receipts.inputPrice,
      outputPrice: receipts.outputPrice,
      responseHash: receipts.responseHash,
    })
    .from(receipts)
    .where(inArray(receipts.requestId, requestIds));
  for (const { requestId, ...stored } of rows) out.set(requestId, stored);
  return out;
}

export async function receiptFor(db: Db, requestId: string) {
  const [r] = await db.select().from(receipts).where(eq(receipts.requestId, requestId));
  return r ?? null;
}
