/**
 * Leases end to end in Node: isolates (a LeasedGuard and a settle queue each) over one account
 * object (the pure LeasedAdmission with the Durable Object's message handling), on a fake clock.
 */
import { describe, expect, it } from "vitest";
import { type Decision, type GuardAdmit, type KeyLimits, NO_RATE } from "../core/money/admission";
import { type GuardMessage, LeasedAdmission } from "../core/money/lease-book";
import { IDLE_RETURN_MS, LEASE_TTL_MS } from "../core/money/local-lease";
import { type GuardObject, LeasedGuard } from "./leased-guard";
import { SettleQueue } from "./settle-queue";

function network(balancePico: bigint) {
  let clock = 1_000_000;
  const state = new LeasedAdmission(balancePico);
  const calls = { admit: 0, lease: 0, messages: 0 };
  const apply = (ms: GuardMessage[]) => {
    for (const m of ms) {
      if (m.kind === "use") state.use(m, clock);
      else if (m.kind === "return") state.returnLease(m.leaseId, m.spent);
      else state.settle(m.requestId, m.chargePico, m.tokens, clock);
    }
  };
  const tick = () => new Promise<void>((r) => setTimeout(r, 0));
  const object: GuardObject = {
    admit: async (_a, req, ms) => {
      calls.admit++;
      await tick();
      apply(ms);
      return state.admit({ ...req, nowMs: clock });
    },
    lease: async (_a, ask, ms) => {
      calls.lease++;
      await tick();
      apply(ms);
      return state.lease(ask, clock);
    },
    settleMany: async (_a, ms) => {
      calls.messages++;
      await tick();
      apply(ms);
    },
  };
  const background = (p: Promise<unknown>) => void p;
  /** Lets the background work (lease asks, settle flushes) run; idle checks sleep until woken. */
  const settleDown = async () => {
    for (let i = 0; i < 30; i++) await tick();
  };
  const isolate = () =>
    new LeasedGuard(() => object, new SettleQueue({ windowMs: 1, sleep: async () => tick(), now: () => clock }), {
      now: () => clock,
    });
  return {
    state,
    calls,
    background,
    settleDown,
    isolate,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

const key = (over: Partial<KeyLimits> = {}): KeyLimits => ({ keyId: "k", rpm: null, tpm: null, budgetPico: null, ...over });
let seq = 0;
const req = (limits: KeyLimits, reservePico = 10n, reserveTokens = 100): GuardAdmit => ({
  requestId: `r${++seq}`,
  limits,
  reservePico,
  reserveTokens,
  ttlMs: 60_000,
  endpoint: "chat",
});

/** Sequential requests, 100 ms apart, each settled at its worst case right away. */
async function steady(net: ReturnType<typeof network>, g: LeasedGuard, limits: KeyLimits, n: number) {
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) {
    const r = req(limits);
    const d = await g.admit("acct", r, net.background);
    if (d.ok) g.settle("acct", { requestId: r.requestId, chargePico: r.reservePico, tokens: r.reserveTokens }, net.background);
    out.push(d);
    await net.settleDown();
    net.advance(100);
  }
  return out;
}

describe("admission with leases", () => {
  it("steady traffic is admitted from a lease: after the first two requests, no direct call to the object", async () => {
    const net = network(1_000_000n);
    const g = net.isolate();
    await steady(net, g, key(), 2);
    expect(g.held).toBe(1);
    const before = net.calls.admit;
    const out = await steady(net, g, key(), 40);
    expect(out.every((d) => d.ok)).toBe(true);
    expect(net.calls.admit).toBe(before); // every one spent the lease (renewed in the background)
    expect(net.calls.lease).toBeGreaterThan(1);
    // The uses and settles all reached the object: 42 requests charged at 10 each, the lease still held.
    expect(net.state.balance).toBe(1_000_000n - 420n);
    expect(net.state.reservationsList().filter((r) => !r.requestId.startsWith("lease:"))).toEqual([]);
  });

  it("a burst against a balance with a lease held: exactly as many served as worst cases fit, never overspent", async () => {
    const net = network(400n);
    const g = net.isolate();
    await steady(net, g, key(), 4); // 40 spent, a lease held
    expect(g.held).toBe(1);
    const burst = await Promise.all(Array.from({ length: 100 }, () => g.admit("acct", req(key()), net.background)));
    await net.settleDown();
    expect(burst.filter((d) => d.ok)).toHaveLength(36); // (400 − 40) / 10
    expect(net.state.available).toBe(0n);
    expect(net.state.leaseCount).toBe(0); // the direct call that no longer fitted handed it back
  });

  it("rpm with a lease held: exactly the limit, and each served request sees a distinct remaining count", async () => {
    const net = network(1_000_000n);
    const g = net.isolate();
    const limits = key({ rpm: 40 });
    await steady(net, g, limits, 4);
    expect(g.held).toBe(1);
    const burst = await Promise.all(Array.from({ length: 60 }, () => g.admit("acct", req(limits), net.background)));
    const ok = burst.filter((d) => d.ok);
    expect(ok).toHaveLength(36);
    expect(ok.map((d) => d.rate.remainingRequests).sort((a, b) => a! - b!)).toEqual(Array.from({ length: 36 }, (_, i) => i));
    const refused = burst.find((d) => !d.ok);
    expect(refused).toMatchObject({ ok: false, denial: { kind: "rate_limited", limit: "requests" } });
  });

  it("two isolates: leases never let the account go below zero, and a refusal asks for more than half of what is free", async () => {
    const net = network(2_000n);
    const a = net.isolate();
    const b = net.isolate();
    await steady(net, a, key(), 3);
    await steady(net, b, key(), 3);
    expect(net.state.leaseCount).toBe(2);
    const leases = net.state.reservationsList().filter((r) => r.requestId.startsWith("lease:"));
    const leased = leases.reduce((s, r) => s + r.amountPico, 0n);
    const trulyFree = net.state.available + leased;
    // The leases together hold at most half of what is free plus leased.
    expect(leased * 2n).toBeLessThanOrEqual(trulyFree);
    // b's direct call hands its own lease back first: what it may have is all but a's lease (the first granted).
    const aLease = leases[0]!.amountPico;
    const tooBig = req(key(), trulyFree - aLease + 1n);
    expect((await b.admit("acct", tooBig, net.background)).ok).toBe(false); // a false refusal, bounded:
    expect(tooBig.reservePico * 2n).toBeGreaterThan(trulyFree); // it asked for more than half of what was free
    const fits = req(key(), trulyFree - aLease);
    expect((await b.admit("acct", fits, net.background)).ok).toBe(true);
    await net.settleDown();
    expect(net.state.available).toBeGreaterThanOrEqual(0n);
  });

  it("an idle lease goes back with the isolate's next request; a lease whose isolate went quiet expires in the object", async () => {
    const net = network(1_000_000n);
    const g = net.isolate();
    await steady(net, g, key(), 3);
    expect(net.state.leaseCount).toBe(1);
    net.advance(IDLE_RETURN_MS);
    const other = req({ ...key(), keyId: "other" });
    expect((await g.admit("acct", other, net.background)).ok).toBe(true); // another key's request notices it
    g.settle("acct", { requestId: other.requestId, chargePico: 0n, tokens: 0 }, net.background);
    await net.settleDown();
    expect([g.held, net.state.leaseCount, net.state.reservedPico]).toEqual([0, 0, 0n]);

    const gone = net.isolate();
    await steady(net, gone, key(), 3);
    expect(net.state.leaseCount).toBe(1);
    net.advance(LEASE_TTL_MS);
    net.state.expire(1e15);
    expect([net.state.leaseCount, net.state.reservedPico]).toEqual([0, 0n]);
  });

  it("leases off: every admission is a direct call", async () => {
    const net = network(1_000_000n);
    const g = new LeasedGuard(() => ({ ...dummy }), new SettleQueue(), { leases: false });
    const dummy: GuardObject = {
      admit: async () => ({ ok: true, rate: NO_RATE }),
      lease: async () => {
        throw new Error("no leases asked when they are off");
      },
      settleMany: async () => undefined,
    };
    for (let i = 0; i < 5; i++) expect((await g.admit("acct", req(key()), net.background)).ok).toBe(true);
    await net.settleDown();
    expect(g.held).toBe(0);
  });
});
