// A method stage's data folder, `<stage>/data`: content-addressed images, the stage's record file
// and `drops.jsonl` (items that gave no record, with reason codes). makeRecords fills the record
// file from the stage's items with the stage's input model, resumably (generateInChunks), behind
// a progress bar; its result (counts) is what the stage stores as the step's result.
// writeStageRecords writes records made without a model (from the world's truth, an oracle)
// whole, for a step that simply makes them again when it is rerun.
import { join } from "node:path";
import type { VisionLanguageModel } from "../../backends/types.js";
import {
  checkRecordImages,
  createDataset,
  parseRecordOfKind,
  type RecordOfKind,
  RecordWriter,
} from "../../data/dataset.js";
import type { ImageStore } from "../../data/image-store.js";
import { RecordError } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import type { StageContext } from "../../run/stage-kind.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { type ChunkedResult, type ChunkOutcome, type Dropped, generateInChunks } from "./chunked-records.js";

export interface StageData {
  /** `<stage>/data`: the dataset root the records' image paths are relative to. */
  root: string;
  store: ImageStore;
  recordsPath: string;
  dropsPath: string;
}

/** The stage's data folder (created when missing), its records going to `file`. */
export function openStageData(ctx: StageContext, file: string): StageData {
  const root = join(ctx.stageDir, "data");
  const store = createDataset(root);
  return { root, store, recordsPath: join(root, file), dropsPath: join(root, "drops.jsonl") };
}

/** Stores an image in the dataset; resolves to the path records name it by (`images/<sha256>.png`). */
export const storeImage = (store: ImageStore) => (image: ChatImage) => store.put(image.bytes, image.mimeType);

export interface MakeRecordsOptions<I extends { id: string }, K extends "sft" | "preference"> {
  kind: K;
  /** The progress bar's label after the stage name. */
  label: string;
  items: I[];
  /** Items dropped before generation (images that did not decode), counted with the stage's drops. */
  predropped?: readonly Dropped[];
  chunkSize: number;
  /** One chunk's records and drops (every item of the chunk gets one or the other). */
  make(backend: VisionLanguageModel, chunk: I[]): Promise<ChunkOutcome<RecordOfKind<K>>>;
}

/** Makes the stage's records with its input model, resumably; closes what it opened. */
export async function makeRecords<I extends { id: string }, K extends "sft" | "preference">(
  ctx: StageContext,
  data: StageData,
  options: MakeRecordsOptions<I, K>,
): Promise<ChunkedResult> {
  const backend = await ctx.openModel(ctx.inputModel);
  const writer = RecordWriter.open(data.recordsPath, options.kind, { root: data.root });
  const bar = ctx.progress(`${ctx.name} ${options.label}`, options.items.length);
  try {
    return await generateInChunks({
      items: options.items,
      predropped: options.predropped,
      chunkSize: options.chunkSize,
      writer,
      dropsPath: data.dropsPath,
      signal: ctx.signal,
      onProgress: (done) => bar.update(done),
      make: (chunk) => options.make(backend, chunk),
    });
  } finally {
    bar.done();
    writer.close();
    await backend.close();
  }
}

/**
 * Writes a stage's records and its drops whole, each file atomically (replacing what a killed
 * earlier attempt left), after validating every record as RecordWriter does (schema, unique ids,
 * images inside the root). For records made without a model, cheap to make again: call it inside
 * a ctx.step, which a rerun after a kill repeats from the start. Returns the counts makeRecords
 * returns.
 */
export function writeStageRecords<K extends "sft" | "preference">(
  data: StageData,
  kind: K,
  records: readonly RecordOfKind<K>[],
  dropped: readonly Dropped[],
): ChunkedResult {
  const ids = new Set<string>();
  const lines = records.map((input, i) => {
    const where = `${data.recordsPath}: record ${i}${typeof input?.id === "string" ? ` (id ${JSON.stringify(input.id)})` : ""}`;
    const record = parseRecordOfKind(input, kind, where);
    if (ids.has(record.id)) throw new RecordError(`${where}: id: duplicate id ${JSON.stringify(record.id)}`);
    ids.add(record.id);
    checkRecordImages(record, data.root, where);
    return `${JSON.stringify(record)}\n`;
  });
  const drops: Record<string, number> = {};
  for (const d of dropped) drops[d.reason] = (drops[d.reason] ?? 0) + 1;
  writeFileAtomic(
    data.dropsPath,
    dropped.map((d) => `${JSON.stringify({ itemId: d.itemId, reason: d.reason })}\n`).join(""),
  );
  writeFileAtomic(data.recordsPath, lines.join(""));
  return { records: records.length, drops };
}
