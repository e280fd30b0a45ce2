// A stage's `drops.jsonl`: one line per item that gave no record, `{"itemId", "reason"}` (a reason
// code). Appended chunk by chunk with fsync, so a kill can tear only the last line; readers and
// the writer agree on what a torn tail is. Here (not in src/methods) because the report reads it too.
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  truncateSync,
  writeSync,
} from "node:fs";

export interface Dropped {
  itemId: string;
  reason: string;
}

/**
 * The drops recorded so far. A last line without its newline that does not parse is a write cut
 * short by a kill: it is ignored (its item is redone; generateInChunks cuts it off the file). Any
 * other line that is not a drop is an error naming the file and the line.
 */
export function readDrops(path: string): Dropped[] {
  if (!existsSync(path)) return [];
  return parseDrops(path, readFileSync(path, "utf8")).drops;
}

function parseDrops(path: string, text: string): { drops: Dropped[]; whole: number } {
  const drops: Dropped[] = [];
  let start = 0;
  let number = 1;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    const line = text.slice(start, nl === -1 ? text.length : nl);
    if (line.trim() !== "") {
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch (error) {
        if (nl === -1) return { drops, whole: start }; // torn tail
        throw new Error(`${path} line ${number}: not JSON (${(error as Error).message})`);
      }
      const d = value as Partial<Dropped> | null;
      if (typeof d?.itemId !== "string" || typeof d.reason !== "string")
        throw new Error(`${path} line ${number}: expected {"itemId": string, "reason": string}`);
      drops.push({ itemId: d.itemId, reason: d.reason });
    }
    if (nl === -1) break;
    start = nl + 1;
    number++;
  }
  return { drops, whole: text.length };
}

/**
 * Reads the drops file (creating it when missing) and makes its end whole: a torn last line is
 * cut off, a whole last line without its newline gets one, so appends start on a fresh line.
 */
export function openDrops(path: string): Dropped[] {
  if (!existsSync(path)) appendFileSync(path, "");
  const text = readFileSync(path, "utf8");
  const { drops, whole } = parseDrops(path, text);
  if (whole < text.length) {
    truncateSync(path, Buffer.byteLength(text.slice(0, whole), "utf8"));
  } else if (text.length > 0 && !text.endsWith("\n")) {
    appendFileSync(path, "\n");
  }
  return drops;
}

export function appendDrops(path: string, dropped: readonly Dropped[]): void {
  if (dropped.length === 0) return;
  const fd = openSync(path, "a");
  try {
    writeSync(fd, `${dropped.map((d) => JSON.stringify(d)).join("\n")}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
