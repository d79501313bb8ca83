/** The slice of autocannon 8's API the bench uses (the package ships no types). */
declare module "autocannon" {
  interface AutocannonOptions {
    url: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Seconds before a request times out. */
    timeout?: number;
    /** Each connection loops over these; setupRequest may rewrite a request before it is sent. */
    requests?: { setupRequest?: (req: { headers?: Record<string, string> }) => { headers?: Record<string, string> } }[];
  }
  interface AutocannonResult {
    /** Seconds the run lasted. */
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    "2xx": number;
    requests: { average: number; total: number };
  }
  interface AutocannonInstance extends PromiseLike<AutocannonResult> {
    /** One event per response; responseTime in milliseconds, with sub-millisecond precision. */
    on(event: "response", listener: (client: unknown, statusCode: number, resBytes: number, responseTime: number) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    stop(): void;
  }
  function autocannon(opts: AutocannonOptions): AutocannonInstance;
  export default autocannon;
}
