/** How the dashboard writes money, counts, times and chain references. */
import type { FC } from "hono/jsx";
import { formatUsdc } from "../../../core/money/units";
import { baseToPico } from "../../../core/settlement/units";

/** Exact USDC from pico-USDC (never a float). */
export const usdc = (pico: bigint) => formatUsdc(pico);
/** Exact USDC from on-chain base units (10⁻⁶). */
export const baseUsdc = (base: bigint) => formatUsdc(baseToPico(base));
/** For charts only: a float is fine for drawing a bar, never for the figures in tables. */
export const usdcFloat = (pico: bigint) => Number(pico) / 1e12;
export const count = (n: number | bigint) => n.toLocaleString("en-US");
export const when = (d: Date | null) => (d ? `${d.toISOString().slice(0, 19).replace("T", " ")} UTC` : "—");
export const short = (hex: string, keep = 10) => (hex.length > keep * 2 + 1 ? `${hex.slice(0, keep)}…${hex.slice(-6)}` : hex);

/** A transaction hash: a link to the block explorer when one is configured (EXPLORER_TX_URL), else the hash. */
export const TxHash: FC<{ hash: string | null; explorer: string | null }> = ({ hash, explorer }) => {
  if (!hash) return <span class="muted">not sent yet</span>;
  return explorer ? (
    <a class="mono" href={`${explorer}${hash}`} rel="noopener noreferrer" target="_blank">
      {hash}
    </a>
  ) : (
    <code class="tx-hash">{hash}</code>
  );
};
