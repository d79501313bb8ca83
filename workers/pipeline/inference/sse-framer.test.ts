import { createParser } from "eventsource-parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FramedEvent, SseFramer } from "./sse-framer";

const enc = new TextEncoder();
const bytes = (s: string) => enc.encode(s);

function frame(pieces: Uint8Array[]): FramedEvent[] {
  const out: FramedEvent[] = [];
  const framer = new SseFramer((ev) => out.push(ev));
  for (const p of pieces) framer.feed(p);
  return out;
}
/** eventsource-parser over the decoded text: what the relay read before. */
function reference(text: string): { event: string | undefined; data: string }[] {
  const out: { event: string | undefined; data: string }[] = [];
  createParser({ onEvent: (ev) => out.push({ event: ev.event, data: ev.data }) }).feed(text);
  return out;
}
const plain = (evs: FramedEvent[]) => evs.map(({ event, data }) => ({ event, data }));
/** Cuts bytes at the given offsets. */
const cut = (b: Uint8Array, at: number[]) => {
  const points = [...new Set([0, ...at.map((x) => x % (b.length + 1)), b.length])].sort((x, y) => x - y);
  return points.slice(1).map((end, i) => b.subarray(points[i], end));
};

describe("SseFramer", () => {
  it("hands a one-line data event out with its original bytes", () => {
    const wire = bytes('data: {"choices":[{"delta":{"content":"caf\\u00e9 é"}}]}\n\n');
    const [ev] = frame([wire]);
    expect(ev!.data).toBe('{"choices":[{"delta":{"content":"caf\\u00e9 é"}}]}');
    expect(ev!.raw).toEqual(wire);
  });

  it("waits for an event split across reads, at any byte (a UTF-8 sequence included)", () => {
    const wire = bytes('data: {"a":"é😀"}\n\ndata: [DONE]\n\n');
    for (let i = 1; i < wire.length; i++) {
      const evs = frame([wire.subarray(0, i), wire.subarray(i)]);
      expect(plain(evs)).toEqual([
        { event: undefined, data: '{"a":"é😀"}' },
        { event: undefined, data: "[DONE]" },
      ]);
      expect(evs[0]!.raw).toEqual(wire.subarray(0, wire.indexOf(10) + 2));
    }
  });

  it("joins a multi-line data event and reads named events, handing them out without raw bytes", () => {
    const evs = frame([bytes('data: {"a":\ndata: 1}\n\n: a comment\n\nevent: meshgate.receipt\ndata: r1\n\ndata:x\n\n')]);
    expect(evs).toEqual([
      { event: undefined, data: '{"a":\n1}' },
      { event: "meshgate.receipt", data: "r1" },
      { event: undefined, data: "x" },
    ]);
  });

  it("reads CR and CRLF line endings as eventsource-parser does, also after LF events", () => {
    const text = "data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n";
    expect(plain(frame([bytes(text)]))).toEqual(reference(text));
    expect(plain(frame([bytes("data: a\r\n"), bytes("\r\ndata: b\n\n")]))).toEqual(reference("data: a\r\n\r\ndata: b\n\n"));
  });

  it("skips a BOM at the start, and re-encodes what was not UTF-8", () => {
    expect(plain(frame([new Uint8Array([0xef, 0xbb]), new Uint8Array([0xbf, ...bytes("data: a\n\n")])]))).toEqual([
      { event: undefined, data: "a" },
    ]);
    const [ev] = frame([new Uint8Array([...bytes("data: "), 0xff, ...bytes("\n\n")])]);
    expect(ev).toEqual({ event: undefined, data: "\uFFFD" });
  });

  it("reads any stream, cut anywhere, as eventsource-parser reads it whole", () => {
    const line = fc.oneof(
      fc.string({ unit: "binary", maxLength: 12 }).map((s) => `data: ${s.replace(/[\r\n]/g, "")}`),
      fc.constantFrom("data:x", "data: [DONE]", "event: meshgate.receipt", ": keep-alive", "id: 7", "data", ""),
    );
    const stream = fc.array(fc.array(line, { maxLength: 3 }), { maxLength: 6 });
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 5 }), fc.constantFrom("\n", "\r\n"), (events, at, eol) => {
        const text = events.map((ls) => ls.map((l) => `${l}${eol}`).join("") + eol).join("");
        const wire = bytes(text);
        const evs = frame(cut(wire, at));
        expect(plain(evs)).toEqual(reference(text));
        for (const ev of evs) if (ev.raw) expect(ev.raw).toEqual(bytes(`data: ${ev.data}\n\n`));
      }),
      { numRuns: 100 },
    );
  });
});
