/**
 * Splits a provider's SSE bytes into events, keeping each common event's original bytes so the
 * relay can pass it on without re-encoding. The common event is one `data: …` line ended by a blank
 * line (`\n\n`), which is how vLLM and the agent write every event: its bytes are exactly what
 * `encodeData(data)` would write, and it is handed out with them (`raw`). Every other event (several
 * data lines, an `event:` or `id:` field, comments, `data:` without the space, CR line endings) is
 * parsed by eventsource-parser as before, and handed out without `raw` (the relay re-encodes it).
 * Events are cut at blank lines, which are ASCII, so a UTF-8 sequence never straddles two events;
 * an event split across network reads waits for its end.
 */
import { createParser, type EventSourceParser } from "eventsource-parser";
import type { SseEvent } from "../../core/openai/usage-tap";

export interface FramedEvent extends SseEvent {
  /** The event's bytes as they came, when re-encoding its data would give the same bytes. */
  raw?: Uint8Array;
}

const LF = 0x0a;
const CR = 0x0d;
/** The length of `data: `. */
const PREFIX = 6;
const EMPTY = new Uint8Array(0);

/** `data: ` at `at`. */
const isDataLine = (b: Uint8Array, at: number) =>
  b[at] === 0x64 && b[at + 1] === 0x61 && b[at + 2] === 0x74 && b[at + 3] === 0x61 && b[at + 4] === 0x3a && b[at + 5] === 0x20;

export class SseFramer {
  private pending: Uint8Array = EMPTY;
  private started = false;
  /** Set once the stream used a CR line ending: from then on eventsource-parser reads all of it. */
  private streaming: TextDecoder | null = null;
  private readonly lenient = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
  private readonly parser: EventSourceParser;

  constructor(private readonly onEvent: (ev: FramedEvent) => void) {
    this.parser = createParser({ onEvent: (ev) => onEvent({ event: ev.event, data: ev.data }) });
  }

  feed(bytes: Uint8Array): void {
    let buf = bytes;
    if (this.pending.length > 0) {
      buf = new Uint8Array(this.pending.length + bytes.length);
      buf.set(this.pending);
      buf.set(bytes, this.pending.length);
    }
    if (!this.started && buf.length > 0) {
      if (buf.length < 3 && buf[0] === 0xef) return void (this.pending = buf.slice()); // a BOM may be starting
      this.started = true;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
    }
    if (this.streaming !== null) return this.toParser(buf);
    let start = 0;
    let from = 0;
    for (let nl = buf.indexOf(LF, from); nl !== -1; nl = buf.indexOf(LF, from)) {
      if (buf[nl + 1] !== LF) {
        from = nl + 1;
        continue;
      }
      if (!this.event(buf, start, nl)) return this.toParser(buf.subarray(start));
      start = nl + 2;
      from = start;
    }
    const rest = buf.subarray(start);
    if (rest.includes(CR)) return this.toParser(rest);
    this.pending = rest.length === 0 ? EMPTY : rest.slice();
  }

  /** CR line endings: from here on, eventsource-parser reads the stream (it was at an event's start). */
  private toParser(bytes: Uint8Array): void {
    this.streaming ??= new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    this.pending = EMPTY;
    this.parser.feed(this.streaming.decode(bytes, { stream: true }));
  }

  /** One event: `buf[start, end)` is its text, `end` its blank line. False: it has a CR (not ours to split). */
  private event(buf: Uint8Array, start: number, end: number): boolean {
    const text = this.lenient.decode(buf.subarray(start, end));
    if (text.includes("\r")) return false;
    if (isDataLine(buf, start) && buf.indexOf(LF, start) === end) {
      const data = text.slice(PREFIX);
      // U+FFFD may stand for bytes that were not UTF-8: then they are not the data's bytes, re-encode.
      if (data.includes("\uFFFD")) this.onEvent({ event: undefined, data });
      else this.onEvent({ event: undefined, data, raw: buf.subarray(start, end + 2) });
    } else this.parser.feed(`${text}\n\n`);
    return true;
  }
}
