/**
 * The deposit job's confirmations and reorg handling, on a chain of its own (anvil with chain id
 * 31338, so its cursor and deposits never mix with the network's) and the network's Postgres: the
 * job's code run from Node, as the worker runs it.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { OWNER_KEY, OPERATOR_KEY, TREASURY_KEY } from "../../chain/accounts";
import { startAnvil, type Anvil } from "../../chain/anvil";
import { createLocalClients, type LocalClients } from "../../chain/clients";
import { deployMeshgate } from "../../chain/deploy";
import { openNodeDb } from "../../db/node";
import type { DbHandle, WithDb } from "../../db/client";
import { privateKeyToAddress } from "viem/accounts";
import { CUSTOMER_KEY, depositFor, type ChainInfo } from "../../scripts/lib/local-chain";
import type { ChainConfig } from "../../workers/config";
import { chainReader } from "../../workers/adapters/chain/reader";
import { pgChainSyncStore } from "../../workers/adapters/postgres/chain-sync";
import { DeepReorgError } from "../../workers/core/settlement/errors";
import { runChainSync } from "../../workers/jobs/chain-sync";
import { accountToBytes32 } from "../../workers/core/settlement/units";
import { admin } from "../support/network-client";

const dev = inject("dev");
const CONFIRMATIONS = 3;
let anvil: Anvil;
let c: LocalClients;
let info: ChainInfo;
let config: ChainConfig;
let node: DbHandle;
let q: pg.Client;

beforeAll(async () => {
  anvil = await startAnvil({ args: ["--chain-id", "31338"] });
  c = await createLocalClients(anvil.rpcUrl);
  const operator = privateKeyToAddress(OPERATOR_KEY),
    treasury = privateKeyToAddress(TREASURY_KEY);
  const d = await deployMeshgate({
    rpcUrl: anvil.rpcUrl,
    ownerKey: OWNER_KEY,
    operator,
    treasury,
    settlementPeriod: 60,
    disputeWindow: 60,
    withdrawalDelay: 121,
  });
  info = {
    rpcUrl: anvil.rpcUrl,
    chainId: d.chainId,
    usdc: d.usdc,
    settlement: d.settlement,
    deployBlock: d.deployBlock.toString(),
    operator,
    treasury,
    owner: privateKeyToAddress(OWNER_KEY),
  };
  config = {
    rpcUrl: anvil.rpcUrl,
    chainId: d.chainId,
    settlement: d.settlement,
    usdc: d.usdc,
    confirmations: CONFIRMATIONS,
    startBlock: d.deployBlock,
    minStakeBase: 0n,
    maxPayoutsPerBatch: 100,
    settlementWaitMs: 0,
  };
  node = openNodeDb(dev.databaseUrl);
  q = new pg.Client({ connectionString: dev.databaseUrl });
  await q.connect();
});
afterAll(async () => {
  // This chain's job also read every provider's stake (zero here) into the shared database: the
  // network's own job reads them back from the network's chain, so later files route as before.
  await admin(dev, "POST", "/admin/v1/jobs/deposits/run");
  await q?.end();
  await node?.close();
  await anvil?.stop();
});

const withDb: WithDb = (fn) => fn(node.db);
const sync = () => runChainSync({ store: pgChainSyncStore(withDb), chain: chainReader(config), config });

async function newAccount(): Promise<string> {
  return ((await (await admin(dev, "POST", "/admin/v1/accounts", { name: "reorg test" })).json()) as { id: string }).id;
}

async function credited(accountId: string): Promise<bigint> {
  const { rows } = await q.query(
    "select coalesce(sum(amount_pico), 0)::text as b from ledger_entries where account = $1 and kind = 'deposit'",
    [`customer:${accountId}`],
  );
  return BigInt((rows[0] as { b: string }).b);
}

describe("the deposit job on a chain with 3 confirmations", () => {
  it("credits a deposit only once it has 3 confirmations, and only once", async () => {
    const account = await newAccount();
    await depositFor(c, info, CUSTOMER_KEY, accountToBytes32(account), 7_000_000n);
    expect((await sync()).deposits).toBe(0); // 1 confirmation
    await c.testClient.mine({ blocks: 1 });
    expect((await sync()).deposits).toBe(0); // 2
    await c.testClient.mine({ blocks: 1 });
    expect((await sync()).deposits).toBe(1); // 3
    expect((await sync()).deposits).toBe(0);
    expect(await credited(account)).toBe(7_000_000n * 1_000_000n);
  });

  it("never credits a deposit that a reorg inside the window removed, and credits it once when it lands again", async () => {
    const account = await newAccount();
    const fork = await c.testClient.snapshot();
    await depositFor(c, info, CUSTOMER_KEY, accountToBytes32(account), 5_000_000n); // a mint block, then the deposit's
    expect((await sync()).deposits).toBe(0); // the job has read up to the fork point, not past it
    await c.testClient.revert({ id: fork }); // the blocks with the deposit are gone
    await c.testClient.mine({ blocks: 4 }); // another branch, longer, without it
    expect((await sync()).deposits).toBe(0);
    expect(await credited(account)).toBe(0n);
    // The customer deposits again on the surviving branch.
    await depositFor(c, info, CUSTOMER_KEY, accountToBytes32(account), 5_000_000n);
    await c.testClient.mine({ blocks: 2 });
    expect((await sync()).deposits).toBe(1);
    expect((await sync()).deposits).toBe(0);
    expect(await credited(account)).toBe(5_000_000n * 1_000_000n);
  });

  it("stops with an error when a block it already booked is replaced (a reorg deeper than the window)", async () => {
    const fork = await c.testClient.snapshot();
    await c.testClient.mine({ blocks: 5 });
    await sync(); // books through head − 2
    await c.testClient.revert({ id: fork });
    await c.testClient.setNextBlockTimestamp({ timestamp: BigInt(Math.floor(Date.now() / 1000) + 10_000) }); // a different branch
    await c.testClient.mine({ blocks: 6 });
    await expect(sync()).rejects.toBeInstanceOf(DeepReorgError);
  });
});
