// The generation loop of a method stage: items go through `make` in fixed chunks, and each
// chunk's records are appended to the stage's record file in one durable write (RecordWriter),
// then its drops (items that gave no record, with a reason code) to `drops.jsonl`. An item is done
// when its id is in either file, so a stage killed at any point resumes with the first item not
// done: no record lost, none written twice. Records must carry their item's id.
//
// Chunks are cut from the full item list (not from the items left), so a resumed run asks the
// backend for the same groups as an uninterrupted one wherever it can.
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, readFileSync, writeSync } from "node:fs";
import type { RecordKind, RecordOfKind, RecordWriter } from "../../data/dataset.js";

export interface Dropped {
  itemId: string;
  reason: string;
}

export interface ChunkOutcome<R> {
  records: R[];
  dropped: Dropped[];
}

export interface ChunkedOptions<I extends { id: string }, K extends RecordKind> {
  items: readonly I[];
  chunkSize: number;
  writer: RecordWriter<K>;
  /** JSONL of {itemId, reason}; created when missing. */
  dropsPath: string;
  make(chunk: I[]): Promise<ChunkOutcome<RecordOfKind<K>>>;
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface ChunkedResult {
  records: number;
  /** Dropped items per reason code, over the whole stage (resumed parts included). */
  drops: Record<string, number>;
}

/** The drops recorded so far; a torn last line (killed mid-write) is ignored and rewritten later. */
export function readDrops(path: string): Dropped[] {
  if (!existsSync(path)) return [];
  const out: Dropped[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      out.push(JSON.parse(line) as Dropped);
    } catch {
      // Only the last line can be torn (appends are whole lines); its item is simply redone.
    }
  }
  return out;
}

function appendDrops(path: string, dropped: readonly Dropped[]): void {
  if (dropped.length === 0) return;
  // A torn previous tail must not glue onto the first new line.
  const text = readFileSync(path, "utf8");
  const lead = text.length > 0 && !text.endsWith("\n") ? "\n" : "";
  const fd = openSync(path, "a");
  try {
    writeSync(fd, lead + dropped.map((d) => JSON.stringify(d)).join("\n") + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export async function generateInChunks<I extends { id: string }, K extends RecordKind>(
  options: ChunkedOptions<I, K>,
): Promise<ChunkedResult> {
  const { items, writer, dropsPath } = options;
  if (!Number.isInteger(options.chunkSize) || options.chunkSize < 1)
    throw new RangeError(`chunkSize ${options.chunkSize} must be a positive integer`);
  if (!existsSync(dropsPath)) appendFileSync(dropsPath, "");
  const dropped = new Map(readDrops(dropsPath).map((d) => [d.itemId, d.reason]));
  const isDone = (id: string) => writer.has(id) || dropped.has(id);
  let done = items.filter((item) => isDone(item.id)).length;
  options.onProgress?.(done, items.length);
  for (let start = 0; start < items.length; start += options.chunkSize) {
    options.signal?.throwIfAborted();
    const chunk = items.slice(start, start + options.chunkSize).filter((item) => !isDone(item.id));
    if (chunk.length === 0) continue;
    const outcome = await options.make(chunk);
    const wanted = new Set(chunk.map((item) => item.id));
    for (const r of outcome.records) {
      if (!wanted.has(r.id)) throw new Error(`a record has id '${r.id}', which is not an item of its chunk`);
    }
    const answered = new Set([...outcome.records.map((r) => r.id), ...outcome.dropped.map((d) => d.itemId)]);
    const missing = chunk.find((item) => !answered.has(item.id));
    if (missing) throw new Error(`item '${missing.id}' got neither a record nor a drop reason`);
    writer.append(outcome.records);
    appendDrops(dropsPath, outcome.dropped);
    for (const d of outcome.dropped) dropped.set(d.itemId, d.reason);
    done += chunk.length;
    options.onProgress?.(done, items.length);
  }
  const drops: Record<string, number> = {};
  for (const reason of dropped.values()) drops[reason] = (drops[reason] ?? 0) + 1;
  return { records: writer.size, drops };
}
