/**
 * Dashboard sessions over HTTP: the `mg_session` cookie (HttpOnly, Secure, SameSite=Strict, only
 * under /dashboard), the middleware that turns it into a live session or a redirect to sign-in,
 * and the same-origin check every POST passes (SameSite=Strict already keeps the cookie off
 * cross-site requests; the Origin check also stops a cross-site form that needs no cookie, such as
 * a forced sign-in).
 */
import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import {
  newSessionToken,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  sessionTokenHash,
  type DashboardSession,
} from "../../../core/auth/dashboard-session";
import type { AppEnv } from "../../app-env";

export type FinanceSession = Extract<DashboardSession, { kind: "finance" }>;
export type ProviderSession = Extract<DashboardSession, { kind: "provider" }>;
export type DashEnv<S extends DashboardSession = DashboardSession> = {
  Bindings: AppEnv["Bindings"];
  Variables: AppEnv["Variables"] & { session: S };
};

const COOKIE_OPTIONS = { path: "/dashboard", httpOnly: true, secure: true, sameSite: "Strict" } as const;

/** Starts a session and sets its cookie; the token itself is never stored. */
export async function startSession(
  c: Context,
  who: { kind: "finance"; keyId: string } | { kind: "provider"; providerId: string },
): Promise<void> {
  const { deps } = (c as Context<AppEnv>).var;
  const token = newSessionToken();
  const tokenHash = (await sessionTokenHash(token))!;
  const expiresAt = new Date(deps.now() + SESSION_TTL_MS);
  await deps.sessions.create({ ...who, tokenHash, expiresAt });
  setCookie(c, SESSION_COOKIE, token, { ...COOKIE_OPTIONS, maxAge: SESSION_TTL_MS / 1000 });
}

/** Ends the session server-side (a replayed cookie stops working) and clears the cookie. */
export async function endSession(c: Context): Promise<void> {
  const { deps } = (c as Context<AppEnv>).var;
  const hash = await sessionTokenHash(getCookie(c, SESSION_COOKIE));
  if (hash) await deps.sessions.revoke(hash, new Date(deps.now()));
  deleteCookie(c, SESSION_COOKIE, COOKIE_OPTIONS);
}

/**
 * Pages of one kind of session: anything else (no cookie, unknown, expired, signed out, a revoked
 * key, the other kind) is sent to that kind's sign-in page.
 */
export function requireSession<K extends DashboardSession["kind"]>(
  kind: K,
  signInPath: string,
): MiddlewareHandler<DashEnv<Extract<DashboardSession, { kind: K }>>> {
  return async (c, next) => {
    const { deps } = c.var;
    const hash = await sessionTokenHash(getCookie(c, SESSION_COOKIE));
    const session = hash ? await deps.sessions.find(hash, new Date(deps.now())) : null;
    if (!session || session.kind !== kind) {
      if (hash && !session) deleteCookie(c, SESSION_COOKIE, COOKIE_OPTIONS);
      return c.redirect(signInPath, 303);
    }
    c.set("session", session as Extract<DashboardSession, { kind: K }>);
    await next();
  };
}

/**
 * POSTs must come from a page of this origin: the browser's Origin header (or, where a browser
 * leaves it out, Sec-Fetch-Site) says so. Anything else is refused before it is read.
 */
export const sameOriginPosts = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (c.req.method === "GET" || c.req.method === "HEAD") return next();
  const origin = c.req.header("origin");
  const site = c.req.header("sec-fetch-site");
  const ok = origin ? origin === new URL(c.req.url).origin : site === "same-origin";
  if (!ok) return c.text("Cross-origin requests to the dashboard are refused.", 403);
  return next();
};
