// Entry-per-item JSON files, read with the line each entry starts on, so that every error can
// name the file and the line (DESIGN.md: a bad input gets a message naming the input and what is
// wrong). A file is a JSON array of entries (LLaVA's `llava_v1_5_mix665k.json`, LLaMA-Factory's
// sharegpt files) or JSON Lines, one entry per line; the first non-blank character decides.
// What an entry must hold is the caller's business: this reads each one as a JSON value.
import { readFileSync } from "node:fs";

export interface JsonEntriesOptions {
  /** Names the data in messages: `not ${what}: expected a JSON array ...`. */
  what: string;
  /** Makes the error thrown (each importer has its own class); default a plain Error. */
  error?: (message: string) => Error;
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
function arrayElements(
  text: string,
  open: number,
  where: (offset: number) => string,
  fail: (message: string) => Error,
): [number, number][] {
  const out: [number, number][] = [];
  const stack: string[] = []; // the closers the open brackets of the current entry wait for
  let inString = false;
  let start = -1;
  let lastNonSpace = -1;
  const notJson = (why: string) => fail(`${where(start)}: not JSON: the entry starting here ${why}`);
  const trailing = (from: number) => {
    const rest = text.slice(from).search(/\S/);
    if (rest >= 0) throw fail(`${where(from + rest)}: text after the closing ']' of the array`);
    return out;
  };
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
        if (c === "]" && out.length === 0) return trailing(i + 1);
        throw fail(`${where(i)}: expected an entry before '${c}'`);
      }
      out.push([start, lastNonSpace + 1]);
      start = -1;
      if (c === "]") return trailing(i + 1);
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
  throw fail(`${where(text.length)}: the JSON array is not closed (is the file cut short?)`);
}

/**
 * Every entry of a JSON array or JSON Lines file, parsed and handed to `each` with the line it
 * starts on, in file order (so the first bad entry is the one reported). A file that cannot be
 * read, is empty, is neither form, or holds an entry that is not JSON is an error naming the file
 * (and the line). A JSON Lines file starts with an object (`{`).
 */
export function readJsonEntries<T>(
  path: string,
  options: JsonEntriesOptions,
  each: (value: unknown, line: number) => T,
): T[] {
  const fail = options.error ?? ((message: string) => new Error(message));
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw fail(`${path}: cannot read (${(error as Error).message})`);
  }
  const newlines: number[] = [];
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) newlines.push(i);
  const where = (offset: number) => `${path} line ${lineAt(newlines, offset)}`;
  const parse = (source: string, line: number): T => {
    let value: unknown;
    try {
      value = JSON.parse(source);
    } catch (error) {
      throw fail(`${path} line ${line}: not JSON (${(error as Error).message})`);
    }
    return each(value, line);
  };
  const first = text.search(/\S/);
  if (first < 0) throw fail(`${path}: empty file`);
  if (text[first] === "[") {
    return arrayElements(text, first, where, fail).map(([s, e]) => parse(text.slice(s, e), lineAt(newlines, s)));
  }
  if (text[first] !== "{")
    throw fail(
      `${where(first)}: not ${options.what}: expected a JSON array of entries or one JSON entry per line, found '${text[first]}'`,
    );
  const out: T[] = [];
  text.split("\n").forEach((source, i) => {
    if (source.trim() !== "") out.push(parse(source, i + 1));
  });
  return out;
}
