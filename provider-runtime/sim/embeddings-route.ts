import { z } from "zod";
import { reportedUsage } from "./drive";
import type { SimContext } from "./engine";
import type { RequestIo } from "./generate-route";
import { dropConnection, invalidFromZod, invalidRequest, modelNotFound, sendError, sendJson } from "./http-io";
import type { SimMode } from "./modes";
import { countPromptTokens, embedText } from "./text";

const DEFAULT_DIMENSIONS = 16;

export const SimEmbeddingRequest = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1).max(2048)]),
  dimensions: z.number().int().min(1).max(8192).nullish(),
  /** The openai SDK asks for base64 unless told otherwise, and decodes it to float32 itself. */
  encoding_format: z.enum(["float", "base64"]).nullish(),
});
export type SimEmbeddingRequest = z.infer<typeof SimEmbeddingRequest>;

/** POST /v1/embeddings: deterministic unit vectors; only the refuse/status/stall/drop/usage/model faults apply. */
export async function serveEmbeddings(ctx: SimContext, body: unknown, mode: SimMode, io: RequestIo): Promise<void> {
  const parsed = SimEmbeddingRequest.safeParse(body);
  if (!parsed.success) return sendError(io.res, 400, invalidFromZod(parsed.error));
  const req = parsed.data;
  if (req.model !== ctx.config.embeddingModel) return sendError(io.res, 404, modelNotFound(req.model));
  const inputs = typeof req.input === "string" ? [req.input] : req.input;
  const counts = inputs.map(countPromptTokens);
  const longest = Math.max(...counts);
  if (longest >= ctx.config.contextLength) {
    return sendError(
      io.res,
      400,
      invalidRequest(
        `This model's maximum context length is ${ctx.config.contextLength} tokens. However, your request has ` +
          `${longest} input tokens. Please reduce the length of the input.`,
        "input",
        "context_length_exceeded",
      ),
    );
  }
  if (mode.mode === "drop_after_n") {
    dropConnection(io.res.socket);
    return;
  }

  const dimensions = req.dimensions ?? DEFAULT_DIMENSIONS;
  const promptTokens = counts.reduce((sum, c) => sum + c, 0);
  ctx.metrics.promptTokens += promptTokens;
  const usage = reportedUsage(promptTokens, 0, mode);
  sendJson(io.res, 200, {
    object: "list",
    data: inputs.map((text, index) => {
      const vector = embedText(text, dimensions);
      return { object: "embedding", index, embedding: req.encoding_format === "base64" ? toBase64(vector) : vector };
    }),
    model: mode.mode === "wrong_model" ? mode.model : req.model,
    usage: { prompt_tokens: usage.prompt_tokens, total_tokens: usage.total_tokens },
  });
  ctx.metrics.succeed("stop");
}

/** Little-endian float32, the encoding OpenAI's base64 embeddings use. */
function toBase64(vector: number[]): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return Buffer.from(view.buffer).toString("base64");
}
