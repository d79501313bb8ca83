/** Encoding of the Server-Sent Events we write. Parsing uses eventsource-parser, not code of ours. */
const encoder = new TextEncoder();

export const encodeData = (data: string): Uint8Array => encoder.encode(`data: ${data}\n\n`);
export const encodeJson = (value: unknown): Uint8Array => encodeData(JSON.stringify(value));
export const DONE = encoder.encode("data: [DONE]\n\n");
export const KEEPALIVE = encoder.encode(": keep-alive\n\n");
