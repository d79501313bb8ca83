import { constantTimeEqual, sha256Hex, type KeyRecord } from "../../core/auth/keys";
import { errors } from "../../core/openai/errors";
import type { Ports } from "../../ports";

/** Hash the secret, look the hash up (cached per isolate), compare in constant time. */
export async function authenticateKey(deps: Pick<Ports, "keys">, secret: string): Promise<KeyRecord> {
  const hash = await sha256Hex(secret);
  const found = await deps.keys.bySecretHash(hash);
  if (!found || !constantTimeEqual(found.secretHash, hash) || found.revoked) throw errors.invalidKey();
  return found;
}
