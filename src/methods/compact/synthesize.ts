// COMPACT's data, image by image (METHODS.md section 5, steps 1-4; the released code's
// compact/processor.py). Per image, up to `attempts` teacher questions:
//
//   draw k and a combination (combinations.ts) -> the teacher's question (teacher.ts)
//     -> filters (filters.ts: uninformative answer, low confidence, near-duplicate of a kept one)
//     -> verification (the teacher's separate exact-k check) -> kept
//
// until the image has its target of 2 or 3 kept questions (drawn per image, as the released
// code's randint(2, 3)); the image gives a record when at least `keepAtLeast` (2) were kept. Every
// attempt that keeps nothing is a part drop `<image>/attempt-<n>` with its reason code, and an
// image with too few questions is a drop `<image>` (`too-few-questions`), both in drops.jsonl.
//
// The record is one conversation per image, as the released code writes it (a LLaVA sample): the
// first user turn is `<image>\n{question}\nAnswer the question using a single word or phrase.`,
// the later ones the bare question, each followed by its short answer.
//
// Randomness: the image's own stream (seed, image id), so an image's questions depend neither on
// the chunking nor on the other images, and a resumed run redoes an image the same way with the
// world teacher (a served teacher's requests are seeded by id, as far as the server honours seeds).
import type { Provenance, SftRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { SHORT_ANSWER_SUFFIX } from "../../train/world-data.js";
import type { Capability } from "../../world/questions.js";
import { Rng } from "../../world/rng.js";
import type { ChunkOutcome, Dropped } from "../common/chunked-records.js";
import { type KChoice, markUsed, newImageCombos, nextCombination } from "./combinations.js";
import { type FilterDrop, type FilterOptions, screenQuestion } from "./filters.js";
import type { CompactImage, Teacher, TeacherDrop } from "./teacher.js";

export const METHOD = "compact";

export type AttemptDrop = FilterDrop | TeacherDrop;
export type ImageDrop = "too-few-questions";

/** Every reason code a COMPACT stage writes, attempts' and images'. */
export const DROP_REASONS: readonly (AttemptDrop | ImageDrop)[] = [
  "no-scene-graph",
  "not-composable",
  "malformed-answer",
  "uninformative-answer",
  "low-confidence",
  "near-duplicate",
  "malformed-verification",
  "not-verified",
  "too-few-questions",
];

export interface SynthesisOptions extends FilterOptions {
  stage: string;
  /** The stage's seed: each image's stream derives from it and the image id. */
  seed: number;
  k: KChoice;
  /** Kept questions wanted per image: drawn uniformly in [min, max] per image. */
  questions: readonly [number, number];
  /** An image with fewer kept questions gives no record. */
  keepAtLeast: number;
  /** Teacher questions asked per image at most. */
  attempts: number;
  /**
   * "teacher": the confidence the teacher reports (the paper); "released-code": every question's
   * confidence is 90, as the released generator sets it (the confidence filter then never fires
   * at the paper's 70).
   */
  confidence: "teacher" | "released-code";
}

/** The confidence the released code writes on every question. */
export const RELEASED_CODE_CONFIDENCE = 90;

export interface KeptQuestion {
  question: string;
  answer: string;
  capabilities: Capability[];
  confidence: number;
  attempt: number;
}

export interface ImageOutcome {
  kept: KeptQuestion[];
  /** Attempts that kept nothing, ids `<image>/attempt-<n>`. */
  dropped: (Dropped & { reason: AttemptDrop })[];
  attempts: number;
  /** The image's target of kept questions. */
  target: number;
}

/** The image's questions: asks the teacher until the target is kept or the attempts are spent. */
export async function synthesizeImage(
  image: CompactImage,
  teacher: Teacher,
  options: SynthesisOptions,
): Promise<ImageOutcome> {
  const rng = Rng.from("selfsynth-compact", options.seed, image.id);
  const target = rng.fork("target").int(options.questions[0], options.questions[1]);
  const combos = newImageCombos();
  const comboRng = rng.fork("combinations");
  const out: ImageOutcome = { kept: [], dropped: [], attempts: 0, target };
  while (out.kept.length < target && out.attempts < options.attempts) {
    const capabilities = nextCombination(options.k, combos, comboRng);
    if (capabilities === null) break; // every combination asked
    const attempt = out.attempts++;
    const id = `${image.id}/attempt-${attempt}`;
    const drop = (reason: AttemptDrop) => out.dropped.push({ itemId: id, reason });
    const proposed = await teacher.propose(image, capabilities, rng.fork(`teacher-${attempt}`), id);
    if (!proposed.ok) {
      drop(proposed.reason);
      continue;
    }
    const p = proposed.proposal;
    const confidence = options.confidence === "released-code" ? RELEASED_CODE_CONFIDENCE : p.confidence;
    const screened = screenQuestion(
      { ...p, confidence },
      out.kept.map((q) => q.question),
      options,
    );
    if (screened !== null) {
      drop(screened);
      continue;
    }
    const verified = await teacher.verify(image, p, capabilities, id);
    if (!verified.ok) {
      drop(verified.reason);
      continue;
    }
    out.kept.push({ question: p.question, answer: p.answer, capabilities, confidence, attempt });
    markUsed(combos, capabilities);
  }
  return out;
}

/** The image's conversation: the first turn with the image and the short-answer suffix. */
export function conversation(kept: readonly KeptQuestion[]) {
  return kept.flatMap((q, i) => [
    {
      role: "user" as const,
      content: i === 0 ? `<image>\n${q.question}\n${SHORT_ANSWER_SUFFIX}` : q.question,
    },
    { role: "assistant" as const, content: q.answer },
  ]);
}

/** The record of an image that kept enough questions; each question's k and capabilities in `reasons`. */
export function compactRecord(
  image: CompactImage,
  outcome: ImageOutcome,
  imagePath: string,
  teacher: Teacher,
  options: Pick<SynthesisOptions, "stage" | "seed">,
): SftRecord {
  const provenance: Provenance = {
    method: METHOD,
    stage: options.stage,
    model: teacher.name,
    seed: options.seed,
    ...(teacher.sampling === undefined ? {} : { sampling: teacher.sampling }),
    scores: { attempts: outcome.attempts, questions: outcome.kept.length },
    reasons: outcome.kept.map((q) => `k${q.capabilities.length}:${q.capabilities.join("+")}`),
    source: image.source,
  };
  return { kind: "sft", id: image.id, images: [imagePath], messages: conversation(outcome.kept), provenance };
}

/**
 * One chunk of images (generateInChunks' make): the images are asked concurrently (each one's
 * attempts in turn, as each depends on what the image kept); a record per image that kept enough,
 * else a drop; every attempt that kept nothing as a part drop.
 */
export async function compactChunk(
  images: readonly CompactImage[],
  teacher: Teacher,
  options: SynthesisOptions,
  imagePath: (image: ChatImage) => Promise<string>,
): Promise<ChunkOutcome<SftRecord>> {
  const outcomes = await Promise.all(images.map((image) => synthesizeImage(image, teacher, options)));
  const result: Required<ChunkOutcome<SftRecord>> = { records: [], dropped: [], partsDropped: [] };
  for (const [i, image] of images.entries()) {
    const outcome = outcomes[i];
    result.partsDropped.push(...outcome.dropped);
    if (outcome.kept.length >= options.keepAtLeast)
      result.records.push(compactRecord(image, outcome, await imagePath(image.image), teacher, options));
    else result.dropped.push({ itemId: image.id, reason: "too-few-questions" satisfies ImageDrop });
  }
  return result;
}
