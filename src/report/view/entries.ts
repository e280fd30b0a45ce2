// Where each entry of a record file lies, found by one streaming pass over its bytes: the lines
// of a JSONL file (blank lines skipped, as readRecords does), or the elements of a JSON array
// (the LLaVA and LLaMA-Factory exports are one pretty-printed array per file). Only byte ranges
// and line numbers are kept, so a file of hundreds of MB is never held in memory; a page reads
// its entries' ranges back (readEntries).
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";

export type EntryLayout = "jsonl" | "json-array";

export interface EntryIndex {
  layout: EntryLayout;
  /** Byte offset of each entry's first byte. */
  starts: number[];
  /** Byte offset just past each entry's last byte (its newline excluded). */
  ends: number[];
  /** 1-based line of each entry's first byte. */
  lines: number[];
  /**
   * Problems of the file's structure. An entry with no bytes (start = end) is the problem itself
   * (a JSON array not closed, text after it); on an entry with bytes (a last JSONL line without
   * its newline) it explains why that entry does not parse, when it does not.
   */
  problems: Map<number, string>;
  /** The file's size and modification time when indexed: a change means indexing again. */
  size: number;
  mtimeMs: number;
}

const NEWLINE = 0x0a;
const isSpace = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d || b === NEWLINE;

/** Indexes a file; `size` and `mtimeMs` are the stat the caller took before reading. */
export async function indexEntries(
  path: string,
  layout: EntryLayout,
  stat: { size: number; mtimeMs: number },
): Promise<EntryIndex> {
  const index: EntryIndex = {
    layout,
    starts: [],
    ends: [],
    lines: [],
    problems: new Map(),
    size: stat.size,
    mtimeMs: stat.mtimeMs,
  };
  const splitter = layout === "jsonl" ? new JsonlSplitter(index) : new JsonArraySplitter(index);
  // Only the bytes the stat saw: a file still being appended to is indexed as it was then.
  if (stat.size > 0) {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20, end: stat.size - 1 })) {
      splitter.push(chunk as Buffer);
    }
  }
  splitter.finish();
  return index;
}

/** JSONL: an entry per line that holds more than whitespace. */
class JsonlSplitter {
  private offset = 0;
  private line = 1;
  private lineStart = 0;
  private blank = true;

  constructor(private readonly index: EntryIndex) {}

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const nl = chunk.indexOf(NEWLINE, at);
      const stop = nl === -1 ? chunk.length : nl;
      // A line is blank until a byte that is not whitespace: usually its first byte, `{`.
      for (let i = at; this.blank && i < stop; i++) if (!isSpace(chunk[i])) this.blank = false;
      if (nl === -1) break;
      this.endLine(this.offset + nl);
      this.line++;
      this.lineStart = this.offset + nl + 1;
      this.blank = true;
      at = nl + 1;
    }
    this.offset += chunk.length;
  }

  finish(): void {
    if (this.lineStart >= this.offset || this.blank) return;
    this.endLine(this.offset);
    this.index.problems.set(
      this.index.starts.length - 1,
      "the last line has no newline: cut short by a stage still writing, or killed?",
    );
  }

  private endLine(end: number): void {
    if (this.blank) return;
    this.index.starts.push(this.lineStart);
    this.index.ends.push(end);
    this.index.lines.push(this.line);
  }
}

/**
 * A JSON array: an entry per element at depth 1. Strings are followed (with their escapes) so
 * that brackets and commas inside them are not taken for structure; the elements themselves are
 * parsed only when read.
 */
class JsonArraySplitter {
  private offset = 0;
  private line = 1;
  /** 0 before the opening `[`, 1 between elements, deeper inside one. */
  private depth = 0;
  private inString = false;
  private escaped = false;
  private closed = false;
  private elementStart = -1;
  private elementLine = 0;
  /** Offset just past the last byte that is not whitespace (an element's end). */
  private lastSolid = 0;
  private stopped = false;

  constructor(private readonly index: EntryIndex) {}

  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      const at = this.offset + i;
      if (b === NEWLINE) this.line++;
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (b === 0x5c) this.escaped = true;
        else if (b === 0x22) this.inString = false;
        this.lastSolid = at + 1;
        continue;
      }
      if (isSpace(b)) continue;
      if (this.closed) {
        this.stopAt(at, "text after the end of the JSON array");
        continue;
      }
      if (this.depth === 0) {
        if (b === 0x5b) this.depth = 1;
        else this.stopAt(at, "not a JSON array (the file does not start with `[`)");
        continue;
      }
      if (this.depth === 1 && (b === 0x2c || b === 0x5d)) {
        this.endElement();
        if (b === 0x5d) {
          this.depth = 0;
          this.closed = true;
        }
        continue;
      }
      if (this.depth === 1 && this.elementStart === -1) {
        this.elementStart = at;
        this.elementLine = this.line;
      }
      if (b === 0x22) this.inString = true;
      else if (b === 0x7b || b === 0x5b) this.depth++;
      else if (b === 0x7d || b === 0x5d) this.depth--;
      this.lastSolid = at + 1;
    }
    this.offset += chunk.length;
  }

  finish(): void {
    if (this.closed) return;
    this.endElement();
    this.addProblemEntry(this.offset, "the JSON array is not closed: the file is cut short");
  }

  private endElement(): void {
    if (this.elementStart === -1) return;
    this.index.starts.push(this.elementStart);
    this.index.ends.push(this.lastSolid);
    this.index.lines.push(this.elementLine);
    this.elementStart = -1;
  }

  /** Nothing after this byte is read as entries. */
  private stopAt(at: number, problem: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closed = true;
    this.addProblemEntry(at, problem);
  }

  /** An entry with no bytes of its own: a problem of the file at a byte (on the current line). */
  private addProblemEntry(at: number, problem: string): void {
    this.index.starts.push(at);
    this.index.ends.push(at);
    this.index.lines.push(this.line);
    this.index.problems.set(this.index.starts.length - 1, problem);
  }
}

/** Largest read when entries are read in file order (the scans of the filters and facets). */
const BATCH_BYTES = 4 << 20;

/**
 * The text of the entries `which` (indices into the index, ascending or not), in that order.
 * Neighbouring entries are read together, so reading every entry in order costs a few large
 * reads per BATCH_BYTES rather than one per entry.
 */
export async function readEntries(path: string, index: EntryIndex, which: readonly number[]): Promise<string[]> {
  const texts: string[] = new Array(which.length);
  const handle = await open(path, "r");
  try {
    let k = 0;
    while (k < which.length) {
      // A run of entries that follow each other in the file and fit one read.
      let last = k;
      while (
        last + 1 < which.length &&
        which[last + 1] === which[last] + 1 &&
        index.ends[which[last + 1]] - index.starts[which[k]] <= BATCH_BYTES
      ) {
        last++;
      }
      const from = index.starts[which[k]];
      const to = index.ends[which[last]];
      const bytes = Buffer.alloc(to - from);
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await handle.read(bytes, done, bytes.length - done, from + done);
        if (bytesRead === 0) break; // the file shrank since it was indexed: the entry reads short
        done += bytesRead;
      }
      for (let j = k; j <= last; j++) {
        const e = which[j];
        texts[j] = bytes.subarray(index.starts[e] - from, index.ends[e] - from).toString("utf8");
      }
      k = last + 1;
    }
  } finally {
    await handle.close();
  }
  return texts;
}
