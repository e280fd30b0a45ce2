// The supervised ceiling's records (stage supervised-sft, stages.ts). Not a self-improvement
// method: it reads the pool split's ground truth (`pool-truth.jsonl`, the labels a method never
// sees) and makes SFT records of it, so that a method's effect can be reported as the fraction of
// the base-to-ceiling gap it closes.
//
// Per pool image, in the forms the base was trained on (src/train/world-data.ts):
//   - its true description under CHAIR's prompt, "<image>\nDescribe this image in detail.";
//   - for a scene, `questionsPerImage` of its plain existence questions (isPlainExistence: "Is
//     there a <object>?" and its phrasings) with their true answers, a seeded pick per image,
//     asked as the base's questions were (questionPrompt: the short-answer suffix half the time).
// Creatures get their description only: their questions ask for the species, an explanation, or
// whether the creature has a concept ("Does this creature have a long beak?"), which is a part's
// attribute, not an object's existence, and they have no program for isPlainExistence to read.
// The pool names every species, the held-out ones too (splits.ts, namesSpecies), so the ceiling
// also teaches the names the base never read.
//
// An image whose truth has no description gives no record (reason `no-description`), not even its
// questions: the description is the record every image is meant to give. No model is asked.

import type { Provenance, SftRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { DESCRIPTION_PROMPTS, questionPrompt } from "../../train/world-data.js";
import { isPlainExistence, type Question } from "../../world/questions.js";
import { readWorldSplit, splitPath } from "../../world/read-split.js";
import { Rng } from "../../world/rng.js";
import type { WorldRecord } from "../../world/splits.js";
import type { Dropped } from "../common/chunked-records.js";
import type { PoolItem } from "../common/world-items.js";
import { poolItems } from "../common/world-items.js";

/** The detailed-description prompt: CHAIR's (src/eval/chair.ts), the first the base was trained on. */
export const DESCRIPTION_PROMPT = DESCRIPTION_PROMPTS[0];

/** What the records' provenance names as their maker: the pool's truth file, not a model. */
export const GROUND_TRUTH_MODEL = "world:pool-truth";

export type GroundTruthDrop = "no-description";

/** A pool image with its ground truth (its record in `pool-truth.jsonl`). */
export interface TruthItem extends PoolItem {
  truth: WorldRecord;
}

/**
 * The pool images a stage draws (poolItems: the same seeded subset a method's stage draws with
 * the same n and seed), each with its truth. An image the truth file lacks is an error: the
 * world's two pool files come from one build.
 */
export function poolTruthItems(worldDir: string, n: number, seed: number): TruthItem[] {
  const truth = new Map(readWorldSplit(worldDir, "pool-truth").map((r) => [r.id, r]));
  return poolItems(worldDir, n, seed).map((item) => {
    const t = truth.get(item.id);
    if (t === undefined)
      throw new Error(
        `${splitPath(worldDir, "pool-truth")}: no record for pool image ${item.id}; rebuild the pool split`,
      );
    return { ...item, truth: t };
  });
}

/** The plain existence questions of a record (a scene's; none for a creature). */
export function plainExistenceQuestions(record: WorldRecord): Question[] {
  return record.kind === "scene" ? (record.questions ?? []).filter((q) => isPlainExistence(q.program)) : [];
}

export interface GroundTruthOptions {
  stage: string;
  /** The stage's seed: the existence questions picked and their prompt forms, per image. */
  seed: number;
  questionsPerImage: number;
  /** Stores an image in the dataset; resolves to the path records name it by. */
  imagePath(image: ChatImage): Promise<string>;
  onProgress?(done: number): void;
  signal?: AbortSignal;
}

export interface GroundTruthResult {
  records: SftRecord[];
  dropped: (Dropped & { reason: GroundTruthDrop })[];
  descriptions: number;
  questions: number;
  /** Scenes with fewer existence questions than questionsPerImage (all of theirs are taken). */
  fewerQuestions: number;
}

const turns = (prompt: string, answer: string) => [
  { role: "user" as const, content: prompt },
  { role: "assistant" as const, content: answer },
];

/**
 * The records of the items, in item order: per image its description, then its questions (ids
 * `<image>/description`, `<image>/existence-<j>`). Validated where they are written
 * (writeStageRecords).
 */
export async function groundTruthRecords(
  items: readonly TruthItem[],
  options: GroundTruthOptions,
): Promise<GroundTruthResult> {
  const out: GroundTruthResult = { records: [], dropped: [], descriptions: 0, questions: 0, fewerQuestions: 0 };
  for (const [done, item] of items.entries()) {
    options.signal?.throwIfAborted();
    const description = item.truth.description?.trim();
    if (description === undefined || description === "") {
      out.dropped.push({ itemId: item.id, reason: "no-description" });
      options.onProgress?.(done + 1);
      continue;
    }
    const image = await options.imagePath(item.image);
    const provenance: Provenance = {
      method: "supervised",
      stage: options.stage,
      model: GROUND_TRUTH_MODEL,
      seed: options.seed,
      reasons: ["ground-truth"],
      source: item.source,
    };
    const record = (id: string, prompt: string, answer: string): SftRecord => ({
      kind: "sft",
      id,
      images: [image],
      messages: turns(prompt, answer),
      provenance,
    });
    out.records.push(record(`${item.id}/description`, DESCRIPTION_PROMPT, description));
    out.descriptions++;
    // The image's own stream: the same picks whatever the other items and on a rerun.
    const rng = Rng.from("selfsynth-supervised", options.seed, item.id);
    const existence = plainExistenceQuestions(item.truth);
    const picked = rng.fork("existence").sample(existence, options.questionsPerImage);
    if (item.truth.kind === "scene" && picked.length < options.questionsPerImage) out.fewerQuestions++;
    const prompts = rng.fork("prompts");
    picked.forEach((q, j) => {
      out.records.push(record(`${item.id}/existence-${j}`, questionPrompt(q, prompts), q.answer));
      out.questions++;
    });
    options.onProgress?.(done + 1);
  }
  return out;
}
