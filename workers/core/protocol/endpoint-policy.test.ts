import { describe, expect, it } from "vitest";
import { checkProviderUrl } from "./endpoint-policy";

const PUBLIC = { allowPrivate: false };
const PRIVATE_OK = { allowPrivate: true };

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

  it.each([
    "http://127.0.0.1:9000",
    "http://localhost:8000/v1",
    "http://10.0.0.5",
    "http://[::1]:9000",
    "http://gpu-box:9000",
    "https://169.254.169.254",
  ])("allows %s with allowPrivate", (url) => {
    expect(checkProviderUrl(url, PRIVATE_OK)).toEqual({ ok: true });
  });

  it.each(["ftp://127.0.0.1", "http://user:pw@127.0.0.1:9000", "not a url"])("still refuses %s with allowPrivate", (url) => {
    expect(checkProviderUrl(url, PRIVATE_OK).ok).toBe(false);
  });

  it.each([
    "http://0x7f000001",
    "http://2130706433",
    "http://[::ffff:127.0.0.1]",
    "http://017700000001",
    "http://localhost.",
    "http://LOCALHOST",
  ])("refuses %s without allowPrivate", (url) => {
    expect(checkProviderUrl(url, PUBLIC).ok).toBe(false);
  });
});
