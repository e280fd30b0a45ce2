// The generation loop of a method stage: items go through `make` in fixed chunks, and each
// chunk's records are appended to the stage's record file in one durable write (RecordWriter),
// then its drops (items that gave no record, with a reason code) to `drops.jsonl`. An item is done
// when its id is in either file, so a stage killed at any point resumes with the first item not
// done: no record lost, none written twice. Records must carry their item's id.
//
// Chunks are cut from the full item list (not from the items left), so a resumed run asks the
// backend for the same groups as an uninterrupted one wherever it can.
import type { RecordKind, RecordOfKind, RecordWriter } from "../../data/dataset.js";
import { appendDrops, type Dropped, openDrops } from "../../data/drops.js";

export { type Dropped, readDrops } from "../../data/drops.js";

export interface ChunkOutcome<R> {
  records: R[];
  dropped: Dropped[];
  /**
   * Drops of parts of the chunk's items (COMPACT: one question of an image that may still give a
   * record), ids `<item id>/<part>`: appended to drops.jsonl in the chunk's write, after its
   * records, and counted by reason; never taken for items. A kill between the records' write and
   * the drops' loses these audit lines of that one chunk (its records and item drops are kept).
   */
  partsDropped?: Dropped[];
}

export interface ChunkedOptions<I extends { id: string }, K extends RecordKind> {
  items: readonly I[];
  chunkSize: number;
  writer: RecordWriter<K>;
  /** JSONL of {itemId, reason}; created when missing. */
  dropsPath: string;
  make(chunk: I[]): Promise<ChunkOutcome<RecordOfKind<K>>>;
  /**
   * Items dropped before generation (an image that does not decode), not among `items`: written
   * to drops.jsonl first (once: a rerun finds them there) and counted with the others.
   */
  predropped?: readonly Dropped[];
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface ChunkedResult {
  records: number;
  /** Dropped items per reason code, over the whole stage (resumed parts included). */
  drops: Record<string, number>;
}

export async function generateInChunks<I extends { id: string }, K extends RecordKind>(
  options: ChunkedOptions<I, K>,
): Promise<ChunkedResult> {
  const { items, writer, dropsPath } = options;
  if (!Number.isInteger(options.chunkSize) || options.chunkSize < 1)
    throw new RangeError(`chunkSize ${options.chunkSize} must be a positive integer`);
  const dropped = new Map(openDrops(dropsPath).map((d) => [d.itemId, d.reason]));
  const fresh = (options.predropped ?? []).filter((d) => !dropped.has(d.itemId));
  appendDrops(
    dropsPath,
    fresh.map((d) => ({ itemId: d.itemId, reason: d.reason })),
  );
  for (const d of fresh) dropped.set(d.itemId, d.reason);
  const isDone = (id: string) => writer.has(id) || dropped.has(id);
  let done = items.filter((item) => isDone(item.id)).length;
  options.onProgress?.(done, items.length);
  for (let start = 0; start < items.length; start += options.chunkSize) {
    options.signal?.throwIfAborted();
    const chunk = items.slice(start, start + options.chunkSize).filter((item) => !isDone(item.id));
    if (chunk.length === 0) continue;
    const outcome = await options.make(chunk);
    // Each item of the chunk gets exactly one answer: a record or a drop, and nothing else is answered.
    const wanted = new Set(chunk.map((item) => item.id));
    const answered = new Set<string>();
    const answers = [
      ...outcome.records.map((r) => ({ id: r.id, what: "a record" })),
      ...outcome.dropped.map((d) => ({ id: d.itemId, what: "a drop" })),
    ];
    for (const { id, what } of answers) {
      if (!wanted.has(id)) throw new Error(`${what} has id '${id}', which is not an item of its chunk`);
      if (answered.has(id)) throw new Error(`item '${id}' got more than one record or drop`);
      answered.add(id);
    }
    const missing = chunk.find((item) => !answered.has(item.id));
    if (missing) throw new Error(`item '${missing.id}' got neither a record nor a drop reason`);
    const parts = outcome.partsDropped ?? [];
    const partIds = new Set<string>();
    for (const d of parts) {
      const slash = d.itemId.lastIndexOf("/");
      if (slash < 0 || !wanted.has(d.itemId.slice(0, slash)) || dropped.has(d.itemId) || partIds.has(d.itemId))
        throw new Error(`a part drop has id '${d.itemId}', not '<item of its chunk>/<new part>'`);
      partIds.add(d.itemId);
    }
    writer.append(outcome.records);
    appendDrops(dropsPath, [...outcome.dropped, ...parts]);
    for (const d of [...outcome.dropped, ...parts]) dropped.set(d.itemId, d.reason);
    done += chunk.length;
    options.onProgress?.(done, items.length);
  }
  const drops: Record<string, number> = {};
  for (const reason of dropped.values()) drops[reason] = (drops[reason] ?? 0) + 1;
  return { records: writer.size, drops };
}
