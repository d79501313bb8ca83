/**
 * The receipt outbox: every signed receipt is appended to `receipts.jsonl` in --outbox-dir (one
 * `{"requestId","receipt"}` line each, fsync'd in batches) until the gateway acknowledges it
 * (outbox-sender.ts); acknowledged ones are compacted away (the file is rewritten with the rest:
 * temp file, fsync, rename). Unacknowledged receipts survive restarts; nothing here drops one.
 */
import { mkdir, open, readFile, rename, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe } from "./errors";

export interface OutboxEntry {
  requestId: string;
  /** encodeSignedReceipt's text, exactly as signed and sent. */
  receipt: string;
}

const SYNC_DELAY_MS = 20;
const SYNC_BATCH = 256;

export class Outbox {
  /** Oldest first (Map keeps insertion order); a requeued entry moves to the back. */
  private readonly pending = new Map<string, string>();
  private queued: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private syncTimer: NodeJS.Timeout | undefined;

  private closed = false;

  private constructor(
    readonly file: string,
    private fh: FileHandle,
    private readonly log: (line: string) => void,
  ) {}

  /** Opens (creating) the outbox and reloads what was not acknowledged; a torn last line is skipped. */
  static async open(dir: string, log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<Outbox> {
    await mkdir(dir, { recursive: true });
    const file = join(dir, "receipts.jsonl");
    const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return "";
      throw err;
    });
    const outbox = new Outbox(file, await open(file, "a"), log);
    for (const line of text.split("\n")) {
      const entry = parseLine(line);
      if (entry) outbox.pending.set(entry.requestId, entry.receipt);
    }
    // Rewrite once: drops a torn line so the next append starts on a line of its own.
    if (text !== "") await outbox.serial(() => outbox.rewrite());
    return outbox;
  }

  get size(): number {
    return this.pending.size;
  }

  add(entry: OutboxEntry): void {
    this.pending.set(entry.requestId, entry.receipt);
    if (this.closed) {
      // Only a request cut after shutdown gave up on it lands here; it is still posted by a final flush if one runs.
      this.log(`outbox closed: receipt ${entry.requestId} not written to disk`);
      return;
    }
    this.queued.push(`${JSON.stringify(entry)}\n`);
    if (this.queued.length >= SYNC_BATCH) this.syncLogged();
    else this.syncTimer ??= setTimeout(() => this.syncLogged(), SYNC_DELAY_MS);
  }

  private syncLogged(): void {
    this.sync().catch((err: unknown) => this.log(`outbox write failed (kept in memory, retried on the next write): ${describe(err)}`));
  }

  /** The oldest `max` entries, for one post. */
  batch(max: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const [requestId, receipt] of this.pending) {
      if (out.length >= max) break;
      out.push({ requestId, receipt });
    }
    return out;
  }

  /** Acknowledged ids leave the outbox (and the file); `notAccepted` go to the back of the line. */
  async settle(accepted: readonly string[], notAccepted: readonly OutboxEntry[]): Promise<void> {
    let removed = 0;
    for (const id of accepted) if (this.pending.delete(id)) removed++;
    for (const e of notAccepted) {
      if (this.pending.delete(e.requestId)) this.pending.set(e.requestId, e.receipt);
    }
    if (removed > 0) await this.serial(() => this.rewrite());
  }

  /**
   * Receipts the gateway keeps refusing leave the line for `rejected.jsonl` beside the outbox (with
   * the gateway's reason): kept for the operator, no longer posted.
   */
  async setAside(entries: readonly { entry: OutboxEntry; reason: string }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.serial(async () => {
      if (this.closed) return;
      const out = await open(join(dirname(this.file), "rejected.jsonl"), "a");
      try {
        await out.appendFile(entries.map(({ entry, reason }) => `${JSON.stringify({ ...entry, reason })}\n`).join(""));
        await out.sync();
      } finally {
        await out.close();
      }
    });
    for (const { entry } of entries) this.pending.delete(entry.requestId);
    await this.serial(() => this.rewrite());
  }

  /** Appends what was added since the last sync and fsyncs it. */
  sync(): Promise<void> {
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    return this.serial(async () => {
      const lines = this.queued;
      if (lines.length === 0 || this.closed) return;
      this.queued = [];
      try {
        await this.fh.appendFile(lines.join(""));
        await this.fh.datasync();
      } catch (err) {
        this.queued = lines.concat(this.queued);
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.sync();
    await this.serial(async () => {
      this.closed = true;
      await this.fh.close();
    });
  }

  private serial(task: () => Promise<void>): Promise<void> {
    const run = this.chain.then(task);
    this.chain = run.catch(() => {});
    return run;
  }

  /** Everything pending (queued lines included) to a temp file, fsync, rename over the outbox. */
  private async rewrite(): Promise<void> {
    if (this.closed) return; // acknowledged lines left behind are re-sent next start; the gateway dedups by request id
    const text = [...this.pending].map(([requestId, receipt]) => `${JSON.stringify({ requestId, receipt })}\n`).join("");
    this.queued = [];
    const tmp = `${this.file}.tmp`;
    const out = await open(tmp, "w");
    try {
      await out.writeFile(text);
      await out.sync();
    } finally {
      await out.close();
    }
    await rename(tmp, this.file);
    const old = this.fh;
    this.fh = await open(this.file, "a");
    await old.close();
    // The rename itself is durable once the directory is synced.
    const dir = await open(dirname(this.file), "r");
    await dir.sync().finally(() => dir.close());
  }
}

function parseLine(line: string): OutboxEntry | null {
  if (line.trim() === "") return null;
  try {
    const v = JSON.parse(line) as Partial<OutboxEntry>;
    return typeof v.requestId === "string" && typeof v.receipt === "string" ? { requestId: v.requestId, receipt: v.receipt } : null;
  } catch {
    return null;
  }
}
