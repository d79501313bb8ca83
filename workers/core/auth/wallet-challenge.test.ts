import { describe, expect, it } from "vitest";
import { CHALLENGE_TTL_MS, checkChallenge, issueChallenge } from "./wallet-challenge";
import { newSessionToken, sessionTokenHash } from "./dashboard-session";

const SECRET = "0123456789abcdef0123456789abcdef";

describe("wallet challenge", () => {
  it("accepts its own nonce until it expires", async () => {
    const nonce = await issueChallenge(SECRET, 1_000);
    expect(await checkChallenge(SECRET, nonce, 1_000)).toBe(true);
    expect(await checkChallenge(SECRET, nonce, 1_000 + CHALLENGE_TTL_MS)).toBe(true);
    expect(await checkChallenge(SECRET, nonce, 1_001 + CHALLENGE_TTL_MS)).toBe(false);
  });

  it("refuses another secret's nonce, a changed expiry and garbage", async () => {
    const nonce = await issueChallenge(SECRET, 1_000);
    expect(await checkChallenge(`${SECRET}x`, nonce, 1_000)).toBe(false);
    const [exp, rand, mac] = nonce.split(".");
    expect(await checkChallenge(SECRET, `${Number(exp) + 1}.${rand}.${mac}`, 1_000)).toBe(false);
    for (const bad of ["", "1.2.3", `${exp}.${rand}`, `${nonce}x`]) expect(await checkChallenge(SECRET, bad, 1_000)).toBe(false);
  });
});

describe("session tokens", () => {
  it("are 32 random bytes whose SHA-256 is stored; anything else has no hash", async () => {
    const a = newSessionToken(),
      b = newSessionToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await sessionTokenHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(await sessionTokenHash(undefined)).toBeNull();
    expect(await sessionTokenHash(`${a}=`)).toBeNull();
  });
});
