/**
 * Which provider runtime URLs the gateway will call (SSRF policy), checked wherever a URL is
 * registered (the signed registration, the admin API) and again before the probe calls it.
 *
 * Always refused: schemes other than http(s), credentials in the URL, and the gateway itself (its
 * exact host:port, and its host name at any other port unless that host:port is listed).
 * Admitted as they are, http included: the exact host:port pairs of `allowlist`
 * (PROVIDER_URL_ALLOWLIST: local networks and tests name their own providers, nothing else).
 * Everything else follows the production policy: HTTPS only, and hosts that are not public are
 * refused — loopback (127/8, ::1, localhost and *.localhost), private (10/8, 172.16/12, 192.168/16,
 * fc00::/7, fec0::/10), link-local (169.254/16, fe80::/10), CGNAT (100.64/10), 0/8 and ::,
 * multicast and reserved ranges, cloud metadata hosts (169.254.169.254, metadata.google.internal,
 * metadata, instance-data), single-label names and special-use suffixes (.local, .internal,
 * .home.arpa, .localdomain, .invalid), and IPv6 addresses that embed a refused IPv4 address
 * (IPv4-mapped ::ffff:a.b.c.d, ::a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16). Decimal, hex, octal
 * and short IPv4 spellings (2130706433, 0x7f000001, 017700000001, 127.1) are normalised by the URL
 * parser before the check, and before the allow-list is matched; a numeric host it did not
 * normalise is refused.
 *
 * Not checkable here: a DNS name that resolves to a private address (a worker cannot resolve
 * names; Cloudflare's fetch does not reach private networks, but a Node gateway would), or one
 * whose answer changes after registration.
 */
export type UrlCheck = { ok: true } | { ok: false; reason: string };

export interface EndpointPolicy {
  /** Normalised `host:port` pairs (parseEndpointAllowlist) admitted although private and plain http. */
  allowlist: readonly string[];
  /** The gateway's own URL (the request's), when known: a provider may not point back at it. */
  gatewayUrl?: string | null;
}

const MAX_URL_LENGTH = 2_048;
/** What an allow-list entry's host may be once normalised: a DNS name or IPv4 address, or a bracketed IPv6 address. */
const HOST_PATTERN = /^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/;
const METADATA_HOSTS = new Set(["metadata.google.internal", "metadata", "instance-data", "instance-data.ec2.internal"]);
const SPECIAL_SUFFIXES = ["localhost", "local", "internal", "home.arpa", "localdomain", "invalid"];

export function checkProviderUrl(url: string, policy: EndpointPolicy): UrlCheck {
  if (url.length > MAX_URL_LENGTH) return refuse("URL is too long");
  const parsed = parseUrl(url);
  if (parsed === null) return refuse("not a valid URL");
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return refuse(`scheme ${parsed.protocol} is not allowed`);
  if (parsed.username !== "" || parsed.password !== "") return refuse("credentials in the URL are not allowed");
  const key = endpointKey(parsed);
  const self = policy.gatewayUrl ? parseUrl(policy.gatewayUrl) : null;
  if (self !== null && endpointKey(self) === key) return refuse("it is the gateway's own address");
  if (policy.allowlist.includes(key)) return { ok: true };
  if (self !== null && bareHost(self) === bareHost(parsed)) return refuse("it is the gateway's own host");
  if (parsed.protocol !== "https:") return refuse("HTTPS is required");
  const reason = hostRefusal(parsed.hostname.toLowerCase());
  return reason === null ? { ok: true } : refuse(reason);
}

/**
 * PROVIDER_URL_ALLOWLIST: comma- or space-separated `host:port` pairs, each with an explicit port
 * and nothing else (no scheme, path or credentials); normalised as the URL parser would, so
 * `0x7f000001:9101` is listed as `127.0.0.1:9101` and `[0::1]:9101` as `[::1]:9101`.
 */
export function parseEndpointAllowlist(text: string): { ok: true; entries: string[] } | { ok: false; reason: string } {
  const entries: string[] = [];
  for (const entry of text.split(/[\s,]+/).filter((x) => x !== "")) {
    const parsed = /^[^/?#@\\]+:\d{1,5}$/.test(entry) ? parseUrl(`http://${entry}/`) : null;
    if (parsed === null || parsed.pathname !== "/" || !HOST_PATTERN.test(bareHost(parsed))) {
      return { ok: false, reason: `'${entry}' is not an exact host:port (e.g. 127.0.0.1:9101)` };
    }
    entries.push(endpointKey(parsed)); // the pattern requires a port: an empty one is http's 80
  }
  return { ok: true, entries };
}

/** The exact endpoint a URL reaches: its normalised host (no trailing dot) and its port, the scheme's default made explicit. */
export function endpointKey(u: URL): string {
  return `${bareHost(u)}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
}

function bareHost(u: URL): string {
  return u.hostname.toLowerCase().replace(/\.+$/, "");
}

function parseUrl(text: string): URL | null {
  try {
    return new URL(text);
  } catch {
    return null;
  }
}

function refuse(reason: string): UrlCheck {
  return { ok: false, reason };
}

function hostRefusal(hostname: string): string | null {
  if (hostname.startsWith("[")) {
    const bytes = parseIPv6(hostname.slice(1, -1));
    return bytes === null ? "invalid IPv6 address" : ipv6Refusal(bytes);
  }
  const host = hostname.replace(/\.+$/, "");
  if (host === "") return "empty host";
  if (endsInNumber(host)) {
    const v4 = parseIPv4(host);
    return v4 === null ? "non-canonical IPv4 address" : ipv4Refusal(v4);
  }
  if (host === "localhost" || host.endsWith(".localhost")) return "loopback host";
  if (METADATA_HOSTS.has(host)) return "metadata host";
  if (!host.includes(".")) return "single-label host names are not public";
  for (const suffix of SPECIAL_SUFFIXES) if (host.endsWith(`.${suffix}`)) return `special-use domain .${suffix}`;
  return null;
}

/** The WHATWG URL rule: a host whose last label is a number must be an IPv4 address. */
function endsInNumber(host: string): boolean {
  const last = host.split(".").pop() ?? "";
  return /^\d+$/.test(last) || /^0x[0-9a-f]*$/i.test(last);
}

/**
 * Dotted decimal, as the URL parser serialises every IPv4 spelling (2130706433, 0x7f000001,
 * 017700000001, 127.1 → 127.0.0.1). Anything else that ends in a number is refused (fail closed).
 */
function parseIPv4(host: string): number[] | null {
  const m = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/.exec(host);
  const bytes = m?.slice(1).map(Number) ?? null;
  return bytes !== null && bytes.every((b) => b <= 255) ? bytes : null;
}

function ipv4Refusal([a, b, c, d]: readonly number[]): string | null {
  if (a === 0) return "unspecified address (0.0.0.0/8)";
  if (a === 127) return "loopback address";
  if (a === 10 || (a === 172 && b! >= 16 && b! <= 31) || (a === 192 && b === 168)) return "private address";
  if (a === 169 && b === 254) return c === 169 && d === 254 ? "metadata host" : "link-local address";
  if (a === 100 && b! >= 64 && b! <= 127) return "shared (CGNAT) address";
  if ((a === 192 && b === 0 && c === 0) || (a === 198 && (b === 18 || b === 19))) return "reserved address";
  if (a! >= 224 && a! <= 239) return "multicast address";
  if (a! >= 240) return "reserved address";
  return null;
}

/** 16 bytes, or null. Accepts `::` compression and a trailing dotted IPv4 part; no zone ids. */
function parseIPv6(text: string): number[] | null {
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const groups = (s: string): number[] | null => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes(".")) {
        if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(part)) return null;
        const v4 = part.split(".").map(Number);
        if (v4.some((n) => n > 255)) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) out.push(parseInt(part, 16));
      else return null;
    }
    return out;
  };
  const head = groups(halves[0]!),
    tail = halves.length === 2 ? groups(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const all = [...head, ...Array<number>(missing).fill(0), ...tail];
  return all.flatMap((g) => [g >> 8, g & 255]);
}

function ipv6Refusal(b: readonly number[]): string | null {
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const embedded = (at: number, kind: string) => {
    const reason = ipv4Refusal(b.slice(at, at + 4));
    return reason === null ? null : `${kind} ${reason}`;
  };
  if (zero(0, 16)) return "unspecified address (::)";
  if (zero(0, 15) && b[15] === 1) return "loopback address";
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return embedded(12, "IPv4-mapped");
  if (zero(0, 12)) return "IPv4-compatible address (deprecated)";
  if (zero(0, 8) && b[8] === 0xff && b[9] === 0xff && zero(10, 12)) return embedded(12, "IPv4-translated");
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b) return zero(4, 12) ? embedded(12, "NAT64") : "reserved address";
  if (b[0] === 0x20 && b[1] === 0x02) return embedded(2, "6to4");
  if (b[0] === 0x01 && b[1] === 0x00 && zero(2, 8)) return "reserved address";
  const first = b[0]!,
    second = b[1]!;
  if ((first & 0xfe) === 0xfc) return "private address (unique local)";
  if (first === 0xfe && (second & 0xc0) === 0x80) return "link-local address";
  if (first === 0xfe && (second & 0xc0) === 0xc0) return "private address (site-local)";
  if (first === 0xff) return "multicast address";
  return null;
}
