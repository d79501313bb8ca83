/** The public half of the gateway's Ed25519 key, derived from the private key it is configured with. */
import { decodeBase64url } from "./base64url";

export async function publicKeyOf(pkcs8Base64url: string): Promise<string> {
  const key = await crypto.subtle.importKey("pkcs8", decodeBase64url(pkcs8Base64url), { name: "Ed25519" }, true, ["sign"]);
  const jwk = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
  if (!jwk.x) throw new TypeError("Ed25519 key without a public part");
  return jwk.x; // JWK's x is the raw public key, base64url
}
