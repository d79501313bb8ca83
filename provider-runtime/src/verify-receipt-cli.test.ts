/** The verify-receipt command: its JSON line and exit codes, and a run through main.ts against a real chain. */
import { spawn } from "node:child_process";
import type { Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { devAccount, OPERATOR_KEY, OWNER_KEY } from "../../chain/accounts";
import { startAnvil, type Anvil } from "../../chain/anvil";
import { createLocalClients } from "../../chain/clients";
import { deployMeshgate } from "../../chain/deploy";
import { Settlement } from "../../contracts/generated/artifacts";
import { verifyReceiptCli } from "./verify-receipt-cli";
import { BATCH_1, CHAIN_ID, key, OURS, useProofGateway } from "./verify-receipt.fixtures";

const gateway = useProofGateway();
const { answers, roots, readRoot, proofOf } = gateway;

describe("verify-receipt command", () => {
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await verifyReceiptCli(argv, { env, out: (l) => void out.push(l), err: (l) => void err.push(l), readRoot });
    return { code, out, err };
  };
  const args = (requestId: string) => [
    "--gateway",
    gateway.url,
    "--rpc-url",
    "http://127.0.0.1:1",
    "--chain-id",
    String(CHAIN_ID),
    "--request-id",
    requestId,
  ];

  it("prints the result as one JSON line; exit 0 when every check passes, 1 when one fails", async () => {
    const ok = await run(args(OURS), { MESHGATE_WALLET_KEY: key });
    expect(ok.code).toBe(0);
    expect(ok.out).toHaveLength(1);
    expect(JSON.parse(ok.out[0]!)).toMatchObject({ ok: true, requestId: OURS, batchId: BATCH_1, root: gateway.root });

    roots.clear();
    const failed = await run([...args(OURS), "--wallet-key", key]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.out[0]!)).toMatchObject({ ok: false, checks: { onChainRoot: false } });
  });

  it("exit 1 with the gateway's refusal in the line when there is no proof", async () => {
    const { code, out } = await run([...args("gen-pending"), "--wallet-key", key]);
    expect(code).toBe(1);
    expect(JSON.parse(out[0]!)).toEqual({
      ok: false,
      requestId: "gen-pending",
      error: "gateway answered 409: The receipt is not in a closed settlement period yet.",
    });
  });

  it("exit 2 on bad usage, with one reason on stderr and nothing on stdout", async () => {
    const cases = [
      [args(OURS).slice(0, -2), "--request-id is required"],
      [args(OURS), "--wallet-key (MESHGATE_WALLET_KEY) or --wallet-key-file (MESHGATE_WALLET_KEY_FILE) is required"],
      [[...args(OURS), "--wallet-key", key, "--bogus", "1"], "Unknown option '--bogus'"],
      [[...args(OURS), "--wallet-key", key, "--settlement", "0x12"], "--settlement: expected an address"],
    ] as const;
    for (const [argv, message] of cases) {
      const { code, out, err } = await run([...argv]);
      expect(code).toBe(2);
      expect(out).toEqual([]);
      expect(err[0]).toContain(message);
    }
  });
});

describe("verify-receipt against a real chain, through main.ts", () => {
  let anvil: Anvil;
  let settlement: Hex;
  beforeAll(async () => {
    anvil = await startAnvil();
    const d = await deployMeshgate({
      rpcUrl: anvil.rpcUrl,
      ownerKey: OWNER_KEY,
      operator: devAccount(1).address,
      treasury: devAccount(2).address,
      settlementPeriod: 3600,
      disputeWindow: 3600,
      withdrawalDelay: 7201,
    });
    settlement = d.settlement;
    // The operator settles batch 1 with the period's root (no payouts: escrow is empty).
    const c = await createLocalClients(anvil.rpcUrl);
    const hash = await c
      .walletClient(OPERATOR_KEY)
      .writeContract({ address: settlement, abi: Settlement.abi, functionName: "settle", args: [BATCH_1, gateway.root, [], [], 0n] });
    expect((await c.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
  }, 30_000);
  afterAll(() => anvil?.stop());

  const cli = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, ["--import", "tsx", "provider-runtime/src/main.ts", "verify-receipt", ...args], {
        env: { PATH: process.env.PATH ?? "", MESHGATE_WALLET_KEY: key },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("exit", (code) => done({ code, stdout, stderr }));
    });

  it("reads batchRoots from the contract over --rpc-url (chain id from the node): exit 0, or 1 for a batch never settled", async () => {
    const body = proofOf(OURS);
    body.chain.settlement = settlement;
    answers.set(OURS, { status: 200, body });
    answers.set("gen-2", {
      status: 200,
      body: { ...proofOf("gen-2"), chain: { chain_id: CHAIN_ID, settlement }, batches: [{ ...body.batches[1], status: "settled" }] },
    });
    const [ok, unsettled] = await Promise.all([
      cli(["--gateway", gateway.url, "--rpc-url", anvil.rpcUrl, "--request-id", OURS]),
      cli(["--gateway", gateway.url, "--rpc-url", anvil.rpcUrl, "--request-id", "gen-2"]), // batch 2 was never settled on chain
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, checks: { onChainRoot: true }, batchId: BATCH_1, root: gateway.root });
    expect(unsettled.code).toBe(1);
    expect(JSON.parse(unsettled.stdout)).toMatchObject({
      ok: false,
      checks: { signature: true, leaf: true, proof: true, onChainRoot: false },
    });
  }, 30_000);
});
