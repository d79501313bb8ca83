/** viem clients for a local chain (anvil): the chain definition is read from the node. */
import { createPublicClient, createTestClient, createWalletClient, defineChain, http, type Account, type Chain, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

/** Anvil mines on each transaction; poll receipts quickly rather than at viem's 4 s default. */
const POLLING_MS = 50;

/** A viem chain for the node at `rpcUrl`, with the chain id it reports. */
export async function readLocalChain(rpcUrl: string): Promise<Chain> {
  const id = await createPublicClient({ transport: http(rpcUrl) }).getChainId();
  return defineChain({
    id,
    name: `local-${id}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

/** Public, test (anvil mode) and wallet clients for one local node. */
export async function createLocalClients(rpcUrl: string) {
  const chain = await readLocalChain(rpcUrl);
  const transport = http(rpcUrl);
  return {
    chain,
    publicClient: createPublicClient({ chain, transport, pollingInterval: POLLING_MS }),
    testClient: createTestClient({ chain, transport, mode: "anvil", pollingInterval: POLLING_MS }),
    /** A wallet client that signs locally with `key` (or the given account). */
    walletClient: (key: Hex | Account) =>
      createWalletClient({
        chain,
        transport,
        account: typeof key === "string" ? privateKeyToAccount(key) : key,
        pollingInterval: POLLING_MS,
      }),
  };
}

export type LocalClients = Awaited<ReturnType<typeof createLocalClients>>;
