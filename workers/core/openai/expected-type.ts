/**
 * What a zod 4 schema expects, in OpenAI's words ("an integer", "an array of strings"), and the
 * schema at a path of the value it parses. Reads zod's schema definitions (`_zod.def`, the
 * internals zod/v4/core exposes to libraries built on it).
 */
import { z } from "zod";

type Schema = z.core.$ZodType;
type Path = readonly PropertyKey[];

/** The fields of zod 4's schema definitions this module follows (its `_zod.def`). */
interface Def {
  type: string;
  innerType?: Schema;
  in?: Schema;
  out?: Schema;
  getter?: () => Schema;
  shape?: Record<string, Schema>;
  element?: Schema;
  valueType?: Schema;
  items?: Schema[];
  rest?: Schema | null;
  options?: Schema[];
  entries?: Record<string, unknown>;
  values?: unknown[];
  coerce?: boolean;
}
const defOf = (s: Schema) => s._zod.def as unknown as Def;

/** Past optional/nullable/default/catch/readonly wrappers, lazies and pipes, to the schema that types the input. */
function unwrap(schema: Schema): Schema {
  let s = schema;
  for (let depth = 0; depth < 32; depth++) {
    const def = defOf(s);
    const next =
      def.innerType ??
      (def.type === "pipe" ? (defOf(def.in!).type === "transform" ? def.out : def.in) : def.type === "lazy" ? def.getter?.() : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** The schema for the value at `path`, when the path leads through objects, arrays, records and tuples only. */
export function schemaAt(schema: Schema, path: Path): Schema | undefined {
  let node: Schema | undefined = unwrap(schema);
  for (const key of path) {
    const def = defOf(node);
    if (def.type === "object") node = def.shape?.[String(key)];
    else if (def.type === "array") node = def.element;
    else if (def.type === "record") node = def.valueType;
    else if (def.type === "tuple") node = def.items?.[Number(key)] ?? def.rest ?? undefined;
    else return undefined; // a union mid-path: which branch is meant is the union's issue to say
    if (!node) return undefined;
    node = unwrap(node);
  }
  return node;
}

export const isCoercing = (s: Schema | undefined) => s !== undefined && defOf(s).coerce === true;
export const unionOptions = (s: Schema | undefined) => (s && defOf(s).type === "union" ? defOf(s).options : undefined);
/** What a value for `schema` must be: "an integer", "an array of strings", "one of a string, an array of strings or null". */
export const describeSchema = (s: Schema) => nounOf(s)?.one;
/** The type an enum's or a literal's values share: "a string". */
export const describeValues = (values: readonly unknown[]) => kindOf(values)?.one;
/** "a, b or c". */
export const listOf = (xs: readonly string[]) => (xs.length <= 1 ? (xs[0] ?? "") : `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}`);

interface Noun {
  one: string;
  many: string;
}
const noun = (one: string, many: string): Noun => ({ one, many });
const NOUNS: Record<string, Noun> = {
  string: noun("a string", "strings"),
  number: noun("a number", "numbers"),
  integer: noun("an integer", "integers"),
  boolean: noun("a boolean", "booleans"),
  null: noun("null", "nulls"),
  date: noun("a date", "dates"),
  object: noun("an object", "objects"),
};

function nounOf(schema: Schema): Noun | undefined {
  const s = unwrap(schema);
  const def = defOf(s);
  switch (def.type) {
    case "number":
      return s instanceof z.ZodNumber && s.isInt ? NOUNS.integer : NOUNS.number;
    case "bigint":
      return NOUNS.integer;
    case "record":
    case "map":
      return NOUNS.object;
    case "enum":
      return kindOf(Object.values(def.entries ?? {}));
    case "literal":
      return kindOf(def.values ?? []);
    case "array":
    case "set": {
      const of = def.element && nounOf(def.element);
      return of ? noun(`an array of ${of.many}`, `arrays of ${of.many}`) : noun("an array", "arrays");
    }
    case "tuple":
      return noun("an array", "arrays");
    case "union": {
      const nouns = (def.options ?? []).map(nounOf);
      if (nouns.some((n) => n === undefined)) return undefined;
      const ones = [...new Set(nouns.map((n) => n!.one))];
      return noun(ones.length > 2 ? `one of ${listOf(ones)}` : listOf(ones), listOf([...new Set(nouns.map((n) => n!.many))]));
    }
    default:
      return NOUNS[def.type];
  }
}

/** An enum's or a literal's type: what a wrong-typed value should have been. */
function kindOf(values: readonly unknown[]): Noun | undefined {
  const kinds = new Set(values.map((v) => (v === null ? "null" : typeof v === "number" && Number.isInteger(v) ? "integer" : typeof v)));
  return kinds.size === 1 ? NOUNS[[...kinds][0]!] : undefined;
}
