/**
 * The provider's sign-in. The gateway hands out a short-lived HMAC'd nonce (also held in a cookie,
 * so it only works in the browser that asked for it); the wallet signs `{ address, timestamp,
 * nonce }` as an EIP-712 provider message of kind "dashboard" (eth_signTypedData_v4); the wallet
 * must be the one a registered provider is bound to.
 */
import { Hono, type Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { z } from "zod";
import type { Hex } from "viem";
import { CHALLENGE_TTL_MS, checkChallenge, issueChallenge } from "../../../core/auth/wallet-challenge";
import { verifyProviderMessage } from "../../../core/protocol/provider-messages";
import { walletTypedDataJson } from "../../../core/protocol/wallet-typed-data";
import { ApiError, errors } from "../../../core/openai/errors";
import { Address, Signature } from "../../../core/wire";
import type { AppEnv } from "../../app-env";
import { parseFormBody, parseJsonBody } from "../../parse";
import { renderError } from "../../render-error";
import { Layout, renderPage } from "./layout";
import { endSession, startSession } from "./session";

const CHALLENGE_COOKIE = "mg_challenge";
const CHALLENGE_COOKIE_OPTIONS = { path: "/dashboard/provider", httpOnly: true, secure: true, sameSite: "Strict" } as const;
/** The signed timestamp is the gateway's own (from the challenge call); the wallet may take a while to sign. */
const SIGNATURE_WINDOW_MS = CHALLENGE_TTL_MS;

const ChallengeBody = z.object({ address: Address, nonce: z.string().max(200) });
const SignInForm = z.object({
  address: Address,
  nonce: z.string().max(200),
  timestamp: z.coerce.number().int().nonnegative(),
  signature: Signature,
});

/** The challenge's secret: the deployment's admin token (HMAC'd under a label of its own in core/auth/wallet-challenge). */
const secretOf = (c: Context<AppEnv>) => c.var.deps.cfg.adminToken;

async function liveNonce(c: Context<AppEnv>, nonce: string): Promise<boolean> {
  return nonce === getCookie(c, CHALLENGE_COOKIE) && checkChallenge(secretOf(c), nonce, c.var.deps.now());
}

const SignInPage = ({ nonce, error }: { nonce: string; error?: string }) => (
  <Layout title="Sign in with your wallet" nav={null}>
    <section class="signin" aria-labelledby="wallet-heading">
      <h2 id="wallet-heading">Provider dashboard</h2>
      <p>Sign a message with the wallet your provider registered with. It costs nothing and sends no transaction.</p>
      <form id="wallet-form" method="post" action="/dashboard/provider/sign-in">
        <input type="hidden" name="nonce" value={nonce} />
        <input type="hidden" name="address" value="" />
        <input type="hidden" name="timestamp" value="" />
        <input type="hidden" name="signature" value="" />
        <button type="button" id="wallet-sign-in">
          Sign in with your wallet
        </button>
      </form>
      <p id="wallet-status" role="status" aria-live="polite" class={error ? "error" : "muted"}>
        {error ?? ""}
      </p>
      <p>
        Finance? <a href="/dashboard/sign-in">Sign in with a finance key</a>.
      </p>
    </section>
  </Layout>
);

async function showSignIn(c: Context<AppEnv>, error?: string, status: 200 | 400 | 403 = 200) {
  const nonce = await issueChallenge(secretOf(c), c.var.deps.now());
  setCookie(c, CHALLENGE_COOKIE, nonce, { ...CHALLENGE_COOKIE_OPTIONS, maxAge: CHALLENGE_TTL_MS / 1000 });
  return renderPage(c, <SignInPage nonce={nonce} error={error} />, status);
}

/** The message for the wallet to sign: the gateway computes the payload hash (keccak256 of the canonical JSON). */
async function challenge(c: Context<AppEnv>) {
  const body = await parseJsonBody(c, ChallengeBody);
  if (!(await liveNonce(c, body.nonce))) {
    throw errors.invalidRequest("The sign-in page has expired; reload it.", "nonce", "expired_challenge");
  }
  const timestamp = c.var.deps.now();
  const typedData = walletTypedDataJson(c.var.deps.cfg.chainId, "dashboard", {
    address: body.address,
    timestamp,
    nonce: body.nonce,
  });
  return c.json({ typedData, timestamp });
}

export const providerSignInRoutes = new Hono<AppEnv>()
  .get("/sign-in", (c) => showSignIn(c))
  // A refusal is an OpenAI-style 400 naming its param (the page's script shows its message), not the dashboard's error page.
  .post("/challenge", async (c) => {
    try {
      return await challenge(c);
    } catch (err) {
      if (err instanceof ApiError) return renderError(err, c.var.requestId);
      throw err;
    }
  })
  .post("/sign-in", async (c) => {
    let form: z.output<typeof SignInForm>;
    try {
      form = await parseFormBody(c, SignInForm);
    } catch (err) {
      // A browser posted it: the page again, saying which field was wrong.
      if (err instanceof ApiError && err.status === 400) return showSignIn(c, `The wallet's answer was incomplete: ${err.message}`, 400);
      throw err;
    }
    const { address, nonce, timestamp, signature } = form;
    const now = c.var.deps.now();
    if (!(await liveNonce(c, nonce)) || timestamp > now + 60_000 || now - timestamp > SIGNATURE_WINDOW_MS) {
      return showSignIn(c, "The sign-in page has expired; try again.", 400);
    }
    const payload = { address, timestamp, nonce };
    if (!(await verifyProviderMessage(c.var.deps.cfg.chainId, "dashboard", payload, signature))) {
      return showSignIn(c, "The signature does not match the wallet.", 403);
    }
    const provider = await c.var.deps.registry.providerByAddress(address);
    if (!provider) return showSignIn(c, `The wallet ${address} is not a registered provider's.`, 403);
    deleteCookie(c, CHALLENGE_COOKIE, CHALLENGE_COOKIE_OPTIONS);
    await startSession(c, { kind: "provider", providerId: provider.id });
    return c.redirect("/dashboard/provider", 303);
  })
  .post("/sign-out", async (c) => {
    await endSession(c);
    return c.redirect("/dashboard/provider/sign-in", 303);
  });
