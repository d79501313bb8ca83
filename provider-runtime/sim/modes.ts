import { z } from "zod";

/**
 * Fault modes of the simulated engine, switched at run time through its loopback-only control endpoint.
 * Every mode may carry `times`: apply to the next K inference requests, then revert to "ok".
 * Strict objects, so a misspelt parameter is a 400 rather than a silently ignored default.
 */
const times = z.number().int().positive().optional();
const chunkCount = z.number().int().min(0).max(1_000_000);
const durationMs = z.number().int().min(0).max(3_600_000);

export const SimMode = z.discriminatedUnion("mode", [
  z.strictObject({ mode: z.literal("ok"), times }),
  /** Reset the connection without any response. */
  z.strictObject({ mode: z.literal("refuse"), times }),
  /** Answer with an OpenAI-shaped error before any generation. */
  z.strictObject({
    mode: z.literal("status_before_first_byte"),
    status: z.number().int().min(400).max(599).default(500),
    message: z.string().min(1).optional(),
    /** Seconds, sent as Retry-After. */
    retry_after: z.number().int().min(0).optional(),
    times,
  }),
  /** Stream n content chunks, then destroy the socket (non-streaming: destroy instead of answering). */
  z.strictObject({ mode: z.literal("drop_after_n"), n: chunkCount.default(3), times }),
  /** Send nothing at all, not even headers, for ms; then serve normally. */
  z.strictObject({ mode: z.literal("stall_before_first_byte"), ms: durationMs.default(600_000), times }),
  /** Stream n content chunks, go silent for ms, then continue normally. */
  z.strictObject({ mode: z.literal("stall_after_n"), n: chunkCount.default(3), ms: durationMs.default(600_000), times }),
  /** One token per interval, whatever the configured speed. */
  z.strictObject({ mode: z.literal("trickle"), interval_ms: durationMs.default(200), times }),
  /** After n content chunks emit `data: {not json`, then continue normally (streams only). */
  z.strictObject({ mode: z.literal("malformed_chunk"), n: chunkCount.default(2), times }),
  /** Multiply reported usage counts; the text is unchanged. */
  z.strictObject({ mode: z.literal("usage_scale"), factor: z.number().min(0).max(1_000).default(2), times }),
  /** Answer with a redirect to `location` before any generation (a provider trying to send its caller elsewhere). */
  z.strictObject({
    mode: z.literal("redirect"),
    location: z.string().min(1),
    status: z.literal([301, 302, 303, 307, 308]).default(302),
    times,
  }),
  /** Refuse (400) a chat request that continues its final message (continue_final_message): an engine without prefill. */
  z.strictObject({ mode: z.literal("reject_prefill"), times }),
  /** Name another model in responses. */
  z.strictObject({ mode: z.literal("wrong_model"), model: z.string().min(1).default("other-model"), times }),
]);
export type SimMode = z.infer<typeof SimMode>;
/** What a caller may send: parameters with defaults may be left out. */
export type SimModeInput = z.input<typeof SimMode>;

const OK: SimMode = { mode: "ok" };

export interface ModeSwitch {
  /** Validate and install a mode; throws a ZodError when invalid. */
  set(input: SimModeInput): SimMode;
  /** The installed mode, with `times` showing how many requests it still applies to. */
  current(): SimMode;
  /** The mode for one inference request; counts down `times`. */
  take(): SimMode;
}

export function createModeSwitch(): ModeSwitch {
  let mode: SimMode = OK;
  let remaining: number | null = null;
  return {
    set(input) {
      mode = SimMode.parse(input);
      remaining = mode.times ?? null;
      return mode;
    },
    current() {
      return remaining === null ? mode : { ...mode, times: remaining };
    },
    take() {
      const taken = mode;
      if (remaining !== null && --remaining <= 0) {
        mode = OK;
        remaining = null;
      }
      return taken;
    },
  };
}
