/** What the workers project's global setup (Node) hands to the tests (workerd) through `inject`. */

export interface EngineInfo {
  /** The provider id the tests register this engine under. */
  id: string;
  url: string;
  controlUrl: string;
  metricsUrl: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    /** Points at the Postgres tap (which forwards to the throwaway Postgres), so every worker session is seen. */
    DATABASE_URL: string;
    WSPROXY: string;
    ADMIN_TOKEN: string;
    GATEWAY_REQUEST_KEY: string;
    /** The chat model both simulated engines serve. */
    MODEL: string;
    ENGINES: EngineInfo[];
    /** The engines' exact host:ports, comma-separated: the worker's PROVIDER_URL_ALLOWLIST. */
    PROVIDER_URL_ALLOWLIST: string;
    /** The tap's control: GET /sessions, POST /hold, POST /release. */
    TAP_URL: string;
  }
}
