/**
 * The bodies read past the one parser until now (the admin suspend route, the provider dashboard's
 * challenge and sign-in form, the finance sign-in form) refuse malformed input with a clear 400
 * naming the param, never a 500 or a stack trace.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { adminJson, BASE, engine, env } from "../support/workerd/gateway";

const PROVIDER = "wk-body-parsing";
const ORIGIN = { origin: BASE };

const post = (path: string, body: BodyInit | undefined, headers: Record<string, string>) =>
  SELF.fetch(`${BASE}${path}`, { method: "POST", headers: { ...ORIGIN, ...headers }, body, redirect: "manual" });
const suspend = (body: BodyInit | undefined, headers: Record<string, string> = { "content-type": "application/json" }) =>
  post(`/admin/v1/providers/${PROVIDER}/suspend`, body, { authorization: `Bearer ${env.ADMIN_TOKEN}`, ...headers });

/** An OpenAI-style 400 that names `param` and tells the SDK not to retry. */
async function expect400(res: Response, param: string | null, code: string) {
  const text = await res.text();
  expect(res.status, text).toBe(400);
  expect(res.headers.get("x-should-retry")).toBe("false");
  const body = JSON.parse(text) as { error: { type: string; param: string | null; code: string; message: string } };
  expect(body.error).toMatchObject({ type: "invalid_request_error", param, code });
  expect(body.error.message).not.toMatch(/at .*\.(ts|js):\d+/);
}

beforeAll(async () => {
  await adminJson(
    "POST",
    "/providers",
    {
      id: PROVIDER,
      url: engine("wk-a").url,
      region: "local",
      models: [{ model: "body-parsing/model", endpoints: ["chat"], input_price: "0.10", output_price: "0.20" }],
    },
    201,
  );
});

describe("POST /admin/v1/providers/:id/suspend", () => {
  it("refuses malformed JSON and a reason of the wrong type, naming it", async () => {
    await expect400(await suspend("{not json"), null, "invalid_json");
    await expect400(await suspend(JSON.stringify({ reason: 5 })), "reason", "invalid_type");
    await expect400(await suspend(JSON.stringify({ reason: "x" }), { "content-type": "text/plain" }), null, "unsupported_content_type");
    await expect400(await suspend(new Uint8Array([0x7b, 0xff, 0x7d])), null, "invalid_json");
  });

  it("takes no body, or a reason", async () => {
    const none = await suspend(undefined, {});
    expect(none.status, await none.clone().text()).toBe(200);
    expect(await none.json()).toEqual({ id: PROVIDER, suspended: true });
    expect((await suspend(" \n")).status).toBe(200);
    expect((await suspend(JSON.stringify({ reason: "maintenance" }))).status).toBe(200);
    expect((await adminJson("POST", `/providers/${PROVIDER}/resume`)).suspended).toBe(false);
  });
});

describe("POST /dashboard/provider/challenge", () => {
  const challenge = (body: string) => post("/dashboard/provider/challenge", body, { "content-type": "application/json" });

  it("answers malformed JSON and wrong types with an OpenAI-style 400 naming the param", async () => {
    await expect400(await challenge("{not json"), null, "invalid_json");
    await expect400(await challenge(JSON.stringify({ address: 5, nonce: "n" })), "address", "invalid_value");
    await expect400(await challenge(JSON.stringify({ address: `0x${"ab".repeat(20)}`, nonce: 7 })), "nonce", "invalid_type");
    await expect400(await challenge(JSON.stringify({ address: `0x${"ab".repeat(20)}` })), "nonce", "missing_required_parameter");
  });

  it("names the nonce of a page that has expired", async () => {
    await expect400(await challenge(JSON.stringify({ address: `0x${"ab".repeat(20)}`, nonce: "stale" })), "nonce", "expired_challenge");
  });
});

describe("the sign-in forms", () => {
  const garbledMultipart = { "content-type": "multipart/form-data; boundary=zzz" };

  it("shows the provider's sign-in page again, naming the field that was wrong", async () => {
    const form = new URLSearchParams({ address: `0x${"ab".repeat(20)}`, nonce: "n", timestamp: "soon", signature: "0x00" });
    const res = await post("/dashboard/provider/sign-in", form.toString(), { "content-type": "application/x-www-form-urlencoded" });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("timestamp");
    const garbled = await post("/dashboard/provider/sign-in", "--zzz\r\nnot a part", garbledMultipart);
    expect(garbled.status).toBe(400);
    expect(await garbled.text()).toContain("not a valid form");
  });

  it("shows the finance sign-in page again for a garbled form: a 400, not a 500", async () => {
    const res = await post("/dashboard/sign-in", "--zzz\r\nnot a part", garbledMultipart);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("not a valid form");
  });
});
