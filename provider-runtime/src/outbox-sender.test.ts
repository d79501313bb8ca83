import { createServer } from "node:http";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Outbox } from "./outbox";
import { startOutboxSender } from "./outbox-sender";

/** A gateway whose answer to each receipts post is scripted by the test; it records what it was sent. */
const posted: string[][] = [];
let answer: (receipts: string[]) => { accepted: string[]; rejected: { request_id: string; reason: string }[] } = () => ({
  accepted: [],
  rejected: [],
});
const server = createServer((req, res) => {
  let body = "";
  req.on("data", (c: Buffer) => (body += c.toString()));
  req.on("end", () => {
    const receipts = (JSON.parse(body) as { payload: { receipts: string[] } }).payload.receipts;
    posted.push(receipts);
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(answer(receipts)));
  });
});
const root = mkdtempSync(join(tmpdir(), "meshgate-outbox-sender-"));
let gatewayUrl = "";
beforeAll(
  () =>
    new Promise<void>((resolve) =>
      server.listen(0, "127.0.0.1", () => {
        gatewayUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        resolve();
      }),
    ),
);
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(root, { recursive: true, force: true });
});

describe("the outbox sender", () => {
  it("keeps a receipt the gateway neither accepts nor rejects, sends it again, and never sets it aside", async () => {
    const outbox = await Outbox.open(join(root, "kept"));
    // The receipt text is its request id here: the scripted gateway answers by it.
    for (const id of ["r1", "r2", "r3"]) outbox.add({ requestId: id, receipt: id });
    const account = privateKeyToAccount(generatePrivateKey());
    const logs: string[] = [];
    const sender = startOutboxSender({
      outbox,
      post: { gatewayUrl, account, chainId: 31337 },
      address: account.address,
      periodMs: 60_000,
      nextTimestamp: () => Date.now(),
      log: (line) => logs.push(line),
    });
    try {
      answer = () => ({ accepted: ["r1"], rejected: [] }); // r2 and r3: not yet (e.g. a billing write failed)
      expect(await sender.flush()).toEqual({ sent: 1, remaining: 2 });
      expect(outbox.batch(10).map((e) => e.requestId)).toEqual(["r2", "r3"]);

      // Left unanswered more often than a refusal is tolerated: still kept, and sent each time.
      answer = () => ({ accepted: [], rejected: [] });
      posted.length = 0;
      for (let i = 0; i < 5; i++) expect(await sender.flush()).toEqual({ sent: 0, remaining: 2 });
      expect(posted).toEqual(Array.from({ length: 5 }, () => ["r2", "r3"]));
      expect(existsSync(join(dirname(outbox.file), "rejected.jsonl"))).toBe(false);

      answer = (receipts) => ({ accepted: receipts, rejected: [] });
      expect(await sender.flush()).toEqual({ sent: 2, remaining: 0 });
      expect(logs).toEqual([]);
    } finally {
      sender.stop();
      await outbox.close();
    }
  });
});
