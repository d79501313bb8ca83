/** SIGKILL the cheapest provider while requests run: the client sees no error. */
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { spawnTs } from "../../scripts/lib/children";
import { byId, resetNetwork, sdk } from "../support/network-client";

const dev = inject("dev");
const client = sdk(dev);
const simA = byId(dev, "sim-a");

beforeAll(() => resetNetwork(dev));
// The restarted sim-a is left running for the files after this one (the e2e project runs every file
// in one worker process); it stops with that process, its stdin pipe closing.
afterAll(() => resetNetwork(dev));

it("killing the cheapest provider mid-run costs the client no error", async () => {
  const served = new Map<string, number>();
  let killed = false;
  const run = async (i: number) => {
    const stream = i % 2 === 0;
    if (stream) {
      const s = await client.chat.completions.create({
        model: dev.model,
        messages: [{ role: "user", content: `n${i}` }],
        max_tokens: 4,
        stream: true,
      });
      let text = "";
      for await (const c of s) text += c.choices[0]?.delta.content ?? "";
      return text;
    }
    const { data, response } = await client.chat.completions
      .create({ model: dev.model, messages: [{ role: "user", content: `n${i}` }], max_tokens: 4 })
      .withResponse();
    const p = response.headers.get("x-meshgate-provider")!;
    served.set(p, (served.get(p) ?? 0) + 1);
    return data.choices[0]?.message.content ?? "";
  };
  for (let i = 0; i < 40; i++) {
    if (i === 10) {
      process.kill(simA.pid, "SIGKILL");
      killed = true;
    }
    // Requests after the kill reach the dead provider first (its heartbeat is still fresh) and fail over.
    const out = await run(i);
    expect(out.trim().split(" ")).toHaveLength(4);
  }
  expect(killed).toBe(true);
  expect(served.get("sim-b")).toBeGreaterThan(0);

  // Bring sim-a back (same port, same wallet) for any test that runs after this one.
  await spawnTs(simA.restart.entry, simA.restart.args, { name: "sim-a", timeoutMs: 60_000 });
});
