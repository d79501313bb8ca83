/**
 * `npm run provider -- verify-receipt --gateway URL --wallet-key-file F --rpc-url URL --request-id ID`
 * Prints the result of verifyReceipt as one JSON line on stdout. Exit 0: every check passed;
 * 1: a check failed, or the gateway or RPC could not answer (then the line has `error`);
 * 2: bad usage (one line on stderr).
 */
import { parseArgs } from "node:util";
import { getAddress, isAddress } from "viem";
import { z } from "zod";
import { HttpUrl, readAccount } from "./config";
import { ConfigError, describe } from "./errors";
import { readChainId } from "./l2";
import { verifyReceipt, type RootReader } from "./verify-receipt";

const USAGE =
  "usage: verify-receipt --gateway URL --rpc-url URL --request-id ID (--wallet-key-file F | --wallet-key 0x…) [--chain-id N] [--settlement 0x…]";

/** Flag → its MESHGATE_* variable, the same ones the agent reads; the request id has none. */
const FLAGS = {
  gateway: "MESHGATE_GATEWAY",
  "rpc-url": "MESHGATE_RPC_URL",
  "wallet-key": "MESHGATE_WALLET_KEY",
  "wallet-key-file": "MESHGATE_WALLET_KEY_FILE",
  "chain-id": "MESHGATE_CHAIN_ID",
  "request-id": null,
  settlement: null,
} as const;
type Flag = keyof typeof FLAGS;

const Args = z.object({
  gateway: HttpUrl,
  "rpc-url": HttpUrl,
  "request-id": z.string().min(1).max(256),
  "chain-id": z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  settlement: z
    .string()
    .refine((s) => isAddress(s, { strict: false }), "expected an address")
    .transform((s) => getAddress(s))
    .optional(),
});

export interface CliIo {
  env?: NodeJS.ProcessEnv;
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Tests only: replaces the on-chain read. */
  readRoot?: RootReader;
}

/** Runs the command; resolves with the exit code. */
export async function verifyReceiptCli(argv: string[], io: CliIo = {}): Promise<number> {
  const env = io.env ?? process.env;
  const out = io.out ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const err = io.err ?? ((line: string) => void process.stderr.write(`meshgate-provider verify-receipt: ${line}\n`));

  let opts: Parameters<typeof verifyReceipt>[0];
  try {
    const { values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: "string" as const }])),
      strict: true,
      allowPositionals: false,
    });
    const raw: Partial<Record<Flag, string>> = {};
    for (const [flag, variable] of Object.entries(FLAGS) as [Flag, string | null][]) {
      const value = (values as Partial<Record<Flag, string>>)[flag] ?? (variable && env[variable] ? env[variable] : undefined);
      if (value !== undefined) raw[flag] = value;
    }
    const parsed = Args.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const flag = String(issue.path[0]);
      throw new ConfigError(raw[flag as Flag] === undefined ? `--${flag} is required` : `--${flag}: ${issue.message}`);
    }
    const a = parsed.data;
    const { account } = readAccount(raw["wallet-key"], raw["wallet-key-file"]);
    opts = {
      gatewayUrl: a.gateway,
      rpcUrl: a["rpc-url"],
      requestId: a["request-id"],
      account,
      chainId: a["chain-id"] ?? 0, // 0: ask the RPC below
      ...(a.settlement ? { settlement: a.settlement } : {}),
      ...(io.readRoot ? { readRoot: io.readRoot } : {}),
    };
  } catch (e) {
    err(`${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
    return 2;
  }

  try {
    // Our own node says which chain we are on; the gateway's word is what is being checked.
    if (opts.chainId === 0) opts.chainId = await readChainId(opts.rpcUrl);
    const result = await verifyReceipt(opts);
    out(JSON.stringify(result));
    return result.ok ? 0 : 1;
  } catch (e) {
    out(JSON.stringify({ ok: false, requestId: opts.requestId, error: describe(e).split("\n")[0] }));
    return 1;
  }
}
