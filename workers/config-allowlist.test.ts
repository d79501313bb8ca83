import { describe, expect, it } from "vitest";
import { readConfig, type Env } from "./config";

const base = {
  DATABASE_URL: "postgres://u:p@127.0.0.1:5432/db",
  ADMIN_TOKEN: "a".repeat(32),
  GATEWAY_REQUEST_KEY: "k".repeat(48),
  GATEWAY_ADDRESS: "0x00000000000000000000000000000000000000a1",
};
const config = (vars: Record<string, string | undefined>) => readConfig({ ...base, ...vars } as unknown as Env);

describe("PROVIDER_URL_ALLOWLIST", () => {
  it("is empty by default: the production policy for every URL", () => {
    expect(config({}).providerUrlAllowlist).toEqual([]);
  });

  it("reads exact host:port pairs, normalised", () => {
    expect(config({ PROVIDER_URL_ALLOWLIST: "127.0.0.1:9101,2130706433:9102 [::1]:9103" }).providerUrlAllowlist).toEqual([
      "127.0.0.1:9101",
      "127.0.0.1:9102",
      "[::1]:9103",
    ]);
  });

  it.each(["true", "127.0.0.1", "http://127.0.0.1:9101", "*:9101"])("fails loudly, naming the variable, on %s", (value) => {
    expect(() => config({ PROVIDER_URL_ALLOWLIST: value })).toThrow(/^Invalid configuration: PROVIDER_URL_ALLOWLIST: /);
  });

  it("no longer knows the blanket switch: ALLOW_PRIVATE_PROVIDER_URLS lists nothing", () => {
    expect(config({ ALLOW_PRIVATE_PROVIDER_URLS: "true" }).providerUrlAllowlist).toEqual([]);
  });
});
