/**
 * Finance sign-in: a finance key, typed into a form and POSTed (never in a URL or local storage),
 * checked by the same lookup as the API's Bearer auth, opens a session; signing out ends it.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { ApiError } from "../../../core/openai/errors";
import { authenticateKey } from "../../../pipeline/inference/authenticate";
import type { AppEnv } from "../../app-env";
import { parseFormBody } from "../../parse";
import { Layout, renderPage } from "./layout";
import { endSession, startSession } from "./session";

/** The form's one field; left empty, the page asks for it again. */
const FinanceSignInForm = z.object({ key: z.string().max(500).default("") });

const SignInPage = ({ error }: { error?: string }) => (
  <Layout title="Sign in to the finance dashboard" nav={null}>
    <section class="signin" aria-labelledby="signin-heading">
      <h2 id="signin-heading">Finance key</h2>
      <form method="post" action="/dashboard/sign-in">
        <label>
          Finance API key
          <input type="password" name="key" required autocomplete="off" spellcheck={false} placeholder="mg-…" />
        </label>
        {error && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit">Sign in</button>
      </form>
      <p class="muted">The key stays on the server: the browser keeps only a session cookie, for 12 hours or until you sign out.</p>
      <p>
        A provider? <a href="/dashboard/provider/sign-in">Sign in with your wallet</a>.
      </p>
    </section>
  </Layout>
);

const showSignIn = (c: Context, error?: string, status: 200 | 400 | 401 | 403 = 200) => renderPage(c, <SignInPage error={error} />, status);

export const signInRoutes = new Hono<AppEnv>()
  .get("/sign-in", (c) => showSignIn(c))
  .post("/sign-in", async (c) => {
    let secret: string;
    try {
      secret = (await parseFormBody(c, FinanceSignInForm)).key.trim();
    } catch (err) {
      // A browser posted it: the page again, saying what was wrong with the form.
      if (err instanceof ApiError && err.status === 400) return showSignIn(c, err.message, 400);
      throw err;
    }
    if (!secret) return showSignIn(c, "Enter a finance key.", 401);
    let key;
    try {
      key = await authenticateKey(c.var.deps, secret);
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return showSignIn(c, "That key is not valid (or has been revoked).", 401);
      throw err;
    }
    if (key.role !== "finance") return showSignIn(c, `That is an ${key.role} key; the dashboard needs a finance key.`, 403);
    await startSession(c, { kind: "finance", keyId: key.id });
    return c.redirect("/dashboard", 303);
  })
  .post("/sign-out", async (c) => {
    await endSession(c);
    return c.redirect("/dashboard/sign-in", 303);
  });
