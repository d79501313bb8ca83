/**
 * viem's failures in core's vocabulary, so that the jobs tell a chain they cannot reach from one
 * that answered an error without importing viem. Messages name the failure, never the RPC URL
 * (a hosted node's URL carries its API key).
 */
import {
  BaseError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  ExecutionRevertedError,
  HttpRequestError,
  RpcError,
  RpcRequestError,
  TimeoutError,
  WaitForTransactionReceiptTimeoutError,
} from "viem";
import { ChainRpcError, ChainUnavailableError } from "../../core/settlement/errors";

/** An HTTP status from the node's endpoint that says "not now" rather than "no". */
const unavailableStatus = (s: number) => s === 408 || s === 429 || s >= 500;

/** `err` as ChainUnavailableError or ChainRpcError when it is one of viem's; anything else unchanged. */
export function classifyChainError(err: unknown): unknown {
  if (!(err instanceof BaseError)) return err;
  const timeout = err.walk((e) => e instanceof TimeoutError || e instanceof WaitForTransactionReceiptTimeoutError);
  if (timeout) return new ChainUnavailableError(`The chain's RPC did not answer in time (${reason(timeout)}).`);
  const http = err.walk((e) => e instanceof HttpRequestError) as HttpRequestError | null;
  if (http && (http.status === undefined || unavailableStatus(http.status)))
    return new ChainUnavailableError(`The chain's RPC could not be reached (${reason(http)}).`);
  if (http) return new ChainRpcError(`The chain's RPC refused the request (HTTP ${http.status}).`);
  const answered = err.walk(
    (e) =>
      e instanceof RpcRequestError ||
      e instanceof RpcError ||
      e instanceof ExecutionRevertedError ||
      e instanceof ContractFunctionRevertedError ||
      e instanceof ContractFunctionZeroDataError,
  );
  if (answered) return new ChainRpcError(`The chain's RPC answered an error (${reason(err)}).`);
  return err;
}

/** The port with every method's failures classified. */
export function classified<T extends object>(port: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(port)) {
    if (typeof value !== "function") {
      out[name] = value;
      continue;
    }
    const method = value as (...args: unknown[]) => Promise<unknown>;
    out[name] = async (...args: unknown[]) => {
      try {
        return await method(...args);
      } catch (err) {
        throw classifyChainError(err);
      }
    };
  }
  return out as T;
}

/** The short message, the details and the innermost cause's code (e.g. ECONNREFUSED), with any URL removed. */
function reason(e: unknown): string {
  const parts: string[] = [];
  if (e instanceof BaseError) {
    parts.push(e.shortMessage.replace(/\.$/, ""));
    if (e.details && e.details !== e.shortMessage) parts.push(e.details);
  } else if (e instanceof Error) parts.push(e.message);
  const code = innermostCode(e);
  if (code) parts.push(code);
  return parts
    .join(": ")
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, "<rpc url>")
    .slice(0, 300);
}

function innermostCode(e: unknown): string | null {
  let code: string | null = null;
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 8; c = c.cause, depth++) {
    const own = (c as { code?: unknown }).code;
    if (typeof own === "string" && /^[A-Z][A-Z0-9_]+$/.test(own)) code = own;
  }
  return code;
}
