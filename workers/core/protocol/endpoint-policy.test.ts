import { describe, expect, it } from "vitest";
import { checkProviderUrl, parseEndpointAllowlist } from "./endpoint-policy";

const PUBLIC = { allowlist: [] };

describe("checkProviderUrl", () => {
  it.each([
    "https://gpu.example.com",
    "https://gpu.example.com:8443/v1",
    "https://GPU.Example.COM./",
    "https://8.8.8.8",
    "https://1.1.1.1:443",
    "https://172.32.0.1",
    "https://100.128.0.1",
    "https://192.169.0.1",
    "https://[2606:4700:4700::1111]",
    "https://xn--bcher-kva.example",
    "https://localhost.example.com",
  ])("allows the public endpoint %s", (url) => {
    expect(checkProviderUrl(url, PUBLIC)).toEqual({ ok: true });
  });

  it.each([
    // not a URL / wrong scheme / credentials
    ["not a URL", "gpu.example.com", /valid URL/],
    ["ftp", "ftp://gpu.example.com", /scheme/],
    ["file", "file:///etc/passwd", /scheme/],
    ["javascript", "javascript:alert(1)", /scheme/],
    ["ws", "wss://gpu.example.com", /scheme/],
    ["credentials", "https://user:pw@gpu.example.com", /credentials/],
    ["a user name", "https://user@gpu.example.com", /credentials/],
    ["plain http", "http://gpu.example.com", /HTTPS/],
    ["a very long URL", `https://gpu.example.com/${"a".repeat(2_100)}`, /too long/],
    // loopback
    ["127.0.0.1", "https://127.0.0.1", /loopback/],
    ["127.255.255.254", "https://127.255.255.254:9000", /loopback/],
    ["localhost", "https://localhost", /loopback/],
    ["localhost.", "https://localhost.", /loopback/],
    ["LOCALHOST", "https://LOCALHOST:8000", /loopback/],
    ["a .localhost name", "https://gpu.localhost", /loopback/],
    ["::1", "https://[::1]", /loopback/],
    ["long-form ::1", "https://[0:0:0:0:0:0:0:1]", /loopback/],
    // other spellings of 127.0.0.1
    ["hex", "https://0x7f000001", /loopback/],
    ["decimal", "https://2130706433", /loopback/],
    ["octal", "https://017700000001", /loopback/],
    ["short", "https://127.1", /loopback/],
    ["dotted hex", "https://0x7f.0.0.1", /loopback/],
    ["dotted octal", "https://0177.0.0.01", /loopback/],
    ["trailing dot", "https://127.0.0.1.", /loopback/],
    ["percent-encoded", "https://%31%32%37.0.0.1", /loopback/],
    ["IPv4-mapped IPv6", "https://[::ffff:127.0.0.1]", /IPv4-mapped loopback/],
    ["IPv4-mapped IPv6, hex", "https://[::ffff:7f00:1]", /IPv4-mapped loopback/],
    ["IPv4-compatible IPv6", "https://[::127.0.0.1]", /IPv4-compatible/],
    ["NAT64", "https://[64:ff9b::7f00:1]", /NAT64 loopback/],
    ["6to4", "https://[2002:7f00:1::]", /6to4 loopback/],
    // unspecified
    ["0.0.0.0", "https://0.0.0.0", /unspecified/],
    ["0", "https://0", /unspecified/],
    ["::", "https://[::]", /unspecified/],
    // private
    ["10/8", "https://10.1.2.3", /private/],
    ["172.16/12 low", "https://172.16.0.1", /private/],
    ["172.16/12 high", "https://172.31.255.255", /private/],
    ["192.168/16", "https://192.168.1.10", /private/],
    ["decimal 10/8", "https://167772161", /private/],
    ["fc00::/7", "https://[fc00::1]", /private/],
    ["fd00::/8", "https://[fd12:3456::1]", /private/],
    ["site-local", "https://[fec0::1]", /private/],
    ["mapped 192.168/16", "https://[::ffff:192.168.0.1]", /IPv4-mapped private/],
    // link-local
    ["169.254/16", "https://169.254.1.1", /link-local/],
    ["fe80::/10", "https://[fe80::1]", /link-local/],
    ["febf::", "https://[febf::1]", /link-local/],
    // CGNAT
    ["100.64/10 low", "https://100.64.0.1", /CGNAT/],
    ["100.64/10 high", "https://100.127.255.255", /CGNAT/],
    // metadata
    ["169.254.169.254", "https://169.254.169.254", /metadata/],
    ["169.254.169.254 in hex", "https://0xa9fea9fe", /metadata/],
    ["mapped metadata IP", "https://[::ffff:a9fe:a9fe]", /IPv4-mapped metadata/],
    ["metadata.google.internal", "https://metadata.google.internal", /metadata/],
    ["metadata.google.internal.", "https://METADATA.google.internal.", /metadata/],
    ["metadata", "https://metadata", /metadata/],
    // other non-public
    ["multicast v4", "https://224.0.0.1", /multicast/],
    ["broadcast", "https://255.255.255.255", /reserved/],
    ["multicast v6", "https://[ff02::1]", /multicast/],
    ["a single-label name", "https://gpu-box", /single-label/],
    ["a .local name", "https://gpu.local", /special-use/],
    ["an .internal name", "https://gpu.corp.internal", /special-use/],
    ["a .home.arpa name", "https://gpu.home.arpa", /special-use/],
  ])("refuses %s", (_, url, reason) => {
    const result = checkProviderUrl(url, PUBLIC);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(reason);
  });

  it("refuses every encoded form without an allow-list (the production policy)", () => {
    for (const url of ENCODED) expect(checkProviderUrl(url, PUBLIC), url).toMatchObject({ ok: false });
  });
});

/**
 * Private, loopback, metadata and encoded spellings; the allow-list below names only 127.0.0.1:9101 and
 * [::1]:9102 (a spelling that normalises to a listed endpoint is that endpoint: see "admits" below).
 */
const ENCODED = [
  "http://2130706433:9103",
  "http://0x7f000001:9103",
  "http://017700000001:9103",
  "http://127.1:9103",
  "http://[::ffff:127.0.0.1]:9101",
  "http://[::ffff:7f00:1]:9101",
  "http://[::1]:9101",
  "http://[fd00::1]:9101",
  "http://[fe80::1]:9101",
  "http://0.0.0.0:9101",
  "http://0:9101",
  "http://169.254.169.254",
  "http://169.254.169.254:9101",
  "http://metadata.google.internal",
  "http://localhost:9101",
  "http://gpu.localhost:9101",
  "http://localhost.:9101",
  "http://10.0.0.5:9101",
  "http://192.168.1.10:9101",
  "https://127.0.0.1:9101.example.com",
  "http://127.0.0.1", // the listed host at another port (80)
  "http://127.0.0.1:9103",
  "https://127.0.0.1", // 443
  "http://[::1]:9101", // the listed port on the other listed host
];

describe("checkProviderUrl with an exact allow-list (local networks and tests)", () => {
  const listed = parseEndpointAllowlist("127.0.0.1:9101, [::1]:9102");
  if (!listed.ok) throw new Error(listed.reason);
  const DEV = { allowlist: listed.entries, gatewayUrl: "http://127.0.0.1:8787/providers/v1/register" };

  it.each([
    "http://127.0.0.1:9101",
    "http://127.0.0.1:9101/v1/",
    "https://127.0.0.1:9101",
    "http://127.0.0.1.:9101", // the URL parser drops an IPv4 address's trailing dot
    "http://2130706433:9101", // the same endpoint, spelled in decimal
    "http://0x7f000001:9101",
    "http://[::1]:9102",
    "http://[0:0:0:0:0:0:0:1]:9102",
  ])("admits the listed endpoint %s", (url) => {
    expect(checkProviderUrl(url, DEV)).toEqual({ ok: true });
  });

  it.each(ENCODED)("refuses %s, which is not listed exactly", (url) => {
    expect(checkProviderUrl(url, DEV)).toMatchObject({ ok: false });
  });

  it("says why an unlisted endpoint is refused", () => {
    expect(checkProviderUrl("http://[::ffff:127.0.0.1]:9101", DEV)).toEqual({ ok: false, reason: "HTTPS is required" });
    expect(checkProviderUrl("https://[::ffff:127.0.0.1]:9101", DEV)).toEqual({ ok: false, reason: "IPv4-mapped loopback address" });
    expect(checkProviderUrl("https://169.254.169.254", DEV)).toEqual({ ok: false, reason: "metadata host" });
  });

  it.each(["ftp://127.0.0.1:9101", "http://user:pw@127.0.0.1:9101", "http://127.0.0.1:9102@127.0.0.1:9101", "not a url"])(
    "still refuses %s although its host is listed",
    (url) => {
      expect(checkProviderUrl(url, DEV).ok).toBe(false);
    },
  );

  it("follows the production policy for public hosts", () => {
    expect(checkProviderUrl("https://gpu.example.com:8443", DEV)).toEqual({ ok: true });
    expect(checkProviderUrl("http://gpu.example.com:8443", DEV)).toEqual({ ok: false, reason: "HTTPS is required" });
  });
});

describe("checkProviderUrl: the gateway's own address", () => {
  const gatewayUrl = "https://api.meshgate.example/providers/v1/register";

  it.each([
    "https://api.meshgate.example",
    "https://API.meshgate.example./v1",
    "https://api.meshgate.example:443",
    "https://api.meshgate.example:8443",
  ])("refuses %s", (url) => {
    expect(checkProviderUrl(url, { allowlist: [], gatewayUrl })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/gateway's own/),
    });
  });

  it("refuses the gateway's exact host:port even when listed; another listed port on its host is admitted", () => {
    const policy = { allowlist: ["127.0.0.1:8787", "127.0.0.1:9101"], gatewayUrl: "http://127.0.0.1:8787/admin/v1/providers" };
    expect(checkProviderUrl("http://127.0.0.1:8787", policy)).toEqual({ ok: false, reason: "it is the gateway's own address" });
    expect(checkProviderUrl("http://2130706433:8787", policy)).toEqual({ ok: false, reason: "it is the gateway's own address" });
    expect(checkProviderUrl("http://127.0.0.1:9101", policy)).toEqual({ ok: true });
  });

  it("admits other public hosts", () => {
    expect(checkProviderUrl("https://gpu.provider.example", { allowlist: [], gatewayUrl })).toEqual({ ok: true });
  });
});

describe("parseEndpointAllowlist", () => {
  it("normalises each host:port as the URL parser does", () => {
    expect(parseEndpointAllowlist(" 127.0.0.1:9101,0x7f000001:9102 [0::1]:9103,LOCALHOST:9104,127.0.0.1:80 ")).toEqual({
      ok: true,
      entries: ["127.0.0.1:9101", "127.0.0.1:9102", "[::1]:9103", "localhost:9104", "127.0.0.1:80"],
    });
    expect(parseEndpointAllowlist("")).toEqual({ ok: true, entries: [] });
  });

  it.each(["127.0.0.1", "http://127.0.0.1:9101", "127.0.0.1:9101/v1", "user@127.0.0.1:9101", "127.0.0.1:99999", "*:9101", ":9101"])(
    "refuses the entry %s",
    (entry) => {
      expect(parseEndpointAllowlist(entry)).toMatchObject({ ok: false, reason: expect.stringContaining(entry) });
    },
  );
});
