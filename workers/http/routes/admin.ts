/** /admin/v1: accounts, keys, the provider registry, and jobs on demand. Admin token only. */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { constantTimeEqual, keyDisplayPrefix, newKeySecret, sha256Hex } from "../../core/auth/keys";
import { errors } from "../../core/openai/errors";
import { parseUsdcPerMTok } from "../../core/money/pricing";
import { formatUsdc, parseUsdc } from "../../core/money/units";
import { Address } from "../../core/wire";
import { checkProviderUrl } from "../../core/protocol/endpoint-policy";
import { runProbe } from "../../jobs/probe";
import { chainSyncJob } from "../../jobs/chain-jobs";
import type { AppEnv } from "../app-env";
import { parseJsonBody, parseOptionalJsonBody, parseQuery } from "../parse";

const NewAccount = z.object({ name: z.string().min(1).max(200) });
/** An operator's credit grant, in USDC as a decimal string (exact to the pico). */
const CreditBody = z.object({
  amount_usdc: z.string().regex(/^\d{1,12}(\.\d{1,12})?$/, "a decimal number of USDC, at most 12 decimals"),
  note: z.string().max(500).optional(),
});
const NewKeyBody = z.object({
  account_id: z.uuid(),
  name: z.string().max(200).default(""),
  role: z.enum(["inference", "finance"]).default("inference"),
  /** "all": an operator's finance key that reads every account (finance keys only). */
  scope: z.enum(["account", "all"]).default("account"),
  budget_usdc: z
    .string()
    .regex(/^\d+(\.\d{1,12})?$/)
    .optional(),
  rpm: z.number().int().positive().optional(),
  tpm: z.number().int().positive().optional(),
  allowed_models: z.array(z.string().min(1)).optional(),
});
const UsdcPerM = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseUsdcPerMTok(String(v));
  } catch (e) {
    ctx.addIssue({ code: "custom", message: e instanceof Error ? e.message : "invalid price" });
    return z.NEVER;
  }
});
const ProviderBody = z.object({
  id: z.string().regex(/^[a-z0-9][a-z0-9-]{1,62}$/, "lowercase letters, digits and dashes"),
  url: z.url(),
  region: z.string().default(""),
  address: Address.nullable().default(null),
  max_waiting_requests: z.number().int().positive().default(32),
  models: z
    .array(
      z.object({
        model: z.string().min(1),
        endpoints: z
          .array(z.enum(["chat", "completions", "embeddings"]))
          .min(1)
          .default(["chat", "completions"]),
        input_price: UsdcPerM,
        output_price: UsdcPerM,
        context_length: z.number().int().positive().default(8192),
      }),
    )
    .min(1),
});
const SuspendBody = z.object({ reason: z.string().max(500).optional() });
/** How long to wait for the batch to confirm on chain, in milliseconds. */
const SettlementRunQuery = z.object({ wait_ms: z.coerce.number().int().min(0).max(120_000).optional() });

/** JSON with bigints as decimal strings: money never travels as a float. */
const json = (c: Context<AppEnv>, value: unknown, status: 200 | 201 = 200) =>
  c.body(
    JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v)),
    status,
    { "content-type": "application/json" },
  );

export const adminRoutes = new Hono<AppEnv>()
  .use("*", async (c, next) => {
    const token = c.req.header("authorization")?.replace(/^Bearer\s+/i, "") ?? "";
    if (!token || !constantTimeEqual(token, c.var.deps.cfg.adminToken)) throw errors.invalidKey();
    await next();
  })
  .post("/accounts", async (c) => json(c, await c.var.deps.admin.createAccount((await parseJsonBody(c, NewAccount)).name), 201))
  .get("/accounts", async (c) => json(c, { data: await c.var.deps.admin.listAccounts() }))
  .get("/accounts/:id", async (c) => {
    const account = z.uuid().safeParse(c.req.param("id")).success ? await c.var.deps.admin.getAccount(c.req.param("id")) : null;
    if (!account) throw errors.notFound(`Account '${c.req.param("id")}'`);
    return json(c, { ...account, balance_usdc: formatUsdc(account.balancePico) });
  })
  .post("/accounts/:id/credit", async (c) => {
    const id = c.req.param("id");
    const b = await parseJsonBody(c, CreditBody);
    if (!z.uuid().safeParse(id).success || !(await c.var.deps.admin.accountExists(id))) throw errors.notFound(`Account '${id}'`);
    const amountPico = parseUsdc(b.amount_usdc);
    if (amountPico <= 0n) throw errors.invalidRequest("The amount must be more than zero.", "amount_usdc");
    const grant = await c.var.deps.admin.grantCredit(id, amountPico, b.note ?? null);
    // The account's guard, if loaded, adds it at once; otherwise it reads the books when it loads.
    await c.var.deps.guard.credit(id, amountPico, grant.entryId);
    return json(c, { id: grant.id, account_id: id, amount_usdc: formatUsdc(amountPico), balance_usdc: formatUsdc(grant.balancePico) }, 201);
  })
  .post("/keys", async (c) => {
    const b = await parseJsonBody(c, NewKeyBody);
    if (b.scope === "all" && b.role !== "finance") throw errors.invalidRequest("Only a finance key can have the scope 'all'.", "scope");
    if (!(await c.var.deps.admin.accountExists(b.account_id)))
      throw errors.invalidRequest(`Account '${b.account_id}' does not exist.`, "account_id");
    const secret = newKeySecret();
    const row = await c.var.deps.admin.createKey({
      accountId: b.account_id,
      name: b.name,
      role: b.role,
      scope: b.scope,
      prefix: keyDisplayPrefix(secret),
      secretHash: await sha256Hex(secret),
      budgetPico: b.budget_usdc ? parseUsdc(b.budget_usdc) : null,
      rpm: b.rpm ?? null,
      tpm: b.tpm ?? null,
      allowedModels: b.allowed_models ?? null,
    });
    const { secretHash: _hidden, ...visible } = row;
    return json(c, { ...visible, secret }, 201); // the only time the secret is shown
  })
  .get("/keys", async (c) => json(c, { data: await c.var.deps.admin.listKeys(c.req.query("account_id")) }))
  .delete("/keys/:id", async (c) => {
    const id = c.req.param("id");
    if (!z.uuid().safeParse(id).success || !(await c.var.deps.admin.revokeKey(id))) throw errors.notFound(`Key '${id}'`);
    c.var.deps.keys.invalidateAll();
    return json(c, { id, revoked: true });
  })
  .get("/providers", async (c) => json(c, { data: await c.var.deps.admin.listProviders() }))
  .post("/providers", async (c) => {
    const b = await parseJsonBody(c, ProviderBody);
    // The same endpoint policy as a provider's own registration (routes/providers.ts).
    const endpoint = checkProviderUrl(b.url, { allowlist: c.var.deps.cfg.providerUrlAllowlist, gatewayUrl: c.req.url });
    if (!endpoint.ok) throw errors.invalidRequest(`The endpoint URL is not allowed: ${endpoint.reason}.`, "url", "invalid_endpoint_url");
    await c.var.deps.admin.upsertProvider({
      id: b.id,
      url: b.url,
      region: b.region,
      address: b.address,
      maxWaitingRequests: b.max_waiting_requests,
      models: b.models.map((m) => ({
        model: m.model,
        endpoints: m.endpoints,
        inputPrice: m.input_price,
        outputPrice: m.output_price,
        contextLength: m.context_length,
      })),
    });
    await c.var.deps.routes.reload();
    return json(c, { id: b.id }, 201);
  })
  .post("/providers/:id/suspend", async (c) => suspend(c, true))
  .post("/providers/:id/resume", async (c) => suspend(c, false))
  .post("/jobs/probe/run", async (c) => json(c, { data: await runProbe(c.var.deps) }))
  .post("/jobs/deposits/run", async (c) => json(c, { data: await chainSyncJob(c.var.deps) }))
  .post("/jobs/settlement/run", async (c) => {
    const { wait_ms } = parseQuery(c, SettlementRunQuery);
    return json(c, { data: await c.var.deps.jobs.settle(wait_ms) });
  });

async function suspend(c: Context<AppEnv>, suspended: boolean) {
  const id = c.req.param("id") ?? "";
  const reason = (await parseOptionalJsonBody(c, SuspendBody)).reason ?? null;
  if (!(await c.var.deps.admin.setSuspended(id, suspended, reason))) throw errors.notFound(`Provider '${id}'`);
  // A resume is a cut-off: what is still in flight from before it does not count against the provider.
  if (!suspended) c.var.deps.breakers.reset(id, c.var.deps.now());
  // The operator's change shows in this isolate's next request, not a refresh later.
  await c.var.deps.routes.reload();
  return json(c, { id, suspended });
}
