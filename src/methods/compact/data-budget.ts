// COMPACT's data budget (METHODS.md section 5, step 5; issue 19's comparison). The paper mixes 32k
// compositional samples with a random 5% of LLaVA-665K (the general instruction set) for about 65k
// samples, 10% of the full instruction budget, and compares with tuning on all of LLaVA-665K and
// on a random 65k subset of it. On SceneWorld the general instruction data are the examples `base`
// was instruction-tuned on (src/train/world-data.ts, instructionExamples over the instruction
// split, prompts drawn with seed 0 as `pretrain base` draws them): a description and one
// single-turn example per question of each image, 91,453 examples for the default world's 10,000
// instruction images. Budgets are counted in training records (conversations), as the paper
// counts samples:
//
//   total   = round(fraction x examples)   the arm's records (compact, random-subset)
//   general = round(general x examples)    general examples mixed into the compact data
//   method  = total - general              COMPACT conversations (one per image, 2-3 questions)
//
// A COMPACT conversation holds 2 or 3 question turns where a general example holds one: at equal
// records the compact arm trains on more answer turns (as in the paper, where both sides are
// conversations); the stage logs the turns of each arm. With `general: { source: file, ... }` the
// examples are the file's usable conversations (../common/general-data.ts) and the same budget
// counts them.
import { readFileSync } from "node:fs";
import { checkRecordImages, parseRecordOfKind } from "../../data/dataset.js";
import { type ImageStore, mimeTypeOfPath, resolveInside } from "../../data/image-store.js";
import { RecordError, type SftRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { instructionExamples } from "../../train/world-data.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { seededSubset } from "../../util/prng.js";
import { readWorldSplit } from "../../world/read-split.js";
import type { WorldRecord } from "../../world/splits.js";
import { mixRecords } from "../common/mixer.js";
import { METHOD } from "./synthesize.js";
import type { CompactImage } from "./teacher.js";

/** The seed of instructionExamples' prompt draws when `pretrain base` made the base's examples. */
export const BASE_PROMPT_SEED = 0;
/** The seed of the instruction subset when `instructionImages` limits it: one subset for every arm and run seed. */
export const BASIS_SEED = 0;

/** The provenance model of general records: the world's instruction split, not a model. */
export const GENERAL_MODEL = "world:instruction";

export interface Budget {
  /** General instruction examples the fractions are of. */
  examples: number;
  /** The arm's records (compact and random-subset arms). */
  total: number;
  /** General examples in the compact arm's mix. */
  general: number;
  /** COMPACT conversations in the compact arm's mix. */
  method: number;
}

export function budgetPlan(examples: number, fractions: { fraction: number; general: number }): Budget {
  const total = Math.round(fractions.fraction * examples);
  const general = Math.round(fractions.general * examples);
  if (general > total)
    throw new RangeError(`COMPACT budget: general ${fractions.general} exceeds the budget ${fractions.fraction}`);
  return { examples, total, general, method: total - general };
}

/** One general instruction example: a single-turn conversation about a world image. */
export interface GeneralExample {
  /** `<record>/description` or `<record>/question-<j>`. */
  id: string;
  recordId: string;
  /** The image's path in the world folder. */
  image: string;
  messages: { role: "user" | "assistant"; content: string }[];
}

/**
 * The instruction split's records the budget counts: all, or a seeded subset of n (the same for
 * every arm and seed). Read once per call (whole records, scene graphs included).
 */
export function instructionBasis(worldDir: string, n?: number): WorldRecord[] {
  const records = readWorldSplit(worldDir, "instruction");
  return n === undefined ? records : seededSubset(records, n, BASIS_SEED);
}

/** The basis' general examples as `pretrain base` makes them, each with an id. */
export function generalExamples(records: readonly WorldRecord[]): GeneralExample[] {
  const perRecord = new Map<string, number>();
  return instructionExamples(records, BASE_PROMPT_SEED).map((e) => {
    const j = perRecord.get(e.recordId) ?? 0;
    perRecord.set(e.recordId, j + (e.kind === "question" ? 1 : 0));
    const id = e.kind === "description" ? `${e.recordId}/description` : `${e.recordId}/question-${j}`;
    return { id, recordId: e.recordId, image: e.image, messages: e.messages };
  });
}

/** A world image's bytes, as a backend takes them. */
export function readWorldImage(worldDir: string, path: string, where: string): ChatImage {
  return { bytes: new Uint8Array(readFileSync(resolveInside(worldDir, path, where))), mimeType: mimeTypeOfPath(path) };
}

/** An image for the teacher before its bytes are read: where it is in the world folder. */
export type TeacherItem = Omit<CompactImage, "image"> & { imagePath: string };

/** The basis' scene images in the run's seeded order, for the teacher (creatures have no scene graph). */
export function teacherImages(records: readonly WorldRecord[], seed: number): TeacherItem[] {
  const scenes = records.filter((r) => r.kind === "scene");
  return seededSubset(scenes, scenes.length, seed).map((r) => ({
    id: r.id,
    source: r.id,
    scene: r.kind === "scene" ? r.scene : undefined,
    imagePath: r.image,
  }));
}

/**
 * General examples as SFT records, their images stored in the stage's dataset (each world image
 * read and stored once). Provenance: method compact, model world:instruction, reason general.
 */
export async function generalRecords(
  examples: readonly GeneralExample[],
  worldDir: string,
  store: ImageStore,
  stage: string,
): Promise<SftRecord[]> {
  const stored = new Map<string, string>();
  const out: SftRecord[] = [];
  for (const e of examples) {
    let path = stored.get(e.image);
    if (path === undefined) {
      const image = readWorldImage(worldDir, e.image, `instruction record ${e.recordId}`);
      path = await store.put(image.bytes, image.mimeType, e.image);
      stored.set(e.image, path);
    }
    out.push({
      kind: "sft",
      id: e.id,
      images: [path],
      messages: e.messages,
      provenance: { method: METHOD, stage, model: GENERAL_MODEL, reasons: ["general-instruction"], source: e.recordId },
    });
  }
  return out;
}

/** Writes the records the stage trains on, whole and atomically, each validated (schema, unique id, images inside root). */
export function writeTrainingFile(root: string, path: string, records: readonly SftRecord[]): void {
  const ids = new Set<string>();
  const lines = records.map((input, i) => {
    const where = `${path}: record ${i} (id ${JSON.stringify(input.id)})`;
    const record = parseRecordOfKind(input, "sft", where);
    if (ids.has(record.id)) throw new RecordError(`${where}: id: duplicate id ${JSON.stringify(record.id)}`);
    ids.add(record.id);
    checkRecordImages(record, root, where);
    return `${JSON.stringify(record)}\n`;
  });
  writeFileAtomic(path, lines.join(""));
}

/** COMPACT questions per k, read from the records' provenance (`k<k>:<capabilities>` per question). */
export function questionsByK(records: readonly SftRecord[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of records)
    for (const reason of r.provenance.reasons ?? []) {
      const k = /^k(\d+):/.exec(reason)?.[1];
      if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
    }
  return out;
}

/** User-assistant turn pairs in the records: what the arm's answers train on. */
export const answerTurns = (records: readonly SftRecord[]) => records.reduce((n, r) => n + r.messages.length / 2, 0);

/**
 * The general examples drawn beside `compact` records: `general` of them, a seeded draw without
 * replacement (mixRecords, at the share general / (compact + general) of the mix): the first
 * `general` of the examples' seeded order, whatever the compact records are (seededSubset).
 * Examples are the world's (GeneralExample) or a general file's conversations.
 */
export function mixGeneral<E extends { id: string }>(
  compact: readonly { id: string }[],
  examples: readonly E[],
  general: number,
  seed: number,
): E[] {
  if (general === 0) return [];
  const share = general / (compact.length + general);
  const mixed = mixRecords<{ id: string; example?: E }>(
    compact.map((r) => ({ id: r.id })),
    examples.map((example) => ({ id: example.id, example })),
    { share, seed },
  );
  return mixed.flatMap((m) => (m.example === undefined ? [] : [m.example]));
}
