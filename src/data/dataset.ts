// A dataset on disk (DESIGN.md, Data): a root folder holding `images/` (the content-addressed
// image store) and JSONL files of training records, one record per line, image paths relative
// to the root.
//
// Stages that synthesize records run for hours and get killed; RecordWriter makes their output
// resumable: records are appended in chunks, each chunk one write followed by fsync, after every
// record of the chunk has been validated (nothing invalid or half-checked reaches the file). On
// reopening, a last line cut short by a kill is truncated away and the ids already written are
// exposed, so that the resumed stage skips them; writing an id twice is refused.
import {
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  writeSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fsyncDir, ImageStore, resolveInside } from "./image-store.js";
import {
  type PreferenceRecord,
  parsePreferenceRecord,
  parseSftRecord,
  parseTrainingRecord,
  RecordError,
  type SftRecord,
  type TrainingRecord,
} from "./records.js";

/** Which records a file holds: only SFT samples, only preference pairs, or either. */
export type RecordKind = "sft" | "preference" | "any";

export type RecordOfKind<K extends RecordKind> = K extends "sft"
  ? SftRecord
  : K extends "preference"
    ? PreferenceRecord
    : TrainingRecord;

/** Validates one record of the given kind; `where` names the input (`file line n`). */
export function parseRecordOfKind<K extends RecordKind>(value: unknown, kind: K, where: string): RecordOfKind<K> {
  if (kind === "sft") return parseSftRecord(value, where) as RecordOfKind<K>;
  if (kind === "preference") return parsePreferenceRecord(value, where) as RecordOfKind<K>;
  return parseTrainingRecord(value, where) as RecordOfKind<K>;
}

/** Creates `root/images` when missing and returns the root's image store. */
export function createDataset(root: string): ImageStore {
  mkdirSync(join(root, "images"), { recursive: true });
  return new ImageStore(root);
}

/** The record files of a dataset root: the `*.jsonl` files directly inside it, sorted by name. */
export function listRecordFiles(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".jsonl"))
    .map((e) => join(root, e.name))
    .sort();
}

/** Checks that each image of a record resolves inside the root and exists there. */
export function checkRecordImages(record: TrainingRecord, root: string, where: string): void {
  record.images.forEach((path, i) => {
    const file = resolveInside(root, path, `${where}: images[${i}]`);
    if (!existsSync(file)) throw new RecordError(`${where}: images[${i}]: ${path} does not exist in ${root}`);
  });
}

export interface RecordFileOptions {
  /** The dataset root the records' image paths are relative to (default: the file's folder). */
  root?: string;
  /** Check that every image exists inside the root (default true). */
  checkImages?: boolean;
}

/** One line of a JSONL file split off with its 1-based number and whether it ended with a newline. */
interface Line {
  number: number;
  text: string;
  /** Byte offset of the line's first byte. */
  start: number;
  /** Byte offset just past this line's newline (or the end of the file for an unterminated last line). */
  end: number;
  terminated: boolean;
}

function splitLines(bytes: Buffer): Line[] {
  const lines: Line[] = [];
  let start = 0;
  let number = 1;
  while (start < bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    const stop = nl === -1 ? bytes.length : nl;
    lines.push({
      number,
      text: bytes.subarray(start, stop).toString("utf8"),
      start,
      end: nl === -1 ? bytes.length : nl + 1,
      terminated: nl !== -1,
    });
    start = stop + 1;
    number++;
  }
  return lines;
}

function parseJsonLine(line: Line, file: string): unknown {
  try {
    return JSON.parse(line.text);
  } catch (error) {
    throw new RecordError(`${file} line ${line.number}: not JSON (${(error as Error).message})`);
  }
}

/**
 * Reads and validates every record of a JSONL file: the schema of `kind` (errors name the
 * file, the line and the field), unique ids, and (unless `checkImages: false`) images that
 * exist inside the root. Blank lines are skipped; a last line without a newline is accepted
 * when it is a whole record (hand-written files) and reported as cut short otherwise.
 */
export function readRecords<K extends RecordKind>(
  path: string,
  kind: K,
  options: RecordFileOptions = {},
): RecordOfKind<K>[] {
  const root = resolve(options.root ?? dirname(path));
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new RecordError(`${path}: cannot read records: ${(error as Error).message}`);
  }
  const records: RecordOfKind<K>[] = [];
  const seen = new Map<string, number>();
  for (const line of splitLines(bytes)) {
    if (line.text.trim() === "") continue;
    const where = `${path} line ${line.number}`;
    let value: unknown;
    try {
      value = JSON.parse(line.text);
    } catch (error) {
      const cut = line.terminated ? "" : " (the last line is cut short: was the stage that wrote it killed?)";
      throw new RecordError(`${where}: not JSON${cut} (${(error as Error).message})`);
    }
    const record = parseRecordOfKind(value, kind, where);
    const first = seen.get(record.id);
    if (first !== undefined)
      throw new RecordError(`${where}: id: duplicate id ${JSON.stringify(record.id)} (first on line ${first})`);
    seen.set(record.id, line.number);
    if (options.checkImages !== false) checkRecordImages(record, root, where);
    records.push(record);
  }
  return records;
}

/**
 * Appends validated records to a JSONL file, durably and resumably. Open with RecordWriter.open;
 * the constructor is private so that every writer has recovered the file first.
 */
export class RecordWriter<K extends RecordKind> {
  private readonly written: Set<string>;
  private fd: number | null;

  private constructor(
    readonly path: string,
    readonly kind: K,
    readonly root: string,
    private readonly checkImages: boolean,
    fd: number,
    ids: Set<string>,
    /** Bytes of a torn last line cut off when the file was opened (0 when it was whole). */
    readonly droppedBytes: number,
  ) {
    this.fd = fd;
    this.written = ids;
  }

  /**
   * Opens (creating it when missing) a record file for appending. Existing records are read and
   * validated (an invalid complete line is an error naming file, line and field, and the file is
   * left alone); a last line cut short by a kill is truncated away; a last record that is whole
   * but lacks its newline gets one.
   */
  static open<K extends RecordKind>(path: string, kind: K, options: RecordFileOptions = {}): RecordWriter<K> {
    const root = resolve(options.root ?? dirname(path));
    const checkImages = options.checkImages !== false;
    const created = !existsSync(path);
    const fd = openSync(path, created ? "a+" : "r+");
    try {
      if (created) fsyncDir(dirname(resolve(path)));
      const bytes = created ? Buffer.alloc(0) : readFileSync(fd);
      const ids = new Set<string>();
      let keep = bytes.length; // bytes of the file that hold whole records
      let needsNewline = false;
      for (const line of splitLines(bytes)) {
        if (line.text.trim() === "") continue;
        const where = `${path} line ${line.number}`;
        let value: unknown;
        if (!line.terminated) {
          // Only the last line can lack a newline. A prefix of a JSON object never parses, so a
          // line that parses is whole (cut just before its newline, or hand-written).
          try {
            value = JSON.parse(line.text);
          } catch {
            keep = line.start;
            break;
          }
          needsNewline = true;
        } else {
          value = parseJsonLine(line, path);
        }
        const record = parseRecordOfKind(value, kind, where);
        if (ids.has(record.id)) throw new RecordError(`${where}: id: duplicate id ${JSON.stringify(record.id)}`);
        ids.add(record.id);
      }
      if (keep < bytes.length) {
        ftruncateSync(fd, keep);
        fsyncSync(fd);
      }
      if (needsNewline) {
        writeAll(fd, Buffer.from("\n"), fstatSync(fd).size);
        fsyncSync(fd);
      }
      return new RecordWriter(path, kind, root, checkImages, fd, ids, bytes.length - keep);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** The ids in the file: a resumed stage skips these. */
  get ids(): ReadonlySet<string> {
    return this.written;
  }

  has(id: string): boolean {
    return this.written.has(id);
  }

  get size(): number {
    return this.written.size;
  }

  /**
   * Validates the whole chunk (schema, ids new and unique, images present inside the root), then
   * appends it with one write and an fsync. Throws before writing anything when a record is bad.
   */
  append(records: readonly RecordOfKind<K>[]): void {
    if (this.fd === null) throw new Error(`${this.path}: the record writer is closed`);
    if (records.length === 0) return;
    const chunk = new Set<string>();
    const lines: string[] = [];
    records.forEach((input, i) => {
      const where = `${this.path}: appended record ${i}${typeof input?.id === "string" ? ` (id ${JSON.stringify(input.id)})` : ""}`;
      const record = parseRecordOfKind(input, this.kind, where);
      if (this.written.has(record.id) || chunk.has(record.id)) {
        throw new RecordError(`${where}: id: ${JSON.stringify(record.id)} is already written to ${this.path}`);
      }
      chunk.add(record.id);
      if (this.checkImages) checkRecordImages(record, this.root, where);
      lines.push(`${JSON.stringify(record)}\n`);
    });
    const data = Buffer.from(lines.join(""), "utf8");
    writeAll(this.fd, data, fstatSync(this.fd).size);
    fsyncSync(this.fd);
    for (const id of chunk) this.written.add(id);
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

/** Writes all of `data` at `position` (a short write is continued, never left half done silently). */
function writeAll(fd: number, data: Buffer, position: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, position + done);
}
