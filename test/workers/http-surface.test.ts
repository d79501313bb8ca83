/**
 * The HTTP surface in workerd, through the whole app: a body must be declared as JSON, be UTF-8 and
 * nest sanely before anything is forwarded; a path that exists for other methods answers 405 with
 * Allow; an unknown model names `model`; a report filtered on a key the caller cannot see is a 404.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_JSON_DEPTH } from "../../workers/core/openai/body-text";
import { adminJson, BASE, call, chat, env, model, newKey, registerProviders, resetNetwork, sql } from "../support/workerd/gateway";

interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

let a: { accountId: string; keyId: string; secret: string };
let b: { accountId: string; keyId: string; secret: string };
let aFinance: string;

beforeAll(async () => {
  await registerProviders();
  await resetNetwork();
  a = await newKey("Surface A");
  b = await newKey("Surface B");
  aFinance = (await adminJson<{ secret: string }>("POST", "/keys", { account_id: a.accountId, role: "finance" }, 201)).secret;
});

/** The error a request got, having checked its status and that the SDK is told not to retry. */
async function refused(res: Response, status: number): Promise<OpenAIError> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("x-should-retry")).toBe("false");
  expect(res.headers.get("x-request-id")).toBeTruthy();
  return (JSON.parse(text) as { error: OpenAIError }).error;
}

const messages = [{ role: "user", content: "hi" }];
const chatPost = (body: BodyInit, headers: Record<string, string> = { "content-type": "application/json" }) =>
  new Request(`${BASE}/v1/chat/completions`, { method: "POST", headers: { authorization: `Bearer ${a.secret}`, ...headers }, body });
const usageEventsOf = async (accountId: string) =>
  Number((await sql<{ n: number }>("select count(*)::int as n from usage_events where account_id = $1", [accountId]))[0]!.n);

describe("request bodies", () => {
  it("demands application/json, in OpenAI's wording (400 unsupported_content_type), on inference and admin POSTs", async () => {
    const body = JSON.stringify({ model, messages });
    const err = await refused((await call(chatPost(body, { "content-type": "text/plain" }))).res, 400);
    expect(err).toMatchObject({ type: "invalid_request_error", param: null, code: "unsupported_content_type" });
    expect(err.message).toContain("Unsupported content type: 'text/plain'");
    expect((await refused((await call(chatPost(body, {}))).res, 400)).code).toBe("unsupported_content_type");
    expect((await refused((await call(chatPost(body, { "content-type": "application/x-www-form-urlencoded" }))).res, 400)).code).toBe(
      "unsupported_content_type",
    );
    const adminPost = await SELF.fetch(`${BASE}/admin/v1/accounts`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "text/plain" },
      body: JSON.stringify({ name: "text plain" }),
    });
    expect((await refused(adminPost, 400)).code).toBe("unsupported_content_type");
  });

  it("takes application/json with a charset, and JSON nested deeply but within the limit", async () => {
    const nested = JSON.parse("[".repeat(MAX_JSON_DEPTH - 2) + "]".repeat(MAX_JSON_DEPTH - 2)) as unknown;
    const { res, text } = await chat(a.secret, { metadata_nested: nested });
    expect(res.status, text).toBe(200);
    const { settled, res: ok } = await call(
      chatPost(JSON.stringify({ model, messages, max_tokens: 3 }), { "content-type": "Application/JSON; charset=utf-8" }),
    );
    expect(ok.status, await ok.text()).toBe(200);
    await settled();
  });

  it("refuses JSON nested 100,000 deep, and invalid UTF-8, before anything is forwarded", async () => {
    const before = await usageEventsOf(b.accountId);
    const deep = `{"model":${JSON.stringify(model)},"messages":${JSON.stringify(messages)},"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const req = (body: BodyInit) =>
      new Request(`${BASE}/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${b.secret}`, "content-type": "application/json" },
        body,
      });
    const tooDeep = await call(req(deep));
    expect(await refused(tooDeep.res, 400)).toEqual({
      type: "invalid_request_error",
      param: null,
      code: "invalid_json",
      message: `The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep.`,
    });
    await tooDeep.settled();

    const prefix = new TextEncoder().encode(`{"model":${JSON.stringify(model)},"messages":[{"role":"user","content":"`);
    const suffix = new TextEncoder().encode(`"}]}`);
    const bytes = new Uint8Array([...prefix, 0xff, 0xc0, 0xaf, ...suffix]);
    const badUtf8 = await call(req(bytes));
    expect(await refused(badUtf8.res, 400)).toEqual({
      type: "invalid_request_error",
      param: null,
      code: "invalid_json",
      message: "The request body is not valid UTF-8.",
    });
    await badUtf8.settled();
    expect(await usageEventsOf(b.accountId)).toBe(before); // neither reached a provider nor was metered
  });
});

describe("/v1/models/{id}", () => {
  it("names the param `model` for a model no provider serves", async () => {
    const res = await SELF.fetch(`${BASE}/v1/models/no-such-model`, { headers: { authorization: `Bearer ${a.secret}` } });
    expect(await refused(res, 404)).toMatchObject({ param: "model", code: "model_not_found" });
  });
});

describe("method not allowed", () => {
  const send = (method: string, path: string, headers: Record<string, string>) =>
    SELF.fetch(`${BASE}${path}`, { method, headers, redirect: "manual" });

  it.each(["POST", "PUT", "PATCH", "DELETE"])("%s to a GET-only path is a 405 naming the methods it takes", async (method) => {
    for (const path of ["/finance/v1/usage", "/finance/v1/summary", "/finance/v1/requests/gen-x"]) {
      const res = await send(method, path, { authorization: `Bearer ${aFinance}` });
      expect(res.headers.get("allow"), path).toBe("GET, HEAD");
      expect(await refused(res, 405)).toMatchObject({ type: "invalid_request_error", code: "method_not_allowed" });
    }
    const dash = await send(method, "/dashboard/usage.csv", { origin: BASE });
    expect(dash.headers.get("allow")).toBe("GET, HEAD");
    expect((await refused(dash, 405)).code).toBe("method_not_allowed");
    const models = await send(method, "/v1/models", { authorization: `Bearer ${a.secret}` });
    expect((await refused(models, 405)).code).toBe("method_not_allowed");
  });

  it("keeps 404 for a path no method has, and GET on a POST-only path names POST", async () => {
    expect((await send("POST", "/finance/v1/nothing-here", { authorization: `Bearer ${aFinance}` })).status).toBe(404);
    expect((await send("POST", "/dashboard/nothing-here", { origin: BASE })).status).toBe(404);
    const get = await send("GET", "/v1/chat/completions", { authorization: `Bearer ${a.secret}` });
    expect(get.headers.get("allow")).toBe("POST");
    expect(get.status).toBe(405);
  });
});

describe("a usage filter on a key the caller cannot see", () => {
  const usage = (query: string) => SELF.fetch(`${BASE}/finance/v1/usage?${query}`, { headers: { authorization: `Bearer ${aFinance}` } });

  it("is a 404 in the Finance API, JSON and CSV alike, exactly as for a key that does not exist", async () => {
    const missing = "00000000-0000-4000-8000-000000000000";
    for (const format of ["json", "csv"]) {
      const other = await usage(`key_id=${b.keyId}&format=${format}`);
      const absent = await usage(`key_id=${missing}&format=${format}`);
      expect([other.status, absent.status]).toEqual([404, 404]);
      const [o, x] = [(await other.json()) as { error: OpenAIError }, (await absent.json()) as { error: OpenAIError }];
      expect(o.error.code).toBe("not_found");
      expect(o.error.message.replace(b.keyId, "ID")).toBe(x.error.message.replace(missing, "ID"));
      expect((await usage(`key_id=${a.keyId}&format=${format}`)).status).toBe(200);
    }
  });

  it("is a 404 on the dashboard's usage page and CSV", async () => {
    const signIn = await SELF.fetch(`${BASE}/dashboard/sign-in`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: BASE },
      body: new URLSearchParams({ key: aFinance }).toString(),
      redirect: "manual",
    });
    const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
    const page = (path: string) => SELF.fetch(`${BASE}/dashboard${path}`, { headers: { cookie }, redirect: "manual" });
    for (const path of ["/usage.csv", "/usage"]) {
      const other = await page(`${path}?key_id=${b.keyId}`);
      expect(other.status, `${path}: ${await other.text()}`).toBe(404);
      const own = await page(`${path}?key_id=${a.keyId}`);
      expect(own.status, path).toBe(200);
      await own.body?.cancel();
    }
  });
});
