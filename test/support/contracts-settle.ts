/** What the Settlement tests (settle*.test.ts) share beyond ./fixture. */
import { usdcAs, type Chain } from "./contracts";

/** The USDC balance of `who`. */
export const balance = (c: Chain, who: `0x${string}`) => usdcAs(c, c.owner).read.balanceOf([who]);
