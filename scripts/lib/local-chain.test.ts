/**
 * The local chain `npm start` keeps: a restart from anvil's saved state must be recognised as the
 * same chain (so the local database is kept), a deleted state as a new one (so it is reset). Real
 * anvil processes with a real state file, started through the same helper as `npm start`.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type LocalChain, type SavedDeployment, sameChain, startLocalChain } from "./local-chain";

const stateDir = mkdtempSync(path.join(tmpdir(), "mg-local-chain-"));
const chainDir = path.join(stateDir, "chain");
let running: LocalChain | null = null;

async function start(): Promise<LocalChain> {
  running = await startLocalChain({ stateDir, persistent: true });
  return running;
}
async function stop(): Promise<void> {
  await running?.stop();
  running = null;
}
const savedDeployment = () => JSON.parse(readFileSync(path.join(chainDir, "deployment.json"), "utf8")) as SavedDeployment;
// Anvil makes a new genesis block, stamped with the current second, on every start from a state
// file; which one it serves after a reload varies. Restarts a second apart are what `npm start` sees.
const nextSecond = () => new Promise((r) => setTimeout(r, 1_100));

afterAll(async () => {
  await stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("startLocalChain with a persistent state", () => {
  it("resumes the kept chain on every restart, and deploys anew once the state is deleted", { timeout: 60_000 }, async () => {
    const first = await start();
    expect(first.fresh).toBe(true);
    const { rpcUrl: _r, ...deployed } = first.info;
    const settlementCode = await first.clients.publicClient.getCode({ address: first.info.settlement });
    await stop();

    for (let restart = 1; restart <= 6; restart++) {
      await nextSecond();
      const again = await start();
      expect({ restart, fresh: again.fresh }).toEqual({ restart, fresh: false });
      expect(again.info).toEqual({ ...deployed, rpcUrl: again.info.rpcUrl });
      expect(await again.clients.publicClient.getCode({ address: deployed.settlement })).toBe(settlementCode);
      expect(await sameChain(savedDeployment(), again.clients)).toBe(true);
      await stop();
    }

    const old = savedDeployment();
    rmSync(path.join(chainDir, "anvil-state.json"));
    const renewed = await start();
    expect(renewed.fresh).toBe(true);
    // The same deployer and nonces put the same code at the same addresses on a new chain: only the
    // marker written at deployment tells the two chains apart.
    expect(await sameChain(old, renewed.clients)).toBe(false);
    expect(await sameChain(savedDeployment(), renewed.clients)).toBe(true);
    await stop();
  });
});
