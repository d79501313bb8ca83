import { expect, it } from "vitest";
import { generateGatewayKeyPair } from "./gateway-auth";
import { publicKeyOf } from "./public-key";

it("derives the public key that generateGatewayKeyPair paired with the private key", async () => {
  const pair = await generateGatewayKeyPair();
  expect(await publicKeyOf(pair.privateKey)).toBe(pair.publicKey);
  const other = await generateGatewayKeyPair();
  expect(await publicKeyOf(other.privateKey)).not.toBe(pair.publicKey);
});
