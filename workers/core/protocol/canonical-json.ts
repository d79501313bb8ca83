/**
 * Canonical JSON for signing: object keys sorted (JavaScript's default order, by UTF-16 code
 * units), no whitespace, strings and numbers as JSON.stringify writes them. Object properties that
 * are undefined are left out (as JSON.stringify does), so a payload hashes the same before sending
 * and after JSON.parse on the other side. Throws on bigints, non-finite numbers, functions,
 * symbols, undefined array items and non-plain objects (Date, Map, class instances).
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number ${value}`);
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) {
        const items: string[] = [];
        for (let i = 0; i < value.length; i++) {
          if (value[i] === undefined) throw new TypeError("canonicalJson: undefined or missing array item");
          items.push(canonicalJson(value[i]));
        }
        return `[${items.join(",")}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) throw new TypeError("canonicalJson: only plain objects are supported");
      const record = value as Record<string, unknown>;
      const parts: string[] = [];
      for (const key of Object.keys(record).sort()) {
        if (record[key] !== undefined) parts.push(`${JSON.stringify(key)}:${canonicalJson(record[key])}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      throw new TypeError(`canonicalJson: cannot encode a ${typeof value}`);
  }
}
