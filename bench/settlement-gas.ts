/**
 * `npm run bench` (last part): what settling on chain costs, from receipts on a local anvil.
 *
 *  - `settle` gasUsed for 1, 10, 100 and 500 providers, first-time payees (an earnings slot goes from
 *    zero to nonzero) and known payees (the same providers, next period), and the marginal gas per payout
 *    ((gas(N) − gas(1)) / (N − 1)).
 *  - The largest batch whose gas fits a cap: a binary search over eth_estimateGas (what a sender must
 *    set as the gas limit), beside the extrapolation from the marginal.
 *  - Cost of one period: `--requests` requests spread over N providers settle in one `settle`; against
 *    one USDC transfer (or one EIP-3009 transfer, x402-style) per request.
 *  - Gas of deposit, depositWithPermit, stake and withdrawEarnings.
 *
 * Flags: --gas-price-gwei 0.01  --eth-usd 3000  --requests 1000000  --gas-cap 15000000
 * L2 execution gas only: anvil simulates no L1 data fee (an OP-stack chain adds one for calldata).
 */
import { parseArgs } from "node:util";
import { getAddress, keccak256, maxUint256, parseSignature, toHex, type Address, type Hash } from "viem";
import { ANVIL_KEYS, OPERATOR_KEY, OWNER_KEY, TREASURY_KEY, devAccount } from "../chain/accounts";
import { startAnvil } from "../chain/anvil";
import { createLocalClients, type LocalClients } from "../chain/clients";
import { deployMeshgate } from "../chain/deploy";
import { MockUSDC, Settlement } from "../contracts/generated/artifacts";
import { usdcPermit } from "../chain/permit";
import { cleanups, runBench } from "./lib/harness";
import { fmt, int, table } from "./lib/table";

const { values: flags } = parseArgs({
  options: {
    "gas-price-gwei": { type: "string", default: "0.01" },
    "eth-usd": { type: "string", default: "3000" },
    requests: { type: "string", default: "1000000" },
    "gas-cap": { type: "string", default: "15000000" },
  },
});
const GAS_PRICE_GWEI = Number(flags["gas-price-gwei"]);
const ETH_USD = Number(flags["eth-usd"]);
const REQUESTS = Number(flags.requests);
const GAS_CAP = BigInt(flags["gas-cap"]);
const SIZES = [1, 10, 100, 500];
const usdPerGas = GAS_PRICE_GWEI * 1e-9 * ETH_USD;
const usd = (gas: number) => (gas * usdPerGas < 0.01 ? `$${(gas * usdPerGas).toPrecision(2)}` : `$${fmt(gas * usdPerGas)}`);

let batchNo = 0;
const nextBatch = () => keccak256(toHex(`bench-batch-${++batchNo}`));
/** `count` addresses nobody has used, from a labelled range. */
const addresses = (label: string, count: number): Address[] =>
  Array.from({ length: count }, (_, i) => getAddress(`0x${keccak256(toHex(`${label}-${i}`)).slice(26)}`));

async function main(): Promise<string> {
  const anvil = await startAnvil();
  cleanups.push(() => anvil.stop());
  const c = await createLocalClients(anvil.rpcUrl);
  const [operator, treasury] = [devAccount(1).address, devAccount(2).address];
  const d = await deployMeshgate({
    rpcUrl: anvil.rpcUrl,
    ownerKey: OWNER_KEY,
    operator,
    treasury,
    settlementPeriod: 3600,
    disputeWindow: 3600,
    withdrawalDelay: 7201,
  });
  const gasOf = async (hash: Promise<Hash>) => {
    const r = await c.publicClient.waitForTransactionReceipt({ hash: await hash });
    if (r.status !== "success") throw new Error(`transaction ${r.transactionHash} reverted`);
    return Number(r.gasUsed);
  };
  const customer = c.walletClient(ANVIL_KEYS[3]);
  const provider = c.walletClient(ANVIL_KEYS[4]);
  const op = c.walletClient(OPERATOR_KEY);
  const usdcAs = (w: ReturnType<LocalClients["walletClient"]>) =>
    ({ address: d.usdc, abi: MockUSDC.abi, account: w.account, chain: c.chain }) as const;
  const settlementAs = (w: ReturnType<LocalClients["walletClient"]>) =>
    ({ address: d.settlement, abi: Settlement.abi, account: w.account, chain: c.chain }) as const;

  // Customer funds: enough for every batch below. The first deposit ever also turns escrow and the
  // contract's USDC balance nonzero (one-off); then a new account and a top-up are measured.
  await gasOf(customer.writeContract({ ...usdcAs(customer), functionName: "mint", args: [customer.account.address, 10n ** 15n] }));
  await gasOf(customer.writeContract({ ...usdcAs(customer), functionName: "approve", args: [d.settlement, maxUint256] }));
  const ops: [string, number][] = [];
  const account = (s: string) => keccak256(toHex(s));
  ops.push([
    "deposit (first ever)",
    await gasOf(customer.writeContract({ ...settlementAs(customer), functionName: "deposit", args: [account("first"), 1n] })),
  ]);
  ops.push([
    "deposit (new account)",
    await gasOf(customer.writeContract({ ...settlementAs(customer), functionName: "deposit", args: [account("a"), 10n ** 14n] })),
  ]);
  ops.push([
    "deposit (top-up)",
    await gasOf(customer.writeContract({ ...settlementAs(customer), functionName: "deposit", args: [account("a"), 10n ** 14n] })),
  ]);

  // depositWithPermit from a fresh holder (a new account), permit signed with viem.
  const deadline = (await c.publicClient.getBlock()).timestamp + 3600n;
  await gasOf(provider.writeContract({ ...usdcAs(provider), functionName: "mint", args: [provider.account.address, 10n ** 12n] }));
  const permit = parseSignature(
    await provider.signTypedData(
      usdcPermit({
        chainId: c.chain.id,
        usdc: d.usdc,
        owner: provider.account.address,
        spender: d.settlement,
        value: 10n ** 9n,
        nonce: 0n,
        deadline,
      }),
    ),
  );
  ops.push([
    "depositWithPermit (new account, first permit)",
    await gasOf(
      provider.writeContract({
        ...settlementAs(provider),
        functionName: "depositWithPermit",
        args: [account("p"), 10n ** 9n, deadline, 27 + permit.yParity, permit.r, permit.s],
      }),
    ),
  ]);
  await gasOf(provider.writeContract({ ...usdcAs(provider), functionName: "approve", args: [d.settlement, maxUint256] }));
  ops.push(["stake (first)", await gasOf(provider.writeContract({ ...settlementAs(provider), functionName: "stake", args: [10n ** 9n] }))]);

  // Per-request alternatives: a plain USDC transfer and an EIP-3009 transferWithAuthorization.
  const [fresh, known] = addresses("transfer", 2) as [Address, Address];
  await gasOf(customer.writeContract({ ...usdcAs(customer), functionName: "transfer", args: [known, 1n] }));
  const transferNew = await gasOf(customer.writeContract({ ...usdcAs(customer), functionName: "transfer", args: [fresh, 1_000n] }));
  const transferKnown = await gasOf(customer.writeContract({ ...usdcAs(customer), functionName: "transfer", args: [known, 1_000n] }));
  const auth = {
    from: customer.account.address,
    to: known,
    value: 1_000n,
    validAfter: 0n,
    validBefore: deadline,
    nonce: keccak256(toHex("x402")),
  };
  const authSig = parseSignature(
    await customer.signTypedData({
      domain: { name: "USD Coin", version: "2", chainId: c.chain.id, verifyingContract: d.usdc },
      primaryType: "TransferWithAuthorization",
      types: {
        TransferWithAuthorization: [
          { name: "from", type: "address" },
          { name: "to", type: "address" },
          { name: "value", type: "uint256" },
          { name: "validAfter", type: "uint256" },
          { name: "validBefore", type: "uint256" },
          { name: "nonce", type: "bytes32" },
        ],
      },
      message: auth,
    }),
  );
  const transferAuth = await gasOf(
    op.writeContract({
      ...usdcAs(op),
      functionName: "transferWithAuthorization",
      args: [auth.from, auth.to, auth.value, auth.validAfter, auth.validBefore, auth.nonce, 27 + authSig.yParity, authSig.r, authSig.s],
    }),
  );

  // Batches. A warm-up settle gives the treasury a balance, as it has in steady state.
  const settle = (to: Address[]) =>
    op.writeContract({
      ...settlementAs(op),
      functionName: "settle",
      args: [nextBatch(), keccak256("0x01"), to, to.map(() => 1_000_000n), 1_000n],
    });
  await gasOf(settle([provider.account.address]));
  const rows: { n: number; first: number; known: number }[] = [];
  for (const n of SIZES) {
    const to = addresses(`size-${n}`, n);
    rows.push({ n, first: await gasOf(settle(to)), known: await gasOf(settle(to)) });
  }
  ops.push(["withdrawEarnings", await gasOf(provider.writeContract({ ...settlementAs(provider), functionName: "withdrawEarnings" }))]);

  // The largest batch under the cap: binary search over eth_estimateGas, first-time and known payees.
  const estimate = async (to: Address[]) => {
    try {
      return await c.publicClient.estimateContractGas({
        ...settlementAs(op),
        functionName: "settle",
        args: [nextBatch(), keccak256("0x01"), to, to.map(() => 1_000_000n), 1_000n],
      });
    } catch {
      return maxUint256; // above the node's block gas limit
    }
  };
  const largest = async (pool: Address[]) => {
    let [lo, hi] = [1, pool.length]; // estimate(lo) fits
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((await estimate(pool.slice(0, mid))) <= GAS_CAP) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const r1 = rows[0]!,
    rN = rows[rows.length - 1]!;
  const marginalFirst = (rN.first - r1.first) / (rN.n - 1);
  const marginalKnown = (rN.known - r1.known) / (rN.n - 1);
  const extrapolate = (base: number, marginal: number) => 1 + Math.floor((Number(GAS_CAP) - base) / marginal);
  const poolSize = Math.ceil(extrapolate(r1.known, marginalKnown) * 1.2);
  const pool = addresses("cap", poolSize);
  const maxFirst = await largest(pool);
  for (let i = 0; i < pool.length; i += 400) await gasOf(settle(pool.slice(i, i + 400))); // now known
  const maxKnown = await largest(pool);

  const perPayout = (r: { n: number; first: number; known: number }, k: "first" | "known") =>
    r.n === 1 ? "—" : int((r[k] - r1[k]) / (r.n - 1));
  const settleTable = table(
    [
      "providers N",
      "settle gas, first-time payees",
      "marginal/payout",
      "settle gas, known payees",
      "marginal/payout",
      "gas/payout (known, avg)",
    ],
    rows.map((r) => [r.n, int(r.first), perPayout(r, "first"), int(r.known), perPayout(r, "known"), int(r.known / r.n)]),
  );
  const capTable = table(
    ["payees", `largest batch ≤ ${int(Number(GAS_CAP))} gas (binary search, eth_estimateGas)`, "extrapolated from marginal"],
    [
      ["first-time", int(maxFirst), int(extrapolate(r1.first, marginalFirst))],
      ["known", int(maxKnown), int(extrapolate(r1.known, marginalKnown))],
    ],
  );
  const periodRows = rows.map((r) => [
    `one settle, ${r.n} provider${r.n === 1 ? "" : "s"} (known)`,
    int(r.known),
    usd(r.known),
    usd((r.known * 1e6) / REQUESTS),
  ]);
  const perRequest = (label: string, gas: number) => [label, int(gas * REQUESTS), usd(gas * REQUESTS), usd(gas * 1e6)];
  const costTable = table(
    ["per period", "gas", "USD per period", "USD per 1M requests"],
    [
      ...periodRows,
      perRequest(`USDC transfer per request (known payee, ${int(transferKnown)} gas)`, transferKnown),
      perRequest(`USDC transfer per request (new payee, ${int(transferNew)} gas)`, transferNew),
      perRequest(`EIP-3009 transferWithAuthorization per request (${int(transferAuth)} gas)`, transferAuth),
    ],
  );
  const opsTable = table(
    ["operation", "gasUsed"],
    ops.map(([name, gas]) => [name, int(gas)]),
  );
  return [
    "## Settlement gas (local anvil, receipts' gasUsed)",
    "",
    settleTable,
    "",
    capTable,
    "",
    `### Cost of a period: ${int(REQUESTS)} requests spread over N providers, one settle per period`,
    `Gas price ${GAS_PRICE_GWEI} gwei, ETH $${int(ETH_USD)} → $${usdPerGas.toExponential(2)} per gas. L2 execution gas only; an OP-stack L1 data fee for calldata (64 bytes a payout) is extra.`,
    "",
    costTable,
    "",
    "### Other operations",
    "",
    opsTable,
    "",
  ].join("\n");
}

await runBench("bench (settlement gas)", main);
