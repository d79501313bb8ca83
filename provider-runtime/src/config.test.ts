import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, readConfig } from "./config";

const KEY = generatePrivateKey();
const BASE = ["--gateway", "http://127.0.0.1:8787/", "--model", "m", "--price-in", "0.1", "--price-out", "0.25", "--wallet-key", KEY];
const dir = mkdtempSync(join(tmpdir(), "meshgate-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const error = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  try {
    readConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("readConfig", () => {
  it("fills the documented defaults", () => {
    const c = readConfig(BASE, {});
    const address = privateKeyToAccount(KEY).address;
    expect(c).toMatchObject({
      gatewayUrl: "http://127.0.0.1:8787",
      engine: { kind: "vllm", url: "http://127.0.0.1:8000" },
      endpoints: ["chat", "completions"],
      priceIn: "0.1",
      inputPriceMicro: 100_000n,
      outputPriceMicro: 250_000n,
      port: 8080,
      host: "127.0.0.1",
      providerId: `p-${address.slice(2, 10).toLowerCase()}`,
      region: "local",
      maxConcurrency: 32,
      chainId: 31337,
      heartbeatMs: 5000,
      outboxMs: 2000,
      drainMs: 30_000,
    });
    expect(c.account.address).toBe(address);
    expect(c.outboxDir).toBe(resolve(`.meshgate/outbox/${c.providerId}`));
  });

  it("reads MESHGATE_* variables, and a flag wins over its variable", () => {
    const env = {
      MESHGATE_GATEWAY: "https://gw.example",
      MESHGATE_MODEL: "env-model",
      MESHGATE_PRICE_IN: "1",
      MESHGATE_PRICE_OUT: "2.000001",
      MESHGATE_WALLET_KEY: KEY,
      MESHGATE_ENGINE: "sim",
      MESHGATE_SIM_TTFT_MS: "5",
      MESHGATE_PORT: "9000",
      MESHGATE_HOST: "0.0.0.0",
      MESHGATE_ENDPOINTS: "embeddings",
      MESHGATE_REGION: "",
    };
    const c = readConfig(["--port", "9001"], env);
    expect(c).toMatchObject({
      gatewayUrl: "https://gw.example",
      model: "env-model",
      outputPriceMicro: 2_000_001n,
      engine: { kind: "sim", ttftMs: 5, tokensPerSecond: 200 },
      port: 9001,
      host: "0.0.0.0",
      endpoints: ["embeddings"],
      region: "local",
    });
  });

  it("reads the wallet key from a file", () => {
    const file = join(dir, "key");
    writeFileSync(file, `${KEY}\n`);
    const argv = BASE.filter((a) => a !== "--wallet-key" && a !== KEY);
    expect(readConfig([...argv, "--wallet-key-file", file], {}).account.address).toBe(privateKeyToAccount(KEY).address);
  });

  it("names the flag and its variable in one line, and never echoes the key", () => {
    expect(error(BASE.slice(2))).toBe("--gateway (MESHGATE_GATEWAY) is required: gateway base URL (required)");
    expect(error([...BASE, "--price-in", "0.0000001"])).toMatch(/^--price-in \(MESHGATE_PRICE_IN\): expected a decimal number of USDC/);
    expect(error([...BASE, "--port", "http"])).toMatch(/^--port \(MESHGATE_PORT\): /);
    expect(error([...BASE, "--engine", "tgi"])).toMatch(/^--engine \(MESHGATE_ENGINE\): /);
    expect(error([...BASE, "--endpoints", "chat,images"])).toMatch(/^--endpoints \(MESHGATE_ENDPOINTS\): /);
    expect(error([...BASE, "--provider-id", "Bad_Id"])).toMatch(/^--provider-id \(MESHGATE_PROVIDER_ID\): /);
    expect(error([...BASE, "--gateway", "ftp://x"])).toBe("--gateway (MESHGATE_GATEWAY): must be an http(s) URL");
    expect(error([...BASE, "--bogus"])).toContain("Unknown option '--bogus'");
    expect(error([...BASE, "--wallet-key-file", join(dir, "nope")])).toContain("not both");
    const badKey = error([...BASE.slice(0, -2), "--wallet-key", `${KEY.slice(0, -2)}zz`]);
    expect(badKey).toBe("--wallet-key (MESHGATE_WALLET_KEY): expected 0x followed by 64 hex digits");
    expect(error(BASE.slice(0, -2))).toContain("--wallet-key (MESHGATE_WALLET_KEY) or --wallet-key-file");
    expect(error([...BASE.slice(0, -2), "--wallet-key-file", join(dir, "missing")])).toContain("ENOENT");
  });
});

describe("the CLI", () => {
  const run = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, ["--import", "tsx", "provider-runtime/src/main.ts", ...args], {
        env: { PATH: process.env.PATH ?? "" },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.on("exit", (code) => done({ code, stdout, stderr }));
    });

  it("stops at start with one clear line on stderr and exit code 2", async () => {
    const [missing, badPrice] = await Promise.all([run(BASE.slice(2)), run([...BASE, "--price-out=-1"])]);
    expect(missing).toEqual({
      code: 2,
      stdout: "",
      stderr: "meshgate-provider: --gateway (MESHGATE_GATEWAY) is required: gateway base URL (required)\n",
    });
    expect(badPrice.code).toBe(2);
    expect(badPrice.stderr.split("\n")).toHaveLength(2);
    expect(badPrice.stderr).toMatch(/^meshgate-provider: --price-out \(MESHGATE_PRICE_OUT\): /);
  }, 15_000);
});
