/**
 * The secrets and accounts a local network keeps in its state directory (when persistent): the admin
 * token, the gateway's identity, and the developer's funded account with its keys.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { generateGatewayKeyPair } from "../../workers/core/protocol/gateway-auth";
import { accountToBytes32 } from "../../workers/core/settlement/units";
import type { Admin } from "./admin-client";
import { CUSTOMER_KEY, depositFor, type LocalChain } from "./local-chain";

/** What the demo customer deposits for the developer account (USDC base units). */
const DEV_DEPOSIT_BASE = 1_000_000_000n;

export interface DevCredentials {
  accountId: string;
  apiKey: string;
  financeKey: string;
  operatorFinanceKey: string;
}

/** The developer account and its keys: reused when the saved key still works, else made (`created`). */
export async function loadOrCreateCredentials(
  file: string,
  admin: Admin,
  gatewayURL: string,
  persistent: boolean,
  chain: LocalChain | null,
): Promise<DevCredentials & { created: boolean }> {
  // Requests reserve their worst-case cost against the balance: the developer starts with 1,000 USDC,
  // deposited on chain by the demo customer wallet and credited by the deposit job (a grant without a chain).
  const fund = async (accountId: string) => {
    if (!chain) {
      await admin("POST", `/admin/v1/accounts/${accountId}/credit`, { amount_usdc: "1000", note: "local developer credit" });
      return;
    }
    await depositFor(chain.clients, chain.info, CUSTOMER_KEY, accountToBytes32(accountId), DEV_DEPOSIT_BASE);
    await admin("POST", "/admin/v1/jobs/deposits/run");
  };
  // The operator's finance key (scope "all") belongs to an account of its own, which never spends.
  const operatorKey = async () => {
    const operator = await admin("POST", "/admin/v1/accounts", { name: "Meshgate operator" });
    return String(
      (await admin("POST", "/admin/v1/keys", { account_id: operator.id, name: "operator finance", role: "finance", scope: "all" })).secret,
    );
  };
  if (persistent && existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as {
      accountId: string;
      apiKey: string;
      financeKey: string;
      operatorFinanceKey?: string;
    };
    const ok = await fetch(`${gatewayURL}/v1/models`, { headers: { authorization: `Bearer ${saved.apiKey}` } });
    if (ok.status === 200) {
      // A developer account spent down gets another deposit.
      const account = await admin("GET", `/admin/v1/accounts/${saved.accountId}`);
      if (BigInt(String(account.balancePico)) < 100_000_000_000_000n) await fund(saved.accountId);
      // State from before operator keys existed gets one.
      const creds = { ...saved, operatorFinanceKey: saved.operatorFinanceKey ?? (await operatorKey()) };
      if (!saved.operatorFinanceKey) writeFileSync(file, JSON.stringify(creds), { mode: 0o600 });
      return { ...creds, created: false };
    }
  }
  const account = await admin("POST", "/admin/v1/accounts", { name: "Local developer" });
  const accountId = String(account.id);
  await fund(accountId);
  const key = await admin("POST", "/admin/v1/keys", { account_id: accountId, name: "dev inference", role: "inference" });
  const finance = await admin("POST", "/admin/v1/keys", { account_id: accountId, name: "dev finance", role: "finance" });
  const creds = { accountId, apiKey: String(key.secret), financeKey: String(finance.secret), operatorFinanceKey: await operatorKey() };
  if (persistent) writeFileSync(file, JSON.stringify(creds), { mode: 0o600 });
  return { ...creds, created: true };
}

/** The gateway's identity: an Ed25519 key that signs requests to providers, and the address receipts name. */
export async function loadOrCreateGatewayKey(file: string, persistent: boolean): Promise<{ requestKey: string; address: string }> {
  if (persistent && existsSync(file)) return JSON.parse(readFileSync(file, "utf8")) as { requestKey: string; address: string };
  const key = { requestKey: (await generateGatewayKeyPair()).privateKey, address: privateKeyToAddress(generatePrivateKey()) };
  writeFileSync(file, JSON.stringify(key), { mode: 0o600 });
  return key;
}

export function loadOrCreateSecret(file: string, make: () => string, persistent: boolean): string {
  if (persistent && existsSync(file)) return readFileSync(file, "utf8").trim();
  const v = make();
  if (persistent) writeFileSync(file, v, { mode: 0o600 });
  return v;
}
