// The benchmarks of a built SceneWorld (src/world, `selfsynth world build`): reads a split's
// records (`<data>/<split>.jsonl`, test by default, validation for calibration) and turns them into
// each bench's items, with the images as PNG bytes from `<data>/images/`.
//
//   pope-*        scene records: objects present → buildPopeItems (3 present + 3 absent per image);
//                 popular/adversarial sample absent objects by the TRAINING split's statistics
//   chair         scene records: the describe prompt, truth = the objects present
//   capabilities  scene records' questions: question, short answer, capabilities, k
//   species       creature records: species and the concepts visible in that image
//
// Vocabularies come from the world itself: object words from SYNONYMS_TEXT, species from SPECIES,
// concepts from CONCEPTS, named by id ("tail:fan") and found in answers by the phrases the world's
// own descriptions use (see conceptPhrases).
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { z } from "zod";
import type { ChatImage } from "../images/chat-image.js";
import { CONCEPTS, type Concept, SPECIES_NAMES, SYNONYMS_TEXT } from "../world/index.js";
import { readWorldSplit, splitPath } from "../world/read-split.js";
import { type BenchName, type BenchVocabulary, makeBench } from "./benches.js";
import type { CapabilityItem } from "./capabilities.js";
import type { ChairItem } from "./chair.js";
import { buildPopeItems, type ObjectStatistics, objectStatistics, type PopeSplit } from "./pope.js";
import { type ConceptEntry, type SpeciesItem, speciesVocabulary } from "./species.js";
import { SynonymTable } from "./text.js";
import type { AnyBenchSpec, EvalItem } from "./types.js";

/** The splits a bench may be read from: test for reporting, validation for calibration. */
export const EVAL_SPLITS = ["test", "validation"] as const;
export type EvalSplit = (typeof EVAL_SPLITS)[number];

/**
 * Where POPE popular/adversarial take their object statistics, first found wins: the instruction
 * split (what the base model was last tuned on), else the pretraining split. Both are drawn with
 * the same co-occurrence priors, so either gives the frequencies and partners the model learned;
 * instruction is the smaller file to read. Never the split being evaluated (POPE counts on
 * COCO train, asks on val).
 */
export const STATS_SPLITS = ["instruction", "pretraining"] as const;

/** The seed of POPE's sampling of present and absent objects (fixed: the questions are the benchmark). */
export const POPE_SEED = 0;

export class WorldDataError extends Error {
  override name = "WorldDataError";
}

export interface WorldBench {
  bench: AnyBenchSpec;
  items: EvalItem[];
  split: EvalSplit;
  /** The file the POPE statistics came from (popular and adversarial only). */
  statsSource?: string;
}

// ---------------------------------------------------------------------------------------------
// Vocabularies

/**
 * How answers may name a concept: the world's own phrase without its article ("a fan tail" →
 * "fan tail", so "the fan tail" and "fan tails" match too) plus the adjective forms of the
 * patterns ("spotted", "striped"). The world's descriptions join these phrases into lists
 * ("It has a round body, a red body, a short beak and a fan tail."), so a correct description
 * names every visible concept; bare part names ("tail", "wings") are deliberately not phrases,
 * since the descriptions use them for HIDDEN parts ("Its tail cannot be seen.").
 */
export function conceptPhrases(c: Concept): string[] {
  const bare = c.phrase.replace(/^(a|an|the)\s+/i, "");
  const extra: Record<string, string[]> = {
    "pattern:spots": ["spots", "spotted"],
    "pattern:stripes": ["stripes", "striped"],
  };
  return [...new Set([bare, ...(extra[c.id] ?? [])])];
}

export function worldConceptEntries(): ConceptEntry[] {
  return CONCEPTS.map((c) => ({ id: c.id, phrases: conceptPhrases(c) }));
}

/**
 * The objects POPE may ask about: the shapes of the world's config (`<data>/world-config.json`,
 * written by every build) when it restricts them, else every canonical object word. POPE asks
 * about the dataset's whole label set (COCO's 80 categories), not about words the world never draws.
 */
export function worldObjectVocabulary(dataDir: string): string[] {
  const all = SynonymTable.parse(SYNONYMS_TEXT).canonicalNames;
  const path = join(dataDir, "world-config.json");
  if (!existsSync(path)) return [...all];
  const parsed = z
    .object({ objects: z.object({ shapes: z.array(z.string()).min(2) }).optional() })
    .safeParse(JSON.parse(readFileSync(path, "utf8")));
  if (!parsed.success) throw new WorldDataError(`eval: ${path}: ${z.prettifyError(parsed.error)}`);
  const shapes = parsed.data.objects?.shapes;
  if (shapes === undefined) return [...all];
  const unknown = shapes.filter((s) => !all.includes(s));
  if (unknown.length > 0) throw new WorldDataError(`eval: ${path}: unknown object words ${unknown.join(", ")}`);
  return shapes;
}

/** The world's vocabularies for makeBench: object synonyms, species names, concept phrases. */
export function worldVocabulary(): BenchVocabulary {
  return {
    objects: SynonymTable.parse(SYNONYMS_TEXT),
    species: speciesVocabulary(SPECIES_NAMES, worldConceptEntries()),
  };
}

// ---------------------------------------------------------------------------------------------
// Records (only the fields the benches read; the world's full types are in src/world/splits.ts),
// read by src/world/read-split.ts: a bad line is an error naming its file and line

const QuestionSchema = z.object({
  question: z.string().min(1),
  answer: z.string(),
  capabilities: z.array(z.string()).min(1),
  k: z.number().int().min(1),
});

const SceneRecordSchema = z.object({
  id: z.string().min(1),
  kind: z.literal("scene"),
  image: z.string().min(1),
  sha256: z.string().optional(),
  objects: z.array(z.string()),
  priorBreaking: z.boolean().optional(),
  questions: z.array(QuestionSchema).optional(),
});

const CreatureRecordSchema = z.object({
  id: z.string().min(1),
  kind: z.literal("creature"),
  image: z.string().min(1),
  sha256: z.string().optional(),
  species: z.string().min(1),
  visibleConcepts: z.array(z.string()),
  heldOut: z.boolean().optional(),
});

const RecordSchema = z.discriminatedUnion("kind", [SceneRecordSchema, CreatureRecordSchema]);
export type WorldSceneRecord = z.infer<typeof SceneRecordSchema>;
export type WorldCreatureRecord = z.infer<typeof CreatureRecordSchema>;
export type WorldEvalRecord = z.infer<typeof RecordSchema>;

function requireDataDir(dataDir: string | undefined): string {
  if (dataDir === undefined) {
    throw new WorldDataError(
      "eval: no world data; pass --data <dir> of a built world (selfsynth world build --config assets/world/default.yaml --out runs/world)",
    );
  }
  if (!existsSync(dataDir)) throw new WorldDataError(`eval: world data directory '${dataDir}' does not exist`);
  return dataDir;
}

/**
 * Object statistics of the training split (STATS_SPLITS, first found), counted over its scene
 * records; creature records hold no objects. Refuses when the world has no training split.
 */
export function trainingObjectStatistics(dataDir: string): { stats: ObjectStatistics; source: string } {
  const TrainingSchema = z.object({ kind: z.string(), objects: z.array(z.string()).optional() });
  for (const split of STATS_SPLITS) {
    const path = splitPath(dataDir, split);
    if (!existsSync(path)) continue;
    const images = readWorldSplit(dataDir, split, TrainingSchema)
      .filter((r) => r.kind === "scene")
      .map((r) => ({ objects: r.objects ?? [] }));
    return { stats: objectStatistics(images), source: path };
  }
  throw new WorldDataError(
    `eval: POPE popular/adversarial sample absent objects by training statistics, but ${dataDir} has no ${STATS_SPLITS.map((s) => `${s}.jsonl`).join(" or ")}; build one with: selfsynth world build --config <yaml> --out ${dataDir} --split instruction`,
  );
}

// ---------------------------------------------------------------------------------------------
// Images

/**
 * Reads `<data>/<relPath>` as PNG bytes, once per path. The path must stay inside the data
 * directory (checked on the resolved path, so "images/../../x" and absolute paths are refused;
 * symbolic links are followed, as for any file the user placed there). When the record holds the
 * image's sha256, the bytes must match it (an image rebuilt or edited since its record was written
 * would make the ground truth wrong).
 */
export class WorldImages {
  readonly #root: string;
  readonly #cache = new Map<string, ChatImage>();

  constructor(dataDir: string) {
    this.#root = resolve(dataDir);
  }

  resolvePath(relPath: string): string {
    const path = resolve(this.#root, relPath);
    const rel = relative(this.#root, path);
    if (isAbsolute(relPath) || rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
      throw new WorldDataError(`eval: image path '${relPath}' leaves the world directory ${this.#root}; refused`);
    }
    return path;
  }

  read(relPath: string, sha256?: string): ChatImage {
    const cached = this.#cache.get(relPath);
    if (cached !== undefined) return cached;
    const path = this.resolvePath(relPath);
    if (!existsSync(path)) throw new WorldDataError(`eval: image ${path} not found (was the split built completely?)`);
    const bytes = readFileSync(path);
    if (sha256 !== undefined && createHash("sha256").update(bytes).digest("hex") !== sha256) {
      throw new WorldDataError(`eval: image ${path} does not match its record's sha256; rebuild the split`);
    }
    const image: ChatImage = {
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      mimeType: "image/png",
    };
    this.#cache.set(relPath, image);
    return image;
  }
}

// ---------------------------------------------------------------------------------------------
// Items per bench

const scenesOf = (records: readonly WorldEvalRecord[]) =>
  records.filter((r): r is WorldSceneRecord => r.kind === "scene");
const creaturesOf = (records: readonly WorldEvalRecord[]) =>
  records.filter((r): r is WorldCreatureRecord => r.kind === "creature");

export function popeItems(
  scenes: readonly WorldSceneRecord[],
  images: WorldImages,
  split: PopeSplit,
  stats: ObjectStatistics,
  vocabulary: readonly string[],
): EvalItem[] {
  return buildPopeItems({
    images: scenes.map((r) => ({ imageId: r.id, image: images.read(r.image, r.sha256), objects: r.objects })),
    vocabulary,
    stats,
    split,
    seed: POPE_SEED,
  });
}

export function chairItems(scenes: readonly WorldSceneRecord[], images: WorldImages): ChairItem[] {
  return scenes.map((r) => ({ id: r.id, imageId: r.id, image: images.read(r.image, r.sha256), objects: r.objects }));
}

/**
 * One item per scene question, id `<record id>/q<index>`. Creature questions are left out: they
 * carry no k, and their explanations are sentences that the species bench scores instead.
 */
export function capabilityItems(scenes: readonly WorldSceneRecord[], images: WorldImages): CapabilityItem[] {
  return scenes.flatMap((r) =>
    (r.questions ?? []).map((q, i) => ({
      id: `${r.id}/q${i}`,
      imageId: r.id,
      image: images.read(r.image, r.sha256),
      question: q.question,
      answer: q.answer,
      capabilities: q.capabilities,
      k: q.k,
    })),
  );
}

export function speciesItems(creatures: readonly WorldCreatureRecord[], images: WorldImages): SpeciesItem[] {
  return creatures.map((r) => ({
    id: r.id,
    imageId: r.id,
    image: images.read(r.image, r.sha256),
    species: r.species,
    visibleFeatures: r.visibleConcepts,
    // Worlds built with creatures.heldOut mark every creature record (true or false).
    ...(r.heldOut === undefined ? {} : { heldOut: r.heldOut }),
  }));
}

export interface LoadWorldBenchOptions {
  split?: EvalSplit;
}

/** A bench and its items from the world built at `dataDir`. */
export function loadWorldBench(
  name: BenchName,
  dataDir: string | undefined,
  options: LoadWorldBenchOptions = {},
): WorldBench {
  const dir = requireDataDir(dataDir);
  const split = options.split ?? "test";
  if (!(EVAL_SPLITS as readonly string[]).includes(split)) {
    throw new WorldDataError(`eval: split '${split}' is not an evaluation split (${EVAL_SPLITS.join(", ")})`);
  }
  const vocab = worldVocabulary();
  const bench = makeBench(name, vocab);
  const records = readWorldSplit(dir, split, RecordSchema);
  const images = new WorldImages(dir);
  const file = splitPath(dir, split);
  const nonEmpty = <T>(items: T[], what: string): T[] => {
    if (items.length === 0) throw new WorldDataError(`eval: ${file} has no ${what} for bench '${name}'`);
    return items;
  };
  switch (name) {
    case "pope-random":
    case "pope-popular":
    case "pope-adversarial": {
      const popeSplit = name.slice("pope-".length) as PopeSplit;
      // Random sampling needs no statistics; the others read the training split.
      const { stats, source } =
        popeSplit === "random" ? { stats: objectStatistics([]), source: undefined } : trainingObjectStatistics(dir);
      const scenes = nonEmpty(scenesOf(records), "scene records");
      const items = nonEmpty(popeItems(scenes, images, popeSplit, stats, worldObjectVocabulary(dir)), "objects");
      return { bench, items, split, statsSource: source };
    }
    case "chair":
      return { bench, items: nonEmpty(chairItems(scenesOf(records), images), "scene records"), split };
    case "capabilities":
      return { bench, items: nonEmpty(capabilityItems(scenesOf(records), images), "scene questions"), split };
    case "species":
      return { bench, items: nonEmpty(speciesItems(creaturesOf(records), images), "creature records"), split };
  }
}
