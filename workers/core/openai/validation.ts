/**
 * A zod 4 failure as OpenAI reports a bad request: the first issue, its param in OpenAI's spelling
 * (`messages[0].content`), and a code a client can branch on (`missing_required_parameter`,
 * `invalid_type`, `invalid_value`, `unknown_parameter`). Zod 4 leaves `input` off its issues, so
 * whether a field was absent, and what was sent instead, is read from the parsed input itself;
 * the schema, when given, names the expected type (`an integer`, not zod's `number`; expected-type.ts).
 */
import { z } from "zod";
import { type ApiError, errors } from "./errors";
import { describeSchema, describeValues, isCoercing, listOf, schemaAt, unionOptions } from "./expected-type";

type Issue = z.core.$ZodIssue;
type Schema = z.core.$ZodType;
type Path = readonly PropertyKey[];

/** Where we are: the input as parsed, where it sits in the request, and the schema for `schemaPath`. */
interface Scope {
  input: unknown;
  at: Path;
  schema: Schema | undefined;
  schemaPath: Path;
}

/** Parses `input`; a failure is a 400 naming the first offending param. `at` is where `input` sits in the request. */
export function validate<S extends z.ZodType>(schema: S, input: unknown, at: Path = []): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw fromZod(result.error, input, schema, at);
}

export function fromZod(error: z.ZodError, input: unknown, schema?: Schema, at: Path = []): ApiError {
  const issue = error.issues[0];
  if (!issue) return errors.invalidRequest("The request is invalid.", paramName(at), "invalid_value");
  return fromIssue(issue, { input, at, schema, schemaPath: [] }, []);
}

/** "messages.0.content" → "messages[0].content", the way OpenAI names params. */
export function paramName(path: Path): string | null {
  if (path.length === 0) return null;
  return path.reduce<string>((acc, p) => (typeof p === "number" ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), "");
}

// Codes that, on an absent value, mean the field was required.
const ABSENT_MEANS_MISSING = new Set(["invalid_type", "invalid_union", "invalid_value"]);

/** `base` is the path of the union whose branch reported `issue` (a branch's paths are relative to it). */
function fromIssue(issue: Issue, scope: Scope, base: Path): ApiError {
  const path = [...base, ...issue.path];
  const param = paramName([...scope.at, ...path]);
  const value = valueAt(scope.input, path);
  if (value === undefined && ABSENT_MEANS_MISSING.has(issue.code)) return errors.missingParameter(param);
  switch (issue.code) {
    case "invalid_type": {
      const expected = expectedAt(scope, path) ?? EXPECTED[issue.expected] ?? issue.expected;
      // A query string's text that a coercing schema could not read as a number or a date.
      if (typeof value === "string" && (isCoercing(schemaIn(scope, path)) || "received" in issue)) {
        return errors.invalidValue(param, `expected ${expected}, but got '${value.slice(0, 100)}'`);
      }
      return errors.invalidType(param, expected, describeValue(value));
    }
    case "invalid_union":
      return fromUnion(issue, scope, path, param, value);
    case "invalid_value": {
      // An enum or a literal given a value of another type: the type is what is wrong.
      const kind = describeValues(issue.values);
      if (kind && kind !== describeValue(value)) return errors.invalidType(param, kind, describeValue(value));
      return errors.invalidValue(param, reasonOf(issue, value));
    }
    case "unrecognized_keys":
      return errors.unknownParameter(paramName([...scope.at, ...path, issue.keys[0] ?? ""]) ?? "");
    default:
      return errors.invalidValue(param, reasonOf(issue, value));
  }
}

/** Zod 4 reports every branch's issues; the most helpful is the branch that got furthest. */
function fromUnion(
  issue: Extract<Issue, { code: "invalid_union" }>,
  scope: Scope,
  path: Path,
  param: string | null,
  value: unknown,
): ApiError {
  const branches: Issue[][] = issue.errors;
  if (branches.length === 0) {
    // A discriminator that matched no option (or an exclusive union that matched several).
    const options = "options" in issue ? issue.options : undefined;
    return errors.invalidValue(param, options?.length ? `must be ${oneOf(options)}` : issue.message);
  }
  if (isAuthored(issue, value)) return errors.invalidValue(param, issue.message);
  const wrongType = (branch: Issue[]) => branch.some((i) => i.code === "invalid_type" && i.path.length === 0);
  const closer = branches.filter((branch) => !wrongType(branch));
  if (closer.length === 0) {
    const listed = [...new Set(branches.map((b) => EXPECTED[(b[0] as { expected?: string }).expected ?? ""] ?? "another type"))];
    return errors.invalidType(param, expectedAt(scope, path) ?? listOf(listed), describeValue(value));
  }
  // A union of literals: every branch refused the value itself.
  const refused = closer.map(refusedValues);
  if (refused.every((v) => v !== null)) return errors.invalidValue(param, `must be ${oneOf(refused.flat())}`);
  // The branch that got deepest into the value before failing, then the one with fewest complaints.
  const depth = (branch: Issue[]) => Math.max(...branch.map((i) => i.path.length));
  const best = closer.reduce((a, b) => (depth(b) > depth(a) || (depth(b) === depth(a) && b.length < a.length) ? b : a));
  const options = unionOptions(schemaIn(scope, path));
  const branchScope = { ...scope, schema: options?.[branches.indexOf(best)], schemaPath: path };
  return fromIssue(best[0]!, branchScope, path);
}

/** The values a branch allowed, when all it said is that the value itself is not one of them. */
function refusedValues(branch: Issue[]): readonly unknown[] | null {
  const only = branch.length === 1 ? branch[0] : undefined;
  return only?.code === "invalid_value" && only.path.length === 0 ? only.values : null;
}

/** Zod's own message unless the schema's author wrote one, which is then the better reason. */
function reasonOf(issue: Issue, value: unknown): string {
  if (isAuthored(issue, value)) return issue.message;
  switch (issue.code) {
    case "too_small":
    case "too_big":
      return boundOf(issue) ?? issue.message;
    case "invalid_value":
      return `must be ${oneOf(issue.values)}`;
    case "invalid_format":
      return formatOf(issue);
    case "not_multiple_of":
      return `must be a multiple of ${issue.divisor}`;
    default:
      return issue.message;
  }
}

/** A message other than the one zod's locale gives this issue was written by the schema's author. */
function isAuthored(issue: Issue, value: unknown): boolean {
  if (issue.code === "custom") return true;
  const made = z.config().localeError?.({ ...issue, input: value } as z.core.$ZodRawIssue);
  const fallback = typeof made === "string" ? made : made?.message;
  return fallback !== undefined && issue.message !== fallback;
}

const UNITS: Record<string, string> = { string: "character", array: "item", set: "item", file: "byte" };

function boundOf(issue: Extract<Issue, { code: "too_small" | "too_big" }>): string | null {
  const small = issue.code === "too_small";
  const limit = small ? issue.minimum : issue.maximum;
  const inclusive = issue.inclusive !== false;
  const unit = UNITS[issue.origin];
  if (unit) {
    const n = `${limit} ${unit}${Number(limit) === 1 ? "" : "s"}`;
    if (issue.exact) return `must have exactly ${n}`;
    return `must have ${small ? (inclusive ? "at least" : "more than") : inclusive ? "at most" : "fewer than"} ${n}`;
  }
  if (issue.origin === "date") {
    const when = new Date(Number(limit)).toISOString();
    return `must be ${small ? (inclusive ? "on or after" : "after") : inclusive ? "on or before" : "before"} ${when}`;
  }
  if (issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint") {
    return `must be ${small ? (inclusive ? "at least" : "greater than") : inclusive ? "at most" : "less than"} ${limit}`;
  }
  return null;
}

const FORMATS: Record<string, string> = {
  uuid: "a UUID",
  guid: "a UUID",
  url: "a URL",
  email: "an email address",
  date: "a date (YYYY-MM-DD)",
  datetime: "an ISO 8601 date-time (2026-04-01T12:00:00Z)",
  time: "a time (HH:MM:SS)",
  duration: "an ISO 8601 duration",
  ipv4: "an IPv4 address",
  ipv6: "an IPv6 address",
  base64: "base64",
  base64url: "base64url",
  hex: "hexadecimal",
};

function formatOf(issue: Extract<Issue, { code: "invalid_format" }>): string {
  const known = FORMATS[issue.format];
  if (known) return `must be ${known}`;
  const detail = issue as { pattern?: string; prefix?: string; suffix?: string; includes?: string };
  if (issue.format === "regex" && detail.pattern) return `must match the pattern ${detail.pattern}`;
  if (issue.format === "starts_with") return `must start with '${detail.prefix}'`;
  if (issue.format === "ends_with") return `must end with '${detail.suffix}'`;
  if (issue.format === "includes") return `must include '${detail.includes}'`;
  return `must be a valid ${issue.format}`;
}

// ---- the input: what was sent at a path ----

function valueAt(input: unknown, path: Path): unknown {
  let here = input;
  for (const key of path) {
    if (typeof here !== "object" || here === null || !Object.hasOwn(here, key)) return undefined;
    here = (here as Record<PropertyKey, unknown>)[key];
  }
  return here;
}

/** What a value is, in OpenAI's words: "a string", "an integer", "an array". */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "number") return Number.isInteger(v) ? "an integer" : "a decimal";
  if (typeof v === "bigint") return "an integer";
  if (typeof v === "object") return "an object";
  return typeof v === "string" ? "a string" : `a ${typeof v}`;
}

const oneOf = (values: readonly unknown[]) => {
  const shown = values.map((v) => (typeof v === "string" ? `'${v}'` : String(v)));
  return shown.length === 1 ? shown[0]! : `one of ${listOf(shown)}`;
};

// ---- the schema: what was expected at a path ----

/** Zod's `expected`, for when the schema cannot be followed (e.g. inside an unresolved union). */
const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean",
  bigint: "an integer",
  null: "null",
  date: "a date",
  array: "an array",
  tuple: "an array",
  object: "an object",
  record: "an object",
  map: "a map",
  set: "a set",
};

const schemaIn = (scope: Scope, path: Path) =>
  scope.schema && path.length >= scope.schemaPath.length ? schemaAt(scope.schema, path.slice(scope.schemaPath.length)) : undefined;
const expectedAt = (scope: Scope, path: Path) => {
  const node = schemaIn(scope, path);
  return node && describeSchema(node);
};
