/**
 * Portkey's open-source gateway (npm @portkey-ai/gateway, Node) as one more target of the gateway
 * bench, measured like the floor: same engines, same load generator, same request body, pinned to
 * the core of the proxy under test. Started from node_modules (`build/start-server.js --port=N
 * --headless`), pointed at the engine with `x-portkey-provider: openai` and
 * `x-portkey-custom-host: <engine>/v1` (127.0.0.1 is one of its default trusted custom hosts).
 * If it does not start or stops answering, the bench goes on without it and says why.
 *
 * package.json overrides Portkey's @hono/node-server to 1.14.1: from 1.14.2 on, its light Response
 * keeps a fetched response's immutable headers and every streamed answer of Portkey 1.15.2 fails
 * with `TypeError: immutable` (Portkey-AI/gateway issue #1389).
 * Reading its figures: Portkey's stream handler waits 25 ms before it relays the first chunk of a
 * stream (a setTimeout in build/start-server.js, 1.15.2), which shows in its TTFT.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stopChild } from "../../scripts/lib/children";
import { freePort } from "../../scripts/lib/ports";
import { ROOT, type TargetName } from "./gateway-settings";
import { sanity } from "./gateway-measure";
import { oneStream, type Target } from "./load";

export const PORTKEY: TargetName = "portkey";
const ENTRY = path.join(ROOT, "node_modules/@portkey-ai/gateway/build/start-server.js");
/** Preloaded into Portkey's process: it exits when the bench does, even one killed without its cleanups. */
const EXIT_WITH_PARENT = "data:text/javascript,const p=process.ppid;setInterval(()=>{if(process.ppid!==p)process.exit(0)},1000).unref()";

/** Completion tokens of one answer: usage.completion_tokens, or the content chunks of a stream. */
async function answerTokens(t: Target, stream: boolean): Promise<number> {
  if (stream) return (await oneStream(t)).tokens;
  const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
  const json = (await res.json()) as { usage?: { completion_tokens?: number } };
  return json.usage?.completion_tokens ?? Number.NaN;
}

export interface Portkey {
  /** The running process (to pin), null when it is not measured. */
  pid: number | null;
  /** The run's targets: `base`, then Portkey while it answers. */
  targets(base: readonly TargetName[]): TargetName[];
  /** Portkey's target for an engine: the same body, with Portkey's routing headers. */
  target(engineUrl: string, body: string): Target;
  /** Runs one measurement; for Portkey, a failure takes it out of the rest of the run instead of failing the bench. */
  guard(name: TargetName, work: () => Promise<void>): Promise<void>;
  /** The sanity request, and what the engine answered through Portkey beside what it answered directly. */
  check(direct: Target, own: Target, stream: boolean): Promise<void>;
  /** One line for the report: how Portkey was run, or why it was not measured. */
  note(): string;
  stop(): Promise<void>;
}

export async function startPortkey(o: { timeoutMs?: number; entry?: string; log?: (line: string) => void } = {}): Promise<Portkey> {
  const { timeoutMs = 30_000, entry = ENTRY, log = () => undefined } = o;
  let child: ChildProcess | null = null;
  let down: string | null = null;
  let stopping = false;
  let started = false;
  const answers: string[] = [];
  const drop = (why: string) => {
    if (down || stopping) return;
    down = why;
    process.stderr.write(`bench: Portkey: ${started ? "left out of the rest of the run" : "not measured"}: ${why}\n`);
  };
  let url = "";
  try {
    if (!existsSync(entry)) throw new Error(`${path.relative(ROOT, entry)} is missing (npm install)`);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const proc = spawn(process.execPath, ["--import", EXIT_WITH_PARENT, entry, `--port=${port}`, "--headless"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = proc;
    let exited: string | null = null;
    proc.once("exit", (code, signal) => (exited = `exited with ${code ?? signal}`));
    proc.once("error", (err) => (exited = err.message));
    for (const s of [proc.stdout, proc.stderr]) s.on("data", (d: Buffer) => log(`[portkey] ${d.toString().trimEnd()}`));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`Portkey ${exited} before it answered`);
      const ok = await fetch(`${url}/`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error(`Portkey did not answer GET / within ${timeoutMs} ms`);
      await sleep(100);
    }
    started = true;
    proc.once("exit", (code, signal) => drop(`Portkey exited with ${code ?? signal} during the run`));
  } catch (err) {
    drop(err instanceof Error ? err.message : String(err));
  }
  const up = () => down === null;
  const guard = async (name: TargetName, work: () => Promise<void>) => {
    if (name !== PORTKEY) return work();
    if (!up()) return;
    try {
      await work();
    } catch (err) {
      drop(err instanceof Error ? err.message : String(err));
    }
  };

  return {
    pid: up() ? (child?.pid ?? null) : null,
    targets: (base) => (up() ? [...base, PORTKEY] : [...base]),
    target: (engineUrl, body) => ({
      url: `${url}/v1/chat/completions`,
      headers: {
        "content-type": "application/json",
        authorization: "Bearer bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": `${engineUrl}/v1`,
      },
      body,
    }),
    guard,
    check: (direct, own, stream) =>
      guard(PORTKEY, async () => {
        await sanity(PORTKEY, own, stream);
        const [mine, theirs] = [await answerTokens(direct, stream), await answerTokens(own, stream)];
        answers.push(`${stream ? "streamed" : "non-streamed"}: ${theirs} completion tokens through Portkey, ${mine} directly`);
      }),
    note: () =>
      down
        ? `Portkey: ${started ? "left out of the rest of the run (its rows above are from before)" : "not measured"}: ${down}.`
        : `Portkey: @portkey-ai/gateway (Node ${process.version}, \`start-server.js --headless\`, provider openai, custom host = the engine), ` +
          `the same body as every target; it forwards only the parameters its OpenAI schema knows, so \`ignore_eos\` does not reach the engine ` +
          `(${answers.join("; ")}).`,
    stop: async () => {
      stopping = true;
      if (child) await stopChild(child);
    },
  };
}
