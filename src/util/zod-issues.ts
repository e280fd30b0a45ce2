// zod issues as messages that name the exact field: `stages[1].dpo.beta: expected a number > 0,
// got -1`. Array indices print as [i], object keys join with dots. An unknown field lists the
// fields allowed there, found by walking the schema alongside the data (so that inside a
// discriminated union the option the data chose gives the list). One formatter for every layer
// that validates with zod (recipes, world configs, records, the server's requests).
import type { z } from "zod";

/** `a.b[2].c` from a zod issue path; `whenEmpty` names the whole input (the path of a top-level issue). */
export function formatPath(path: readonly PropertyKey[], whenEmpty = "(top level)"): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || whenEmpty;
}

const NOUNS: Record<string, string> = {
  number: "a number",
  int: "an integer",
  string: "a string",
  boolean: "true or false",
  object: "a mapping of fields",
  array: "a list",
  record: "a mapping",
  literal: "a fixed value",
};

/** A value as it would appear in the YAML (short). */
function show(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value); // JSON would say null
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

function bound(issue: { origin: string; inclusive?: boolean }, kind: "min" | "max", value: unknown): string {
  const n = Number(value);
  const op = kind === "min" ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
  switch (issue.origin) {
    case "number":
    case "int":
    case "bigint":
      return `expected a number ${op} ${n}`;
    case "string":
      return kind === "min" ? `expected at least ${n} characters` : `expected at most ${n} characters`;
    case "array":
    case "set":
      return kind === "min" ? `expected at least ${n} items` : `expected at most ${n} items`;
    default:
      return `expected ${issue.origin} ${op} ${n}`;
  }
}

type Issue = z.core.$ZodIssue & { input?: unknown };

/** The message of one issue without its path; `allowedKeys` lists an object's fields for unknown-key issues. */
export function issueMessage(issue: Issue, allowedKeys?: readonly string[] | null): string {
  const got = "input" in issue && issue.input !== undefined ? `, got ${show(issue.input)}` : "";
  switch (issue.code) {
    case "invalid_type": {
      const noun = NOUNS[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `required field missing (expected ${noun})`;
      return `expected ${noun}${got}`;
    }
    case "too_small":
      return `${bound(issue, "min", issue.minimum)}${got}`;
    case "too_big":
      return `${bound(issue, "max", issue.maximum)}${got}`;
    case "invalid_value": {
      const values = issue.values.map((v) => String(v));
      return values.length === 1
        ? `expected ${show(issue.values[0])}${got}`
        : `expected one of: ${values.join(", ")}${got}`;
    }
    case "unrecognized_keys":
      return `unknown field${allowedKeys ? `; allowed fields: ${allowedKeys.join(", ")}` : ""}`;
    case "invalid_union": {
      const u = issue as Issue & { discriminator?: string; options?: unknown[] };
      if (u.discriminator !== undefined) {
        const input = issue.input as Record<string, unknown> | undefined;
        const known = (u.options ?? []).map(String).join(", ");
        const value = input && typeof input === "object" ? input[u.discriminator] : undefined;
        return value === undefined
          ? `required field missing; known ${u.discriminator}s: ${known}`
          : `unknown ${u.discriminator} ${show(value)}; known ${u.discriminator}s: ${known}`;
      }
      return issue.message;
    }
    case "invalid_format":
      // A schema's own message (e.g. what a name may hold) says more than the pattern.
      if (!issue.message.startsWith("Invalid")) return `${issue.message}${got}`;
      return `expected ${issue.format === "regex" ? "a value matching the pattern" : issue.format}${
        "pattern" in issue && issue.pattern ? ` ${issue.pattern}` : ""
      }${got}`;
    case "not_multiple_of":
      return `expected a multiple of ${String(issue.divisor)}${got}`;
    default:
      return issue.message;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: walking zod's internal definitions
type AnySchema = any;

/** The schema inside defaults, optionals, pipes and the like: what a value is checked against. */
export function unwrapSchema(s: AnySchema): AnySchema {
  for (;;) {
    const def = s?._zod?.def;
    if (!def) return s;
    if (["default", "prefault", "optional", "nullable", "readonly", "catch", "nonoptional"].includes(def.type))
      s = def.innerType;
    else if (def.type === "pipe") s = def.in;
    else if (def.type === "lazy") s = def.getter();
    else return s;
  }
}

/** The option of a union that `data` would take (a discriminated union's by its discriminator). */
function unionOption(def: AnySchema, data: unknown): AnySchema | null {
  const options: AnySchema[] = def.options ?? [];
  const disc: string | undefined = def.discriminator;
  if (disc === undefined || data === null || typeof data !== "object") return null;
  const value = (data as Record<string, unknown>)[disc];
  for (const option of options) {
    const lit = unwrapSchema(unwrapSchema(option)?._zod?.def?.shape?.[disc]);
    const values: unknown[] = lit?._zod?.def?.values ?? [];
    if (values.includes(value)) return unwrapSchema(option);
  }
  return null;
}

/** The fields of the object schema at `path`, following `data` through unions; null when unknown. */
export function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] | null {
  let s: AnySchema = unwrapSchema(schema);
  let d: unknown = data;
  const step = () => {
    const def = s?._zod?.def;
    if (def?.type === "union") s = unionOption(def, d);
  };
  step();
  for (const p of path) {
    const def = s?._zod?.def;
    if (def?.type === "object") s = unwrapSchema(def.shape[p as string]);
    else if (def?.type === "array") s = unwrapSchema(def.element);
    else if (def?.type === "record") s = unwrapSchema(def.valueType);
    else return null;
    d = d !== null && typeof d === "object" ? (d as Record<PropertyKey, unknown>)[p] : undefined;
    step();
  }
  const def = s?._zod?.def;
  return def?.type === "object" ? Object.keys(def.shape) : null;
}

/** One line per problem, `<path>: <message>`; unknown fields name themselves (`stages[0].bta: unknown field; ...`). */
export function describeIssues(issues: readonly z.core.$ZodIssue[], schema?: z.ZodType, data?: unknown): string[] {
  return issues.flatMap((raw) => {
    const issue = raw as Issue;
    if (issue.code === "unrecognized_keys") {
      const allowed = schema ? allowedKeysAt(schema, issue.path, data) : null;
      const prefix = issue.path.length ? `${formatPath(issue.path)}.` : "";
      return issue.keys.map((k) => `${prefix}${k}: ${issueMessage(issue, allowed)}`);
    }
    return [`${formatPath(issue.path)}: ${issueMessage(issue)}`];
  });
}
