/**
 * The Node-side programs (tools, e2e tests, the job runner) type-check workers/config.ts, whose Env
 * extends the bindings wrangler generates for workerd. Node never holds those bindings; this empty
 * declaration lets the shared configuration code compile there. (The worker's own tsconfig uses the
 * real, generated worker-configuration.d.ts and never includes this file.)
 */
interface CloudflareBindings {}
