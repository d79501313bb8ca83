import { describe, expect, it } from "vitest";
import { keptAliveUntil, oneEvent, within } from "./early";

const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c)).join("");
const bytes = (s: string) => new TextEncoder().encode(s);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const r = await reader.read();
    if (r.done) return out;
    out.push(r.value);
  }
}

describe("within", () => {
  it("gives the value when it comes first, null when the time runs out first", async () => {
    expect(await within(Promise.resolve(7), 50)).toBe(7);
    expect(
      await within(
        sleep(200).then(() => 7),
        20,
      ),
    ).toBeNull();
  });
});

describe("keptAliveUntil", () => {
  it("sends a keep-alive at once and one per interval until the body is ready, then the body", async () => {
    const body = sleep(130).then(
      () =>
        new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(bytes("data: a\n\n"));
            c.enqueue(bytes("data: [DONE]\n\n"));
            c.close();
          },
        }),
    );
    const out = text(await readAll(keptAliveUntil(body, 50, () => undefined)));
    const comments = out.split(": keep-alive\n\n").length - 1;
    expect(comments).toBeGreaterThanOrEqual(3); // at once, ~50 ms, ~100 ms
    expect(comments).toBeLessThanOrEqual(4);
    expect(out.endsWith("data: a\n\ndata: [DONE]\n\n")).toBe(true);
  });

  it("hands out an error event as the whole answer when that is what came", async () => {
    const out = text(await readAll(keptAliveUntil(Promise.resolve(oneEvent({ error: { code: "x" } })), 50, () => undefined)));
    expect(out).toBe(': keep-alive\n\ndata: {"error":{"code":"x"}}\n\n');
  });

  it("tells its owner when the client cancels, and cancels the body that comes later", async () => {
    let left = 0;
    let bodyCancelled = false;
    let ready!: (s: ReadableStream<Uint8Array>) => void;
    const body = new Promise<ReadableStream<Uint8Array>>((r) => {
      ready = r;
    });
    const reader = keptAliveUntil(body, 1_000, () => left++).getReader();
    await reader.read(); // the first keep-alive
    await reader.cancel("gone");
    expect(left).toBe(1);
    ready(
      new ReadableStream({
        cancel() {
          bodyCancelled = true;
        },
      }),
    );
    await sleep(10);
    expect(bodyCancelled).toBe(true);
  });
});
