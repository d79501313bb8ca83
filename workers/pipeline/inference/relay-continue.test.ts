/** relayStream with a continuation: a broken or silent stream spliced with another provider's part. */
import { describe, expect, it } from "vitest";
import { relayStream, type CutPart, type RelayOutcome, type RelayPart } from "./relay";

const enc = new TextEncoder();
const done = "data: [DONE]\n\n";

/** An upstream body whose pieces arrive with the given delays (ms); `stall` never ends. */
function upstream(pieces: (string | { wait: number })[], opts: { stall?: boolean } = {}) {
  const stream = new ReadableStream<Uint8Array>({
    async start(c) {
      for (const p of pieces) {
        if (typeof p === "string") c.enqueue(enc.encode(p));
        else await new Promise((r) => setTimeout(r, p.wait));
      }
      if (!opts.stall) c.close();
    },
  });
  return { reader: stream.getReader() };
}

describe("relayStream continuing a broken stream", () => {
  const ident = { id: "chatcmpl-1", created: 7, model: "m" };
  const c1 = (content: string) =>
    `data: ${JSON.stringify({ ...ident, choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
  const c2 = (d: Record<string, unknown>, finishReason: string | null = null) =>
    `data: ${JSON.stringify({ id: "chatcmpl-2", created: 9, model: "m", choices: [{ index: 0, delta: d, finish_reason: finishReason }] })}\n\n`;
  const usage2 = `data: ${JSON.stringify({ id: "chatcmpl-2", choices: [], usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 } })}\n\n`;
  const receipt = (r: string) => `event: meshgate.receipt\ndata: ${r}\n\n`;

  function relay(first: string[], o: { idleMs?: number; deadlineAtMs?: number; next?: () => RelayPart | null } = {}) {
    const [head, ...rest] = first;
    const up = upstream(rest, { stall: o.idleMs !== undefined || o.deadlineAtMs !== undefined });
    const cuts: CutPart[] = [];
    const aborts: string[] = [];
    let outcome: RelayOutcome | undefined;
    const body = relayStream({
      first: enc.encode(head!),
      reader: up.reader,
      abortUpstream: (r) => aborts.push(r),
      includeUsage: true,
      idleDeadlineMs: o.idleMs ?? 5_000,
      keepaliveMs: 5_000,
      now: Date.now,
      deadlineAtMs: o.deadlineAtMs,
      totalDeadlineMs: 100,
      onFinish: (x) => {
        outcome = x;
      },
      continueAfter: async (cut) => {
        cuts.push(cut);
        return o.next ? o.next() : null;
      },
    });
    return { body, cuts, aborts, outcome: () => outcome!, upstream: up };
  }
  const part = (pieces: string[]): RelayPart => {
    const [head, ...rest] = pieces;
    return {
      first: enc.encode(head!),
      reader: upstream(rest).reader,
      abortUpstream: () => undefined,
      costOf: (t) => `cost(${t.promptTokens},${t.completionTokens})+1`,
      carried: { promptTokens: 5, completionTokens: 2 },
    };
  };
  const dataOf = (text: string) =>
    text
      .split("\n\n")
      .filter((e) => e.startsWith("data: ") && e !== "data: [DONE]")
      .map((e) => JSON.parse(e.slice(6)) as Record<string, any>);

  it("splices another provider's continuation into the same stream: one id, no second role chunk, one summed usage chunk", async () => {
    const r = relay([c1("amber"), c1(" basalt"), receipt("r1")], {
      next: () =>
        part([
          c2({ role: "assistant", content: "" }),
          c2({ content: " cedar" }),
          c2({ content: " delta" }, "length"),
          usage2,
          done,
          receipt("r2"),
        ]),
    });
    const text = await new Response(r.body).text();
    const chunks = dataOf(text);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("amber basalt cedar delta");
    expect(new Set(chunks.map((c) => c.id))).toEqual(new Set(["chatcmpl-1"]));
    expect(chunks.filter((c) => c.choices.length === 0)).toEqual([
      expect.objectContaining({ usage: { prompt_tokens: 14, completion_tokens: 4, total_tokens: 18, cost: "cost(9,2)+1" } }),
    ]);
    expect(text.trim().endsWith("data: [DONE]")).toBe(true);
    expect(text).not.toContain("error");
    expect(r.cuts[0]).toMatchObject({
      deliveredTokens: 2,
      errorCode: "upstream_stream_ended",
      receipt: "r1",
      transcript: { text: "amber basalt" },
    });
    expect(r.aborts).toEqual(["upstream_stream_ended"]);
    // The last part's own outcome (the continuation is billed from its counts and receipt).
    expect(r.outcome()).toMatchObject({
      complete: true,
      errorCode: null,
      reported: { promptTokens: 9, completionTokens: 2 },
      deliveredTokens: 2,
      receipt: "r2",
    });
  });

  it("continues a stream that went silent after the idle deadline", async () => {
    const r = relay([c1("amber"), { wait: 10_000 } as never], { idleMs: 100, next: () => part([c2({ content: " cedar" }, "stop"), done]) });
    const chunks = dataOf(await new Response(r.body).text());
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("")).toBe("amber cedar");
    expect(r.cuts[0]?.errorCode).toBe("upstream_idle_timeout");
  });

  it("ends with the error event as before when nobody continues", async () => {
    const r = relay([c1("amber")]);
    const text = await new Response(r.body).text();
    expect(text).toContain('"code":"upstream_stream_ended"');
    expect(r.cuts).toHaveLength(1);
    expect(r.outcome()).toMatchObject({ complete: false, errorCode: "upstream_stream_ended", deliveredTokens: 1 });
  });

  it("a client that leaves while a continuation is sought: the cut part is finished as it was cut, the late continuation dropped", async () => {
    const client = new AbortController();
    let lateAborted = "";
    let outcome: RelayOutcome | undefined;
    const late = part([c2({ content: " cedar" }, "stop"), done]);
    const body = relayStream({
      first: enc.encode(c1("amber")),
      reader: upstream([]).reader,
      abortUpstream: () => undefined,
      includeUsage: false,
      idleDeadlineMs: 5_000,
      keepaliveMs: 5_000,
      now: Date.now,
      clientSignal: client.signal,
      onFinish: (x) => {
        outcome = x;
      },
      continueAfter: async () => {
        client.abort();
        return { ...late, abortUpstream: (r) => (lateAborted = r) };
      },
    });
    await new Response(body).text();
    expect(outcome).toMatchObject({ cancelledByClient: true, errorCode: "upstream_stream_ended", deliveredTokens: 1 });
    expect(lateAborted).toBe("client_disconnected");
  });

  it("ends a stream still open at the request's total deadline with deadline_exceeded, not continued", async () => {
    const r = relay([c1("amber"), { wait: 10_000 } as never], {
      deadlineAtMs: Date.now() + 150,
      next: () => part([c2({ content: "x" }, "stop"), done]),
    });
    const text = await new Response(r.body).text();
    expect(text).toContain('"code":"deadline_exceeded"');
    expect(r.cuts).toHaveLength(0);
    expect(r.outcome().errorCode).toBe("deadline_exceeded");
  });

  it("keeps the client company with keep-alives while the continuation's first byte is awaited", async () => {
    const body = relayStream({
      first: enc.encode(c1("amber")),
      reader: upstream([]).reader,
      abortUpstream: () => undefined,
      includeUsage: false,
      idleDeadlineMs: 5_000,
      keepaliveMs: 40,
      now: Date.now,
      onFinish: () => undefined,
      continueAfter: async () => {
        await new Promise((r) => setTimeout(r, 150));
        return part([c2({ content: " cedar" }, "stop"), done]);
      },
    });
    const text = await new Response(body).text();
    const between = text.slice(text.indexOf("amber"), text.indexOf("cedar"));
    expect(between.split(": keep-alive").length - 1).toBeGreaterThanOrEqual(2);
    expect(
      dataOf(text)
        .map((c) => c.choices[0]?.delta?.content ?? "")
        .join(""),
    ).toBe("amber cedar");
  });
});
