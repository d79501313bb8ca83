/** The bindings the local worker runs with: wrangler.toml's [vars], the chain's addresses, and local overrides. */
import { readFileSync } from "node:fs";
import type { LocalChain } from "./local-chain";

/** The stake the local gateway requires of a provider (USDC); agents stake it on start. */
export const LOCAL_MIN_STAKE_USDC = "100";

/** The worker's view of the local chain; the operator key is the settlement job's secret. */
export function chainBindings(chain: LocalChain): Record<string, string> {
  return {
    CHAIN_RPC_URL: chain.info.rpcUrl,
    CHAIN_ID: String(chain.info.chainId),
    SETTLEMENT_ADDRESS: chain.info.settlement,
    USDC_ADDRESS: chain.info.usdc,
    CHAIN_START_BLOCK: chain.info.deployBlock,
    CHAIN_CONFIRMATIONS: "1",
    MIN_STAKE_USDC: LOCAL_MIN_STAKE_USDC,
    OPERATOR_PRIVATE_KEY: chain.operatorKey,
  };
}

/** The [vars] of wrangler.toml, so local runs use the same settings as a deploy. */
export function readWranglerVars(): Record<string, string> {
  const toml = readFileSync("wrangler.toml", "utf8");
  const section = toml.split(/^\[vars\]\s*$/m)[1]?.split(/^\[/m)[0] ?? "";
  const vars: Record<string, string> = {};
  for (const m of section.matchAll(/^([A-Z_][A-Z0-9_]*)\s*=\s*"([^"]*)"/gm)) vars[m[1]!] = m[2]!;
  return vars;
}
