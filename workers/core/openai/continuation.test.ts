import { describe, expect, it } from "vitest";
import {
  continuationBody,
  continuationRequestId,
  emptyTranscript,
  noteChunk,
  remainingCap,
  spliceChunk,
  sumCounts,
  whyNotContinue,
  type ContinuableRequest,
} from "./continuation";

const chat: ContinuableRequest = {
  endpoint: "chat",
  stream: true,
  body: { model: "m", messages: [{ role: "user", content: "hi" }], max_tokens: 40 },
  maxOutputTokens: 40,
  optIn: undefined,
};
const content = (c: string, index = 0) => ({
  id: "chatcmpl-1",
  created: 7,
  model: "m",
  choices: [{ index, delta: { content: c }, finish_reason: null }],
});

describe("the transcript of the first stream", () => {
  it("keeps the first chunk's identity and choice 0's text", () => {
    const t = emptyTranscript();
    noteChunk(t, { id: "chatcmpl-1", created: 7, model: "m", choices: [{ index: 0, delta: { role: "assistant", content: "" } }] });
    noteChunk(t, content("amber"));
    noteChunk(t, { ...content(" basalt"), id: "other" });
    expect(t).toMatchObject({ id: "chatcmpl-1", created: 7, model: "m", text: "amber basalt", unsplicable: false, finishSeen: false });
  });

  it("reads completions' text", () => {
    const t = emptyTranscript();
    noteChunk(t, { id: "cmpl-1", choices: [{ index: 0, text: "amber" }] });
    noteChunk(t, { id: "cmpl-1", choices: [{ index: 0, text: " cedar", finish_reason: "length" }] });
    expect(t).toMatchObject({ text: "amber cedar", finishSeen: true });
  });

  it("marks tool calls, reasoning and other choices as not continuable", () => {
    for (const chunk of [
      { choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: "{" } }] } }] },
      { choices: [{ index: 0, delta: { reasoning: "hm" } }] },
      content("x", 1),
    ]) {
      const t = emptyTranscript();
      noteChunk(t, chunk);
      expect(t.unsplicable).toBe(true);
    }
  });
});

describe("whether a broken stream may be continued", () => {
  const t = { ...emptyTranscript(), text: "amber" };
  it("by default, yes", () => expect(whyNotContinue(chat, t, 20)).toBeNull());
  it("not when the caller opted out", () => expect(whyNotContinue({ ...chat, optIn: false }, t, 20)).toBe("opted_out"));
  it("not for n > 1 or several completion prompts", () => {
    expect(whyNotContinue({ ...chat, body: { ...chat.body, n: 2 } }, t, 20)).toBe("multiple_choices");
    expect(whyNotContinue({ ...chat, endpoint: "completions", body: { prompt: ["a", "b"] } }, t, 20)).toBe("multiple_choices");
  });
  it("not after tool calls, a finish, or the whole cap", () => {
    expect(whyNotContinue(chat, { ...t, unsplicable: true }, 20)).toBe("unsplicable");
    expect(whyNotContinue(chat, { ...t, finishSeen: true }, 20)).toBe("finished");
    expect(whyNotContinue(chat, t, 40)).toBe("cap_reached");
  });
  it("not for a JSON answer", () => expect(whyNotContinue({ ...chat, stream: false }, t, 0)).toBe("not_streaming"));
});

describe("the continuation's body", () => {
  it("chat: the partial answer as the final assistant message, continued, with the cap lowered", () => {
    const body = continuationBody("chat", chat.body, "amber basalt", remainingCap(40, 2));
    expect(body).toEqual({
      model: "m",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "amber basalt" },
      ],
      max_tokens: 38,
      continue_final_message: true,
      add_generation_prompt: false,
    });
    expect(chat.body.messages).toHaveLength(1); // the client's body is not changed
  });

  it("chat: max_completion_tokens is lowered when that is what the client sent", () => {
    const body = continuationBody("chat", { messages: [], max_completion_tokens: 10 }, "a", 7);
    expect(body).toMatchObject({ max_completion_tokens: 7 });
    expect(body).not.toHaveProperty("max_tokens");
  });

  it("completions: the prompt followed by the partial text", () => {
    expect(continuationBody("completions", { prompt: "Once", max_tokens: 5 }, " upon a", remainingCap(5, 2))).toEqual({
      prompt: "Once upon a",
      max_tokens: 3,
    });
  });

  it("nothing delivered yet: the request as it was", () => {
    expect(continuationBody("chat", chat.body, "", 40)).toBe(chat.body);
  });

  it("no cap asked: none set", () => {
    expect(remainingCap(null, 20)).toBeNull();
    expect(continuationBody("chat", { messages: [] }, "a", null)).not.toHaveProperty("max_tokens");
  });

  it("has its own request id, derived from the client's", () => expect(continuationRequestId("gen-abc")).toBe("gen-abc.1"));
});

describe("splicing the continuation's chunks", () => {
  const into = { id: "chatcmpl-1", created: 7, model: "m" };
  it("drops its opening role chunk", () => {
    expect(
      spliceChunk({ id: "x", choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] }, into),
    ).toBeNull();
  });
  it("stamps the first stream's identity and choice index 0", () => {
    const out = spliceChunk({ id: "x", created: 9, model: "m2", choices: [{ index: 0, delta: { content: " cedar" } }] }, into);
    expect(out).toEqual({ id: "chatcmpl-1", created: 7, model: "m", choices: [{ index: 0, delta: { content: " cedar" } }] });
  });
  it("keeps its finish chunk and its usage chunk, restamped", () => {
    expect(spliceChunk({ id: "x", choices: [{ index: 0, delta: {}, finish_reason: "length" }] }, into)).toMatchObject({ id: "chatcmpl-1" });
    expect(spliceChunk({ id: "x", choices: [], usage: { prompt_tokens: 1 } }, into)).toMatchObject({ id: "chatcmpl-1", choices: [] });
  });
  it("sums both parts' counts", () =>
    expect(sumCounts({ promptTokens: 5, completionTokens: 20 }, { promptTokens: 26, completionTokens: 20 })).toEqual({
      promptTokens: 31,
      completionTokens: 40,
    }));
});
