/**
 * Pure checks on a request body before it is parsed: the media type it claims, its bytes as strict
 * UTF-8, and how deep its arrays and objects nest. A body that fails one is refused, never
 * repaired (no U+FFFD substitution) and never forwarded.
 */

/** Deeper than any real request needs (a JSON schema in `response_format` or `tools` is well under it). */
export const MAX_JSON_DEPTH = 128;

/** Whether a Content-Type header names JSON: `application/json`, any case, with or without parameters such as `charset`. */
export function isJsonMediaType(contentType: string | null | undefined): boolean {
  if (!contentType) return false;
  const essence = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return essence === "application/json";
}

/** The bytes as UTF-8 text, or null when they are not valid UTF-8 (a fatal decoder: nothing is replaced). */
export function decodeUtf8(bytes: Uint8Array | ArrayBuffer): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * Whether JSON text nests arrays/objects deeper than `max`, by one pass over the characters (no
 * recursion, so a body nested 100,000 deep costs nothing but the scan). Brackets inside strings do
 * not count. Text that is not JSON may be judged either way: JSON.parse refuses it afterwards.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      // A string: jump to its closing quote (indexOf, not a loop over its characters).
      const end = closingQuote(text, i);
      if (end === -1) return false; // unterminated: JSON.parse refuses it
      i = end;
    } else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) {
      depth--;
    }
  }
  return false;
}

/** The quote that closes the string opened at `open`: the next one not escaped by an odd run of backslashes. */
function closingQuote(text: string, open: number): number {
  for (let q = text.indexOf('"', open + 1); q !== -1; q = text.indexOf('"', q + 1)) {
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return q;
  }
  return -1;
}
