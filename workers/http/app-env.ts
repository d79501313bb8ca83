import type { Env } from "../env";
import type { Deps, KeyRecord } from "../deps";

export type AppEnv = {
  Bindings: Env;
  Variables: { deps: Deps; requestId: string; startedAtMs: number; key: KeyRecord };
};
