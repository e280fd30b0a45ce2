// General instruction data from the user's SFT file, for the stages that mix it with their own
// records (STS's 1:1 mix; COMPACT's general share and its data budget). A stage's `general:`
// option names where they come from:
//
//   { source: sceneworld }                                     the world's instruction split (each
//                                                              stage's own reading of it: the default)
//   { source: file, path, format: canonical | llava | sharegpt, imageFolder? }
//                                                              an SFT file (src/data/sft-file.ts,
//                                                              the reader BPO's positives use)
//
// From a file, each entry stays one whole conversation (every turn of a multi-turn entry, as
// LLaVA-665K's entries are trained), an SFT record with id `general/<entry id>`. What the file
// holds is checked when it is read, before a stage writes anything: a malformed entry or a
// duplicate id is an error naming the file and the line (the format's reader), and so is an entry
// whose `<image>` markers do not match its images. Conversations that cannot train are drops with
// a reason code: an empty answer (`empty-answer`) and more than one image (`multi-image`: the
// embedded model reads one). A last user turn without an answer is left out. A text-only
// conversation is kept (LLaVA-665K holds some; the trainer takes records without an image).
// The drawn conversations' images are then read and decoded, every one before any is stored: a
// missing or undecodable image is an error naming the file and the line, and nothing is written.
import { join } from "node:path";
import { z } from "zod";
import { appendDrops } from "../../data/drops.js";
import type { SftRecord, Turn } from "../../data/records.js";
import { readSftFile, type SftFileConversation, SftFileFields } from "../../data/sft-file.js";
import type { ChatImage } from "../../images/chat-image.js";
import { decodeImage } from "../../images/codec.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import type { Dropped } from "./chunked-records.js";

export const GeneralSourceSchema = z
  .discriminatedUnion("source", [
    z.object({ source: z.literal("sceneworld") }).strict(),
    z
      .object({
        source: z.literal("file"),
        ...SftFileFields,
      })
      .strict(),
  ])
  .describe("general instruction data: sceneworld (the world's instruction split) or an SFT file");
export type GeneralSource = z.output<typeof GeneralSourceSchema>;
export type GeneralFileSource = Extract<GeneralSource, { source: "file" }>;

export type GeneralDrop = "empty-answer" | "multi-image";

export class GeneralDataError extends Error {
  override name = "GeneralDataError";
}

/** A usable conversation of the file. */
export interface GeneralConversation {
  /** `general/<entry id>`: the record's id. */
  id: string;
  /** The file's entry (its id, where it is, its images). */
  entry: SftFileConversation;
  /** Its turns, ending with an answer. */
  messages: Turn[];
}

export interface GeneralFile {
  /** The file as the recipe names it (provenance: `dataset:<path>`). */
  path: string;
  /** The usable conversations, in file order. */
  conversations: GeneralConversation[];
  /** The entries that cannot train, ids `general/<entry id>`. */
  dropped: (Dropped & { reason: GeneralDrop })[];
}

const markers = (turns: readonly Turn[]) => turns.reduce((n, t) => n + (t.content.split("<image>").length - 1), 0);

/** Reads and checks the file (no image is read yet): its usable conversations and its drops. */
export function readGeneralFile(source: GeneralFileSource): GeneralFile {
  const out: GeneralFile = { path: source.path, conversations: [], dropped: [] };
  for (const entry of readSftFile(source.path, source.format, source.imageFolder)) {
    const id = `general/${entry.id}`;
    const messages = entry.turns.at(-1)?.role === "user" ? entry.turns.slice(0, -1) : entry.turns;
    const places = markers(messages);
    if (places !== entry.images.length)
      throw new GeneralDataError(
        `${entry.where}: ${entry.images.length} image(s) but ${places} <image> marker(s) in the turns it trains on`,
      );
    if (messages.some((t) => t.role === "assistant" && t.content.trim() === ""))
      out.dropped.push({ itemId: id, reason: "empty-answer" });
    else if (entry.images.length > 1) out.dropped.push({ itemId: id, reason: "multi-image" });
    else out.conversations.push({ id, entry, messages });
  }
  return out;
}

/** One line for the log: how many conversations the file gave, and its drops by reason. */
export function describeGeneralFile(file: GeneralFile): string {
  const drops: Record<string, number> = {};
  for (const d of file.dropped) drops[d.reason] = (drops[d.reason] ?? 0) + 1;
  const total = file.conversations.length + file.dropped.length;
  return `${file.path}: ${file.conversations.length} general conversations of ${total}${file.dropped.length > 0 ? `; dropped ${JSON.stringify(drops)}` : ""}`;
}

/** Writes the file's drops to `<root>/general-drops.jsonl`, whole (a rerun writes the same). */
export function writeGeneralDrops(root: string, file: GeneralFile): string {
  const path = join(root, "general-drops.jsonl");
  writeFileAtomic(path, "");
  appendDrops(path, file.dropped);
  return path;
}

/**
 * Reads and decodes the images of `chosen` (each file once): a missing or undecodable image is
 * an error naming the entry's file and line. Stores nothing.
 */
export async function checkGeneralImages(
  chosen: readonly GeneralConversation[],
  options: { signal?: AbortSignal; onProgress?(done: number, total: number): void } = {},
): Promise<void> {
  const checked = new Set<string>();
  for (const [i, c] of chosen.entries()) {
    options.signal?.throwIfAborted();
    options.onProgress?.(i, chosen.length);
    for (const [k, image] of c.entry.images.entries()) {
      if (checked.has(image)) continue;
      const bytes = c.entry.readImage(k).bytes;
      await decodeImage(bytes, { source: `${c.entry.where}: image` });
      checked.add(image);
    }
  }
  options.onProgress?.(chosen.length, chosen.length);
}

export interface GeneralRecordOptions {
  /** The records' provenance: the method and stage that mix them. */
  method: string;
  stage: string;
  /** The file as the recipe names it: provenance model `dataset:<path>`. */
  path: string;
  /** Stores an image in the stage's dataset; resolves to its store path. */
  imagePath(image: ChatImage): Promise<string>;
  signal?: AbortSignal;
}

/**
 * The chosen conversations as SFT records, their images stored (each file once). Call
 * checkGeneralImages on them first: storing is where a bad image would otherwise be found.
 */
export async function storeGeneralRecords(
  chosen: readonly GeneralConversation[],
  options: GeneralRecordOptions,
): Promise<SftRecord[]> {
  const stored = new Map<string, string>();
  const out: SftRecord[] = [];
  for (const c of chosen) {
    options.signal?.throwIfAborted();
    const images: string[] = [];
    for (const [k, image] of c.entry.images.entries()) {
      let path = stored.get(image);
      if (path === undefined) {
        path = await options.imagePath(c.entry.readImage(k));
        stored.set(image, path);
      }
      images.push(path);
    }
    out.push({
      kind: "sft",
      id: c.id,
      images,
      messages: c.messages,
      provenance: {
        method: options.method,
        stage: options.stage,
        model: `dataset:${options.path}`,
        reasons: ["general-instruction"],
        source: c.entry.id,
      },
    });
  }
  return out;
}

/** checkGeneralImages, then storeGeneralRecords: nothing is stored unless every image reads. */
export async function generalFileRecords(
  chosen: readonly GeneralConversation[],
  options: GeneralRecordOptions,
): Promise<SftRecord[]> {
  await checkGeneralImages(chosen, { signal: options.signal });
  return storeGeneralRecords(chosen, options);
}

/** An error when the file has fewer usable conversations than a stage needs, naming both numbers and the fix. */
export function needGeneral(file: GeneralFile, wanted: number, what: string): void {
  if (wanted > file.conversations.length)
    throw new GeneralDataError(
      `${file.path}: ${what} needs ${wanted} general conversations; the file has ${file.conversations.length} usable (${file.dropped.length} dropped)`,
    );
}
