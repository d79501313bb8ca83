import type { ServerResponse } from "node:http";
import type { GenerationSink, Usage } from "./drive";
import { sendJson, writeWithBackpressure } from "./http-io";
import type { FinishReason } from "./text";

/** What every chunk or body repeats; `model` is what the response claims (wrong_model changes it). */
export interface ResponseMeta {
  kind: "chat" | "text";
  id: string;
  created: number;
  model: string;
  choices: number;
  includeUsage: boolean;
}

/**
 * OpenAI/vLLM streaming wire format: a chat stream opens each choice with `delta:{role,content:""}`, then
 * one chunk per token, one chunk per choice carrying finish_reason, the usage chunk (`choices: []`) only when
 * asked, and `data: [DONE]`. With include_usage every other chunk carries `"usage": null`, as OpenAI does.
 */
export function createSseSink(res: ServerResponse, signal: AbortSignal, meta: ResponseMeta): GenerationSink {
  const object = meta.kind === "chat" ? "chat.completion.chunk" : "text_completion";
  const head = { id: meta.id, object, created: meta.created, model: meta.model };
  const write = (text: string) => writeWithBackpressure(res, text, signal);
  const chunk = (choice: Record<string, unknown>) =>
    write(`data: ${JSON.stringify({ ...head, choices: [choice], ...(meta.includeUsage ? { usage: null } : {}) })}\n\n`);
  const body = (index: number, content: Record<string, unknown>, finishReason: FinishReason | null) =>
    meta.kind === "chat"
      ? { index, delta: content, logprobs: null, finish_reason: finishReason }
      : { index, text: content.content ?? "", logprobs: null, finish_reason: finishReason };

  return {
    async open() {
      res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" });
      res.flushHeaders();
    },
    async begin() {
      if (meta.kind !== "chat") return;
      for (let i = 0; i < meta.choices; i++) await chunk(body(i, { role: "assistant", content: "" }, null));
    },
    async token(choice, text) {
      await chunk(body(choice, { content: text }, null));
    },
    async malformed() {
      await write("data: {not json\n\n");
    },
    async end(finishReasons, usage) {
      for (const [i, reason] of finishReasons.entries()) await chunk(body(i, {}, reason));
      if (meta.includeUsage) await write(`data: ${JSON.stringify({ ...head, choices: [], usage })}\n\n`);
      await write("data: [DONE]\n\n");
      res.end();
    },
  };
}

/** One `chat.completion` or `text_completion` body, sent when generation has finished. */
export function createJsonSink(res: ServerResponse, meta: ResponseMeta): GenerationSink {
  const texts = Array.from({ length: meta.choices }, () => "");
  const noop = async () => {};
  return {
    open: noop,
    begin: noop,
    malformed: noop,
    async token(choice, text) {
      texts[choice] = (texts[choice] ?? "") + text;
    },
    async end(finishReasons, usage: Usage) {
      const choices = texts.map((text, index) =>
        meta.kind === "chat"
          ? { index, message: { role: "assistant", content: text }, logprobs: null, finish_reason: finishReasons[index] }
          : { index, text, logprobs: null, finish_reason: finishReasons[index] },
      );
      const object = meta.kind === "chat" ? "chat.completion" : "text_completion";
      sendJson(res, 200, { id: meta.id, object, created: meta.created, model: meta.model, choices, usage });
    },
  };
}
