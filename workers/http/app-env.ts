import type { Env } from "../config";
import type { Deps, KeyRecord } from "../ports";

export type AppEnv = {
  Bindings: Env;
  Variables: { deps: Deps; requestId: string; startedAtMs: number; key: KeyRecord };
};
