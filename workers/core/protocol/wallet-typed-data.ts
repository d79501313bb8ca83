/**
 * A provider message as a browser wallet signs it: `eth_signTypedData_v4` takes the typed data as
 * JSON, with the domain's own type listed and integers as decimal strings (JSON has no bigint).
 */
import { providerTypedData, type ProviderMessageKind } from "./provider-messages";

const EIP712_DOMAIN = [
  { name: "name", type: "string" },
  { name: "version", type: "string" },
  { name: "chainId", type: "uint256" },
] as const;

export function walletTypedDataJson(
  chainId: number,
  kind: ProviderMessageKind,
  payload: { address: `0x${string}`; timestamp: number; [k: string]: unknown },
): string {
  const typed = providerTypedData(chainId, kind, payload);
  return JSON.stringify({ ...typed, types: { EIP712Domain: EIP712_DOMAIN, ...typed.types } }, (_k, v) =>
    typeof v === "bigint" ? v.toString() : v,
  );
}
