/**
 * The account guard's storage writes are coalesced: a burst of admissions is a few storage calls
 * (one commit per flush interval), not one put per request and one delete per settle; what storage
 * holds afterwards (what a restart would restore) is exactly the unsettled reservations.
 */
import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AccountGuard } from "../../workers/adapters/account-guard/account-guard";
import { env, newKey, until } from "../support/workerd/gateway";

const N = 200;

async function storageSpy(stub: DurableObjectStub<AccountGuard>) {
  const calls = { put: 0, delete: 0 };
  await runInDurableObject(stub, (_instance, state) => {
    const storage = state.storage;
    const put = storage.put.bind(storage) as (...a: unknown[]) => Promise<void>;
    const del = storage.delete.bind(storage) as (...a: unknown[]) => Promise<unknown>;
    Object.assign(storage, {
      put: (...a: unknown[]) => {
        calls.put++;
        return put(...a);
      },
      delete: (...a: unknown[]) => {
        calls.delete++;
        return del(...a);
      },
    });
  });
  return calls;
}

const stored = (stub: DurableObjectStub<AccountGuard>) =>
  runInDurableObject(stub, async (_instance, state) => [...(await state.storage.list({ prefix: "r:" })).keys()].sort());

describe("the account guard's storage writes", () => {
  it(`${N} parallel admissions and their settles are a few coalesced storage calls; storage holds the unsettled ones`, async () => {
    const { accountId, keyId } = await newKey("Coalesced writes");
    const stub = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(accountId)) as DurableObjectStub<AccountGuard>;
    await stub.snapshot(accountId); // loaded before the spy goes in
    const calls = await storageSpy(stub);
    const ids = Array.from({ length: N }, (_, i) => `gen-coalesce-${i}-${crypto.randomUUID()}`);
    const limits = { keyId, rpm: null, tpm: null, budgetPico: null };
    // Straight into the object (its own isolate, one turn): the arrival spread of RPCs out of the picture.
    const decisions = await runInDurableObject(stub, (guard) =>
      Promise.all(
        ids.map((requestId) =>
          guard.admit(accountId, { requestId, limits, reservePico: 1_000n, reserveTokens: 10, ttlMs: 600_000, endpoint: "chat" }),
        ),
      ),
    );
    expect(decisions.every((d) => d.ok)).toBe(true);
    await until("every reservation in storage", async () => (await stored(stub)).length === N, 5_000);
    expect(calls.put).toBe(Math.ceil(N / 128)); // one put per request before; one per 128 keys of one flush now

    const kept = ids.slice(0, 10);
    await stub.settleMany(
      accountId,
      ids.slice(10).map((requestId) => ({ requestId, chargePico: 600n, tokens: 8 })),
    );
    await until("the settled reservations deleted", async () => (await stored(stub)).length === kept.length, 5_000);
    expect(await stored(stub)).toEqual(kept.map((id) => `r:${id}`).sort());
    expect(calls.delete).toBe(Math.ceil((N - kept.length) / 128));
    expect(await stub.snapshot(accountId)).toMatchObject({ reservedPico: 10_000n });
  });

  it("a request that settles within the flush interval never reaches storage", async () => {
    const { accountId, keyId } = await newKey("Quick requests");
    const stub = env.ACCOUNT_GUARD.get(env.ACCOUNT_GUARD.idFromName(accountId)) as DurableObjectStub<AccountGuard>;
    await stub.snapshot(accountId);
    const calls = await storageSpy(stub);
    const ids = Array.from({ length: 20 }, (_, i) => `gen-quick-${i}-${crypto.randomUUID()}`);
    const limits = { keyId, rpm: null, tpm: null, budgetPico: null };
    await runInDurableObject(stub, async (guard) => {
      for (const requestId of ids) {
        await guard.admit(accountId, { requestId, limits, reservePico: 1_000n, reserveTokens: 10, ttlMs: 600_000, endpoint: "chat" });
      }
      await guard.settleMany(
        accountId,
        ids.map((requestId) => ({ requestId, chargePico: 1n, tokens: 1 })),
      );
    });
    await new Promise((r) => setTimeout(r, 100));
    expect([calls.put, calls.delete, (await stored(stub)).length]).toEqual([0, 0, 0]);
    expect(await stub.snapshot(accountId)).toMatchObject({ reservedPico: 0n });
  });
});
