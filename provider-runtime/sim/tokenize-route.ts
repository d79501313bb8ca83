/**
 * POST /tokenize, as vLLM serves it: `{model, prompt}` or `{model, messages}` → the prompt's token
 * count under the simulator's tokenizer, the same count its usage reports. The agent asks it for
 * the prompt tokens of a stream cut before its usage chunk arrived.
 */
import type { ServerResponse } from "node:http";
import { z } from "zod";
import type { SimContext } from "./engine";
import { invalidFromZod, modelNotFound, sendError, sendJson } from "./http-io";
import { chatPromptTokens, SimChatMessage } from "./generate-route";
import { countPromptTokens } from "./text";

const ChatTokenize = z.looseObject({ model: z.string().min(1), messages: z.array(SimChatMessage).min(1) });
const PromptTokenize = z.looseObject({ model: z.string().min(1), prompt: z.string() });

export function serveTokenize(ctx: SimContext, body: unknown, res: ServerResponse): void {
  const isChat = typeof body === "object" && body !== null && "messages" in body;
  const parsed = isChat ? ChatTokenize.safeParse(body) : PromptTokenize.safeParse(body);
  if (!parsed.success) return sendError(res, 400, invalidFromZod(parsed.error));
  if (parsed.data.model !== ctx.config.model) return sendError(res, 404, modelNotFound(parsed.data.model));
  const count = isChat ? chatPromptTokens(ChatTokenize.parse(body).messages) : countPromptTokens(PromptTokenize.parse(body).prompt);
  // The simulator has no token ids; vLLM lists them, and nobody here reads them.
  sendJson(res, 200, { count, max_model_len: ctx.config.contextLength, tokens: [], token_strs: null });
}
