/** The page frame every dashboard page shares, and how a page becomes a response. */
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Child, FC, PropsWithChildren } from "hono/jsx";
import { assetUrl } from "./assets";
import type { FinanceSession } from "./session";

export type Nav =
  | { kind: "finance"; operator: boolean; who: string; active: string }
  | { kind: "provider"; who: string; active: string }
  | null;

export function financeNav(s: FinanceSession, active: string): Nav {
  return {
    kind: "finance",
    operator: s.scope === "all",
    who: `${s.keyName || s.keyPrefix}${s.scope === "all" ? " (operator)" : ""}`,
    active,
  };
}

const FINANCE_LINKS: [string, string][] = [
  ["/dashboard", "Overview"],
  ["/dashboard/usage", "Usage"],
  ["/dashboard/deposits", "Deposits"],
  ["/dashboard/settlements", "Settlements"],
];

const NavBar: FC<{ nav: NonNullable<Nav> }> = ({ nav }) => {
  const links =
    nav.kind === "finance"
      ? [...FINANCE_LINKS, ...(nav.operator ? [["/dashboard/providers", "Providers"] as [string, string]] : [])]
      : [["/dashboard/provider", "Earnings"] as [string, string]];
  return (
    <>
      <nav aria-label="Dashboard">
        <ul>
          {links.map(([href, text]) => (
            <li>
              <a href={href} aria-current={href === nav.active ? "page" : undefined}>
                {text}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      {nav.kind === "finance" && (
        <form method="get" action="/dashboard/requests" role="search">
          <label>
            Request id <input name="id" required maxlength={200} placeholder="gen-…" />
          </label>
        </form>
      )}
      <span class="muted">{nav.who}</span>
      <form method="post" action={nav.kind === "finance" ? "/dashboard/sign-out" : "/dashboard/provider/sign-out"}>
        <button type="submit">Sign out</button>
      </form>
    </>
  );
};

export const Layout: FC<PropsWithChildren<{ title: string; nav: Nav }>> = ({ title, nav, children }) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${title} · Meshgate`}</title>
      <link rel="stylesheet" href={assetUrl("dashboard.css")} />
      <script src={assetUrl("chart.js")} defer></script>
      <script src={assetUrl("dashboard.js")} defer></script>
    </head>
    <body>
      <header>
        <div class="bar">
          <a class="brand" href={nav?.kind === "provider" ? "/dashboard/provider" : "/dashboard"}>
            Meshgate
          </a>
          {nav && <NavBar nav={nav} />}
        </div>
      </header>
      <main>
        <h1>{title}</h1>
        {children}
      </main>
    </body>
  </html>
);

/**
 * Data for the page's script, as JSON in a non-executable <script> element. `<` is escaped, so no
 * value can close the element early; the JSON means the same.
 */
export const JsonData: FC<{ id: string; value: unknown }> = ({ id, value }) => (
  <script
    type="application/json"
    id={id}
    dangerouslySetInnerHTML={{
      __html: JSON.stringify(value)
        .replace(/</g, "\\u003c")
        .replace(/\u2028/g, "\\u2028")
        .replace(/\u2029/g, "\\u2029"),
    }}
  />
);

/** A rendered page (JSX renders to a string, or a promise of one) as an HTML response. */
export async function renderPage(c: Context, page: string | Promise<string>, status: ContentfulStatusCode = 200): Promise<Response> {
  return c.html(`<!doctype html>${await page}`, status);
}

export const ErrorPage = (c: Context, nav: Nav, status: ContentfulStatusCode, title: string, message: Child) =>
  renderPage(
    c,
    <Layout title={title} nav={nav}>
      <p>{message}</p>
      <p>
        <a href={nav?.kind === "provider" ? "/dashboard/provider" : "/dashboard"}>Back to the dashboard</a>
      </p>
    </Layout>,
    status,
  );
