/**
 * Validation errors in workerd, through the whole app: every 400 names the param in OpenAI's
 * spelling, gives a code a client can branch on (missing_required_parameter, invalid_type,
 * invalid_value, unknown_parameter, invalid_json) and tells the SDK not to retry.
 */
import { SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { admin, adminJson, BASE, model, newKey } from "../support/workerd/gateway";

interface OpenAIError {
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

let inferenceSecret: string;
let financeSecret: string;
let accountId: string;

beforeAll(async () => {
  const key = await newKey("Validation Co");
  inferenceSecret = key.secret;
  accountId = key.accountId;
  financeSecret = (
    await adminJson<{ secret: string }>("POST", "/keys", { account_id: accountId, role: "finance", name: "validation" }, 201)
  ).secret;
});

/** The 400 a request got: its error object, having checked the status and the retry header. */
async function refusal(res: Response): Promise<OpenAIError> {
  const text = await res.text();
  expect(res.status, text).toBe(400);
  expect(res.headers.get("x-should-retry")).toBe("false");
  expect(res.headers.get("x-request-id")).toBeTruthy();
  return (JSON.parse(text) as { error: OpenAIError }).error;
}

const post = (path: string, secret: string, body: string) =>
  SELF.fetch(`${BASE}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${secret}`, "content-type": "application/json" },
    body,
  });
const chat = (body: Record<string, unknown>) => post("/v1/chat/completions", inferenceSecret, JSON.stringify(body));
const messages = [{ role: "user", content: "hi" }];
const said = (param: string | null, code: string, message: string): OpenAIError => ({
  message,
  type: "invalid_request_error",
  param,
  code,
});

describe("/v1/chat/completions", () => {
  it("validates the provider preferences like the rest of the body, naming the field inside them", async () => {
    const err = await refusal(await chat({ model, messages, provider: { sort: "fastest" } }));
    expect(err).toMatchObject({ type: "invalid_request_error", param: "provider.sort", code: "invalid_value" });
    expect(err.message).toContain("provider.sort");
    expect((await refusal(await chat({ model, messages, provider: { only: "sim-a" } }))).param).toBe("provider.only");
  });
  it("names a missing required parameter", async () => {
    expect(await refusal(await chat({ model }))).toEqual(
      said("messages", "missing_required_parameter", "Missing required parameter: 'messages'."),
    );
  });
  it("tells a wrong type from a missing field", async () => {
    expect(await refusal(await chat({ model, messages, max_tokens: "3" }))).toEqual(
      said("max_tokens", "invalid_type", "Invalid type for 'max_tokens': expected an integer, but got a string instead."),
    );
  });
  it("names the limit a value broke", async () => {
    expect(await refusal(await chat({ model, messages, temperature: 5 }))).toEqual(
      said("temperature", "invalid_value", "Invalid value for 'temperature': must be at most 2."),
    );
  });
  it("names a nested param and its allowed values", async () => {
    expect(await refusal(await chat({ model, messages: [{ role: "robot", content: "hi" }] }))).toEqual(
      said(
        "messages[0].role",
        "invalid_value",
        "Invalid value for 'messages[0].role': must be one of 'system', 'developer', 'user', 'assistant', 'tool' or 'function'.",
      ),
    );
  });
  it("refuses a body that is not JSON, or not a JSON object", async () => {
    expect(await refusal(await post("/v1/chat/completions", inferenceSecret, "{not json"))).toEqual(
      said(null, "invalid_json", "The request body is not valid JSON."),
    );
    expect(await refusal(await post("/v1/chat/completions", inferenceSecret, JSON.stringify([{ model, messages }])))).toEqual(
      said(null, "invalid_type", "The request body must be a JSON object, but got an array instead."),
    );
    expect(await refusal(await post("/v1/chat/completions", inferenceSecret, "  "))).toEqual(
      said(null, "invalid_json", "The request body is empty; send a JSON object."),
    );
  });
});

describe("/v1/embeddings", () => {
  it("lists the shapes a union field accepts", async () => {
    expect(await refusal(await post("/v1/embeddings", inferenceSecret, JSON.stringify({ model, input: 5 })))).toEqual(
      said(
        "input",
        "invalid_type",
        "Invalid type for 'input': expected one of a string, an array of strings, an array of integers or an array of arrays of integers, but got an integer instead.",
      ),
    );
  });
});

describe("/admin/v1", () => {
  it("accounts: a missing name, a name of the wrong type", async () => {
    expect(await refusal(await admin("POST", "/accounts", {}))).toEqual(
      said("name", "missing_required_parameter", "Missing required parameter: 'name'."),
    );
    expect(await refusal(await admin("POST", "/accounts", { name: 5 }))).toEqual(
      said("name", "invalid_type", "Invalid type for 'name': expected a string, but got an integer instead."),
    );
  });
  it("keys: a malformed account id, an unknown role", async () => {
    expect(await refusal(await admin("POST", "/keys", { account_id: "not-a-uuid" }))).toEqual(
      said("account_id", "invalid_value", "Invalid value for 'account_id': must be a UUID."),
    );
    expect(await refusal(await admin("POST", "/keys", { account_id: accountId, role: "root" }))).toEqual(
      said("role", "invalid_value", "Invalid value for 'role': must be one of 'inference' or 'finance'."),
    );
  });
});

describe("/finance/v1/usage", () => {
  const usage = (query: string) =>
    SELF.fetch(`${BASE}/finance/v1/usage?${query}`, { headers: { authorization: `Bearer ${financeSecret}` } });
  it("refuses an unknown query parameter by name", async () => {
    expect(await refusal(await usage("frm=2026-04-01"))).toEqual(said("frm", "unknown_parameter", "Unknown parameter: 'frm'."));
  });
  it("lists the groupings it knows", async () => {
    expect(await refusal(await usage("group_by=week"))).toEqual(
      said("group_by", "invalid_value", "Invalid value for 'group_by': must be one of 'day', 'hour', 'model', 'key' or 'provider'."),
    );
  });
  it("says what a date must look like", async () => {
    expect(await refusal(await usage("from=yesterday"))).toEqual(
      said(
        "from",
        "invalid_value",
        "Invalid value for 'from': must be an ISO 8601 date (2026-04-01, midnight UTC) or date-time (2026-04-01T12:00:00Z).",
      ),
    );
  });
});
