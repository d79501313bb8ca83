import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, stringToHex, zeroHash, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SIGNED_GET_HEADERS, verifyProviderMessage } from "../../workers/core/protocol/provider-messages";
import { encodeSignedReceipt, receiptDigest, receiptDomain, signReceipt, type Receipt } from "../../workers/core/protocol/receipt";
import { periodTree } from "../../workers/core/settlement/merkle";
import { devAccount, OPERATOR_KEY, OWNER_KEY } from "../../chain/accounts";
import { startAnvil, type Anvil } from "../../chain/anvil";
import { createLocalClients } from "../../chain/clients";
import { deployMeshgate } from "../../chain/deploy";
import { Settlement } from "../../contracts/generated/artifacts";
import { GatewayReply } from "./gateway-client";
import { verifyReceipt, type RootReader } from "./verify-receipt";
import { verifyReceiptCli } from "./verify-receipt-cli";

const CHAIN_ID = 31337;
const key = generatePrivateKey();
const me = privateKeyToAccount(key);
const other = privateKeyToAccount(generatePrivateKey());
const GATEWAY = privateKeyToAccount(generatePrivateKey()).address;
const SETTLEMENT = "0x5E77000000000000000000000000000000000001";
const BATCH_1 = keccak256(stringToHex("batch-1"));
const BATCH_2 = keccak256(stringToHex("batch-2"));
const OURS = "gen-ours";
const ODD_ID = "gen/ä 1?x"; // travels percent-encoded in the path

function receipt(requestId: string, provider: Hex = me.address, extra: Partial<Receipt> = {}): Receipt {
  return {
    requestId, model: "meshgate/sim-llama-8b", promptTokens: 10, completionTokens: 20, inputPrice: 150_000n, outputPrice: 600_000n,
    provider, gateway: GATEWAY, responseHash: keccak256(stringToHex(requestId)), timestamp: 1_700_000_000_000n, ...extra,
  };
}

/** The gateway's answer for each request id: built like workers/http/routes/receipt-proof.ts does. */
const answers = new Map<string, { status: number; body: unknown }>();
const proofs = new Map<string, Record<string, unknown>>();
let root: Hex;

beforeAll(async () => {
  const signed = await Promise.all(
    [receipt(OURS), receipt(ODD_ID), receipt("gen-2"), receipt("gen-theirs", other.address)].map(async (r) => {
      const account = r.provider === me.address ? me : other;
      const signature = await signReceipt(account, receiptDomain(CHAIN_ID), r);
      return { r, signature, digest: receiptDigest(receiptDomain(CHAIN_ID), r) };
    }),
  );
  const tree = periodTree(signed.map((s) => s.digest));
  root = tree.root;
  for (const s of signed) {
    proofs.set(s.r.requestId, {
      request_id: s.r.requestId,
      ...(JSON.parse(encodeSignedReceipt(s.r, s.signature)) as object),
      leaf: s.digest,
      proof: tree.proof(s.digest),
      period: { id: 7, merkle_root: root, receipts: tree.size, cutoff: "2026-01-01T00:00:00.000Z", status: "open" },
      batches: [
        { batch_id: BATCH_1, part: 0, status: "settled", tx_hash: keccak256(stringToHex("tx-1")), block_number: "12" },
        { batch_id: BATCH_2, part: 1, status: "sending", tx_hash: keccak256(stringToHex("tx-2")), block_number: null },
      ],
      chain: { chain_id: CHAIN_ID, settlement: SETTLEMENT.toLowerCase() },
    });
  }
});

const roots = new Map<Hex, Hex>();
const readRoot: RootReader = async (settlement, batchId) => {
  expect(settlement).toBe(SETTLEMENT);
  return roots.get(batchId) ?? zeroHash;
};
/** A copy of a proof answer, to alter as a dishonest gateway would. */
type ProofBody = { receipt: Record<string, unknown>; proof: Hex[]; batches: Record<string, unknown>[]; chain: Record<string, unknown> };
const proofOf = (id: string) => structuredClone(proofs.get(id)!) as ProofBody;

beforeEach(() => {
  answers.clear();
  for (const [id, body] of proofs) answers.set(id, { status: 200, body });
  roots.clear();
  roots.set(BATCH_1, root);
});

/** A tiny gateway: checks the wallet-signed GET exactly as the real route does, then answers from `answers`. */
let server: Server;
let gatewayUrl: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    void answer(req).then(({ status, body }) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function answer(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
  const m = /^\/providers\/v1\/receipts\/([^/]+)\/proof$/.exec(req.url ?? "");
  if (req.method !== "GET" || !m) return { status: 404, body: { error: { message: "no route" } } };
  const requestId = decodeURIComponent(m[1]!);
  const address = req.headers[SIGNED_GET_HEADERS.address] as Hex;
  const timestamp = Number(req.headers[SIGNED_GET_HEADERS.timestamp]);
  const signature = req.headers[SIGNED_GET_HEADERS.signature] as Hex;
  if (Math.abs(Date.now() - timestamp) > 60_000 || !(await verifyProviderMessage(CHAIN_ID, "proof", { address, timestamp, request_id: requestId } as never, signature))) {
    return { status: 401, body: { error: { message: "Invalid signature.", type: "invalid_request_error", param: null, code: "invalid_signature" } } };
  }
  if (requestId === "gen-pending") return { status: 409, body: { error: { message: "The receipt is not in a closed settlement period yet.", type: "invalid_request_error", param: null, code: "conflict" } } };
  return answers.get(requestId) ?? { status: 404, body: { error: { message: `Receipt '${requestId}' not found.`, type: "invalid_request_error", param: null, code: "not_found" } } };
}

const verify = (requestId: string, extra: Partial<Parameters<typeof verifyReceipt>[0]> = {}) =>
  verifyReceipt({ gatewayUrl, account: me, chainId: CHAIN_ID, rpcUrl: "http://127.0.0.1:1", requestId, readRoot, ...extra });

describe("verifyReceipt", () => {
  it("passes every check for our receipt in a settled batch, and names the batch", async () => {
    const result = await verify(OURS);
    expect(result).toEqual({
      ok: true,
      checks: { signature: true, leaf: true, proof: true, onChainRoot: true },
      requestId: OURS,
      batchId: BATCH_1,
      txHash: keccak256(stringToHex("tx-1")),
      root,
      problems: [],
    });
  });

  it("signs the GET for an id that needs percent-encoding, and checks it against our own copy of the receipt", async () => {
    expect((await verify(ODD_ID, { expectReceipt: receipt(ODD_ID) })).ok).toBe(true);
    const mine = receipt(ODD_ID, me.address, { completionTokens: 21 });
    const result = await verify(ODD_ID, { expectReceipt: mine });
    expect(result.checks).toEqual({ signature: true, leaf: false, proof: true, onChainRoot: true });
    expect(result.problems).toEqual([expect.stringContaining("the gateway's receipt differs from ours")]);
  });

  it("fails signature, leaf and proof when the gateway altered a receipt field", async () => {
    const body = proofOf(OURS);
    body.receipt.completionTokens = 2_000;
    answers.set(OURS, { status: 200, body });
    const result = await verify(OURS);
    expect(result.ok).toBe(false);
    expect(result.checks).toEqual({ signature: false, leaf: false, proof: false, onChainRoot: true });
    expect(result.problems).toHaveLength(3);
  });

  it("fails the signature check for a receipt naming another provider", async () => {
    answers.set(OURS, { status: 200, body: { ...proofOf("gen-theirs"), request_id: OURS } });
    const result = await verify(OURS);
    expect(result.checks.signature).toBe(false);
    expect(result.problems[0]).toBe(`the receipt names provider ${other.address}, not ${me.address}`);
  });

  it("fails the leaf check when the gateway answers about another of our receipts", async () => {
    answers.set(OURS, { status: 200, body: proofOf("gen-2") });
    const result = await verify(OURS);
    expect(result.checks).toEqual({ signature: true, leaf: false, proof: true, onChainRoot: true });
    expect(result.problems).toEqual(['the gateway answered with the receipt of request "gen-2"']);
  });

  it("fails the proof check for a proof of another leaf or a truncated one", async () => {
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), proof: proofOf("gen-2").proof } });
    expect((await verify(OURS)).checks).toEqual({ signature: true, leaf: true, proof: false, onChainRoot: true });
    answers.set(OURS, { status: 200, body: { ...proofOf(OURS), proof: proofOf(OURS).proof.slice(1) } });
    expect((await verify(OURS)).checks.proof).toBe(false);
  });

  it("fails the on-chain check when the contract holds another root, or no batch is settled", async () => {
    roots.set(BATCH_1, keccak256(stringToHex("another root")));
    roots.set(BATCH_2, root); // matches, but the gateway does not claim it settled: not counted
    const wrong = await verify(OURS);
    expect(wrong).toMatchObject({ ok: false, checks: { signature: true, leaf: true, proof: true, onChainRoot: false }, batchId: null, txHash: null });
    expect(wrong.problems[0]).toContain(`does not hold root ${root}`);

    roots.set(BATCH_1, root);
    const body = proofOf(OURS);
    body.batches = body.batches.map((b) => ({ ...b, status: "sending" }));
    answers.set(OURS, { status: 200, body });
    expect((await verify(OURS)).problems).toEqual(["no batch of period 7 is settled yet"]);
  });

  it("reads the root from a pinned contract instead of the one the gateway names", async () => {
    const pinned = "0x00000000000000000000000000000000000000B2";
    const seen: string[] = [];
    const result = await verify(OURS, { settlement: pinned, readRoot: async (s) => (seen.push(s), root) });
    expect(result.ok).toBe(true);
    expect(seen).toEqual([pinned]);
  });

  it("throws the gateway's refusal: 404 for no such receipt of ours, 409 before its period closes", async () => {
    for (const [id, status] of [["gen-unknown", 404], ["gen-pending", 409]] as const) {
      const err = await verify(id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GatewayReply);
      expect((err as GatewayReply).status).toBe(status);
    }
  });
});

describe("verify-receipt command", () => {
  const run = async (argv: string[], env: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await verifyReceiptCli(argv, { env, out: (l) => void out.push(l), err: (l) => void err.push(l), readRoot });
    return { code, out, err };
  };
  const args = (requestId: string) => ["--gateway", gatewayUrl, "--rpc-url", "http://127.0.0.1:1", "--chain-id", String(CHAIN_ID), "--request-id", requestId];

  it("prints the result as one JSON line; exit 0 when every check passes, 1 when one fails", async () => {
    const ok = await run(args(OURS), { MESHGATE_WALLET_KEY: key });
    expect(ok.code).toBe(0);
    expect(ok.out).toHaveLength(1);
    expect(JSON.parse(ok.out[0]!)).toMatchObject({ ok: true, requestId: OURS, batchId: BATCH_1, root });

    roots.clear();
    const failed = await run([...args(OURS), "--wallet-key", key]);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.out[0]!)).toMatchObject({ ok: false, checks: { onChainRoot: false } });
  });

  it("exit 1 with the gateway's refusal in the line when there is no proof", async () => {
    const { code, out } = await run([...args("gen-pending"), "--wallet-key", key]);
    expect(code).toBe(1);
    expect(JSON.parse(out[0]!)).toEqual({ ok: false, requestId: "gen-pending", error: "gateway answered 409: The receipt is not in a closed settlement period yet." });
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
      rpcUrl: anvil.rpcUrl, ownerKey: OWNER_KEY, operator: devAccount(1).address, treasury: devAccount(2).address,
      settlementPeriod: 3600, disputeWindow: 3600, withdrawalDelay: 7201,
    });
    settlement = d.settlement;
    // The operator settles batch 1 with the period's root (no payouts: escrow is empty).
    const c = await createLocalClients(anvil.rpcUrl);
    const hash = await c.walletClient(OPERATOR_KEY).writeContract({ address: settlement, abi: Settlement.abi, functionName: "settle", args: [BATCH_1, root, [], [], 0n] });
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
    answers.set("gen-2", { status: 200, body: { ...proofOf("gen-2"), chain: { chain_id: CHAIN_ID, settlement }, batches: [{ ...body.batches[1], status: "settled" }] } });
    const [ok, unsettled] = await Promise.all([
      cli(["--gateway", gatewayUrl, "--rpc-url", anvil.rpcUrl, "--request-id", OURS]),
      cli(["--gateway", gatewayUrl, "--rpc-url", anvil.rpcUrl, "--request-id", "gen-2"]), // batch 2 was never settled on chain
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, checks: { onChainRoot: true }, batchId: BATCH_1, root });
    expect(unsettled.code).toBe(1);
    expect(JSON.parse(unsettled.stdout)).toMatchObject({ ok: false, checks: { signature: true, leaf: true, proof: true, onChainRoot: false } });
  }, 30_000);
});
