// LLaVA's instruction-data format, read with the line each entry starts on, so that every error
// names the file and the line (DESIGN.md: a bad input gets a message naming the input and what is
// wrong). A file is a JSON array of entries (LLaVA's `llava_v1_5_mix665k.json`,
// ShareGPT4V's files) or JSON Lines, one entry per line; the first non-blank character decides.
//
//   {"id": "000000033471", "image": "coco/train2017/000000033471.jpg",
//    "conversations": [{"from": "human", "value": "<image>\nWhat are the colors of the bus?"},
//                      {"from": "gpt", "value": "The bus is white and red."}, ...]}
//
// Turns alternate human, gpt, human, gpt, ... (LLaVA's preprocessing assumes it too). An entry
// without `image` is a text-only conversation; `id` may be a string or a number (both occur).
import { readFileSync } from "node:fs";
import { z } from "zod";
import { formatPath } from "../../util/zod-issues.js";

export class LlavaFormatError extends Error {
  override name = "LlavaFormatError";
}

const TurnSchema = z.object({ from: z.enum(["human", "gpt"]), value: z.string() });

export const LlavaEntrySchema = z
  .looseObject({
    id: z.union([z.string().min(1), z.number()]).optional(),
    image: z.string().min(1).optional(),
    conversations: z.array(TurnSchema).min(2),
  })
  .superRefine((entry, ctx) => {
    entry.conversations.forEach((turn, i) => {
      const want = i % 2 === 0 ? "human" : "gpt";
      if (turn.from !== want)
        ctx.addIssue({ code: "custom", path: ["conversations", i, "from"], message: `expected "${want}"` });
    });
  });

export type LlavaEntry = z.infer<typeof LlavaEntrySchema>;

export interface LocatedEntry {
  entry: LlavaEntry;
  /** 1-based line of the file where the entry starts. */
  line: number;
}

/** 1-based line of a character offset. */
function lineAt(newlines: readonly number[], offset: number): number {
  let lo = 0;
  let hi = newlines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newlines[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

/**
 * The [start, end) offsets of the elements of the top-level JSON array starting at `open`,
 * by scanning brackets outside strings. Syntax inside an element is left to JSON.parse; what
 * is checked here is the array's own shape (commas, its closing bracket, nothing after it).
 */
function arrayElements(text: string, open: number, where: (offset: number) => string): [number, number][] {
  const out: [number, number][] = [];
  const stack: string[] = []; // the closers the open brackets of the current entry wait for
  let inString = false;
  let start = -1;
  let lastNonSpace = -1;
  const notJson = (why: string) => new LlavaFormatError(`${where(start)}: not JSON: the entry starting here ${why}`);
  for (let i = open + 1; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') {
        inString = false;
        lastNonSpace = i;
      }
      continue;
    }
    if (/\s/.test(c)) continue;
    if (stack.length === 0 && (c === "," || c === "]")) {
      if (start < 0) {
        if (c === "]" && out.length === 0) return trailing(text, i + 1, where, out);
        throw new LlavaFormatError(`${where(i)}: expected an entry before '${c}'`);
      }
      out.push([start, lastNonSpace + 1]);
      start = -1;
      if (c === "]") return trailing(text, i + 1, where, out);
      continue;
    }
    if (start < 0) start = i;
    lastNonSpace = i;
    if (c === '"') inString = true;
    else if (c === "{") stack.push("}");
    else if (c === "[") stack.push("]");
    else if (c === "}" || c === "]") {
      const want = stack.pop();
      if (want !== c)
        throw notJson(
          `has '${c}' where ${want === undefined ? "no bracket is open" : `'${want}' is due`} (${where(i)})`,
        );
    }
  }
  if (start >= 0 && (stack.length > 0 || inString))
    throw notJson("never closes (unbalanced brackets or quotes, or the file is cut short)");
  throw new LlavaFormatError(`${where(text.length)}: the JSON array is not closed (is the file cut short?)`);
}

function trailing(
  text: string,
  from: number,
  where: (offset: number) => string,
  out: [number, number][],
): [number, number][] {
  const rest = text.slice(from).search(/\S/);
  if (rest >= 0) throw new LlavaFormatError(`${where(from + rest)}: text after the closing ']' of the array`);
  return out;
}

function parseEntry(source: string, path: string, line: number): LlavaEntry {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (error) {
    throw new LlavaFormatError(`${path} line ${line}: not JSON (${(error as Error).message})`);
  }
  const parsed = LlavaEntrySchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path, "(entry)")}: ${i.message}`);
    throw new LlavaFormatError(`${path} line ${line}: not a LLaVA entry: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/** Every entry of a LLaVA JSON or JSON Lines file, validated, with its line. */
export function readLlavaFile(path: string): LocatedEntry[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new LlavaFormatError(`${path}: cannot read (${(error as Error).message})`);
  }
  const newlines: number[] = [];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) newlines.push(i);
  const where = (offset: number) => `${path} line ${lineAt(newlines, offset)}`;
  const first = text.search(/\S/);
  if (first < 0) throw new LlavaFormatError(`${path}: empty file`);
  if (text[first] === "[") {
    return arrayElements(text, first, where).map(([s, e]) => {
      const line = lineAt(newlines, s);
      return { entry: parseEntry(text.slice(s, e), path, line), line };
    });
  }
  if (text[first] !== "{")
    throw new LlavaFormatError(
      `${where(first)}: not LLaVA data: expected a JSON array of entries or one JSON entry per line, found '${text[first]}'`,
    );
  const out: LocatedEntry[] = [];
  text.split("\n").forEach((source, i) => {
    if (source.trim() !== "") out.push({ entry: parseEntry(source, path, i + 1), line: i + 1 });
  });
  return out;
}
