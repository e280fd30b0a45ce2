// SceneWorld records as training examples for the shipped models (pretrain.ts):
//
//   pretraining split  -> caption SFT: "<image> {one of CAPTION_PROMPTS}" -> the caption
//   instruction split  -> description SFT: "<image> {one of DESCRIPTION_PROMPTS}" -> the description,
//                         and one single-turn example per question: "<image> {question}" (half of
//                         them with SHORT_ANSWER_SUFFIX, as LLaVA-1.5 trains short answers) -> answer
//   pretraining split  -> image-caption pairs for the CLIP-style scorer
//
// Single-turn questions (not one multi-turn conversation per image, as LLaVA packs them): a
// later turn could read its answer off the description or an earlier answer, and the
// benchmarks ask one question per image. The prompts include the exact prompts of the
// benchmarks in src/eval (CHAIR's "Describe this image in detail.", the capability bench's
// short-answer suffix, the species bench's question), so the base model is evaluated in the
// format it was taught, as LLaVA-1.5 is.
//
// Images are decoded once and kept in memory as bytes, (3, S, S) channels first (ImageStore):
// 12 KB per 64x64 image instead of 48 KB as floats; collate() turns the bytes of the batch in
// flight into floats (types.ts: TokenizedExample.image may be a Uint8Array).
//
// The tokenizer is built from every text of the training splits plus every word the world can
// produce (worldVocabularyTexts: the word tables, and the texts of a large sweep of fresh
// records drawn outside every split's index range), so no prompt of an evaluation hits <unk>.
import { existsSync, readFileSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { decodeImage, toModelInput } from "../images/index.js";
import type { ChatMessage } from "../models/chat-template.js";
import { encodeChat } from "../models/chat-template.js";
import { Tokenizer } from "../models/tokenizer.js";
import {
  CONCEPTS,
  configHash,
  creatureRecord,
  parseWorldConfig,
  Rng,
  SCENE_TYPES,
  SHAPES,
  SPECIES_NAMES,
  SYNONYMS,
  sceneRecord,
  type WorldConfig,
  type WorldRecord,
} from "../world/index.js";
import {
  CELL_NAMES,
  CELL_PHRASES,
  COLORS,
  COLUMN_NAMES,
  DIRECTIONS,
  NUMBER_WORDS,
  plural,
  ROW_NAMES,
  SCENE_NOUNS,
  SCENE_PHRASES,
  SIZES,
} from "../world/vocabulary.js";
import type { TokenizedExample } from "./types.js";

// --- prompts (snapshot-tested: a change here is deliberate) -----------------------------------

/** Brief-caption prompts (pretraining); one is drawn per example. */
export const CAPTION_PROMPTS = [
  "<image>\nDescribe the image briefly.",
  "<image>\nGive a short caption for this image.",
  "<image>\nWrite a brief caption for the picture.",
  "<image>\nSummarize the image in one sentence.",
  "<image>\nWhat is in this picture? Answer briefly.",
  "<image>\nCaption this image.",
] as const;

/** Detailed-description prompts; the first is CHAIR's (src/eval/chair.ts) and is drawn half the time. */
export const DESCRIPTION_PROMPTS = [
  "<image>\nDescribe this image in detail.",
  "<image>\nGive a detailed description of the image.",
  "<image>\nWhat do you see in this picture? Describe everything.",
  "<image>\nDescribe everything in this picture, and where it is.",
] as const;

/** LLaVA-1.5's short-answer instruction, as the capability bench (src/eval/capabilities.ts) appends it. */
export const SHORT_ANSWER_SUFFIX = "Answer the question using a single word or phrase.";

/** The species bench's question (src/eval/species.ts), used for a third of the "explain" questions. */
export const SPECIES_EXPLAIN_PROMPT = "What species is this creature? Explain which visual features show it.";

const IMAGE = "<image>\n";

// --- examples ---------------------------------------------------------------------------------

export type WorldExampleKind = "caption" | "description" | "question";

/** One single-turn conversation about one world image, before tokenization. */
export interface WorldExample {
  recordId: string;
  /** The record's image path, relative to the world directory (`images/<id>.png`). */
  image: string;
  kind: WorldExampleKind;
  messages: ChatMessage[];
}

const turn = (prompt: string, answer: string): ChatMessage[] => [
  { role: "user", content: prompt },
  { role: "assistant", content: answer },
];

/** Each record draws its prompts from its own stream, so an example does not depend on the others. */
const promptRng = (seed: number, record: WorldRecord, what: string) =>
  Rng.from("selfsynth-train-prompts", seed, record.id, what);

/** Caption examples of records that have a caption (the pretraining split). */
export function captionExamples(records: readonly WorldRecord[], seed = 0): WorldExample[] {
  return records.flatMap((r) =>
    r.caption === undefined
      ? []
      : [
          {
            recordId: r.id,
            image: r.image,
            kind: "caption" as const,
            messages: turn(promptRng(seed, r, "caption").pick(CAPTION_PROMPTS), r.caption),
          },
        ],
  );
}

/** Description and question examples of records that have them (the instruction split). */
export function instructionExamples(records: readonly WorldRecord[], seed = 0): WorldExample[] {
  const out: WorldExample[] = [];
  for (const r of records) {
    const rng = promptRng(seed, r, "instruction");
    if (r.description !== undefined) {
      const prompt = rng.bernoulli(0.5) ? DESCRIPTION_PROMPTS[0] : rng.pick(DESCRIPTION_PROMPTS.slice(1));
      out.push({ recordId: r.id, image: r.image, kind: "description", messages: turn(prompt, r.description) });
    }
    for (const q of r.questions ?? []) {
      out.push({ recordId: r.id, image: r.image, kind: "question", messages: turn(questionPrompt(q, rng), q.answer) });
    }
  }
  return out;
}

/**
 * The user turn of a question: as the world writes it, short-answer ones half the time with the
 * suffix. Also the supervised ceiling's (src/methods/supervised), which asks in the base's form.
 */
export function questionPrompt(q: { question: string; task?: string }, rng: Rng): string {
  if (q.task === "explain") {
    return IMAGE + (rng.int(0, 2) === 0 ? SPECIES_EXPLAIN_PROMPT : q.question);
  }
  return rng.bernoulli(0.5) ? `${IMAGE}${q.question}\n${SHORT_ANSWER_SUFFIX}` : IMAGE + q.question;
}

/** Image-caption pairs for the contrastive scorer. */
export function captionPairs(records: readonly WorldRecord[]): { image: string; text: string }[] {
  return records.flatMap((r) => (r.caption === undefined ? [] : [{ image: r.image, text: r.caption }]));
}

// --- the world on disk ------------------------------------------------------------------------

export class WorldDataError extends Error {
  override name = "WorldDataError";
}

/** What a built world directory holds: its resolved config (world-config.json) and hash. */
export interface WorldInfo {
  dir: string;
  config: WorldConfig;
  configHash: string;
}

export function readWorld(dir: string): WorldInfo {
  const path = join(dir, "world-config.json");
  if (!existsSync(path)) {
    throw new WorldDataError(`${dir} is not a built world: ${path} is missing (run 'selfsynth world build')`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new WorldDataError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const config = parseWorldConfig(raw, path);
  return { dir, config, configHash: configHash(config) };
}

/** A path inside the world directory; anything that escapes it is refused. */
export function resolveInside(dir: string, path: string): string {
  const full = resolve(dir, path);
  const rel = relative(resolve(dir), full);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) {
    throw new WorldDataError(`image path ${JSON.stringify(path)} escapes the world directory ${dir}`);
  }
  return full;
}

// --- images -----------------------------------------------------------------------------------

/** Every image a dataset needs, decoded once: (3, S, S) bytes, channels first, by relative path. */
export class ImageStore {
  readonly #bytes = new Map<string, Uint8Array>();

  private constructor(readonly size: number) {}

  /** Decodes the distinct paths (PNG or JPEG) from the world directory, resized to size x size when needed. */
  static async load(
    dir: string,
    paths: Iterable<string>,
    size: number,
    options: { concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
  ): Promise<ImageStore> {
    const store = new ImageStore(size);
    const todo = [...new Set(paths)];
    const concurrency = options.concurrency ?? 8;
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < todo.length) {
        const path = todo[next++];
        store.#bytes.set(path, await loadImageBytes(dir, path, size));
        done++;
        if (done % 500 === 0 || done === todo.length) options.onProgress?.(done, todo.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
    return store;
  }

  get count(): number {
    return this.#bytes.size;
  }

  /** Bytes held, for logs. */
  get byteLength(): number {
    let n = 0;
    for (const b of this.#bytes.values()) n += b.byteLength;
    return n;
  }

  get(path: string): Uint8Array {
    const bytes = this.#bytes.get(path);
    if (bytes === undefined) throw new WorldDataError(`image ${path} was not loaded`);
    return bytes;
  }

  /** (3, S, S) floats in [0, 1], for code that wants the model's input directly. */
  pixels(path: string): Float32Array {
    const bytes = this.get(path);
    const out = new Float32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255;
    return out;
  }
}

/** One image file as (3, S, S) bytes: exact when the file is already S x S, else bicubic (toModelInput). */
async function loadImageBytes(dir: string, path: string, size: number): Promise<Uint8Array> {
  const full = resolveInside(dir, path);
  let file: Buffer;
  try {
    file = readFileSync(full);
  } catch (error) {
    throw new WorldDataError(`cannot read image ${full}: ${(error as Error).message}`);
  }
  const img = await decodeImage(file, { source: full });
  const plane = size * size;
  const out = new Uint8Array(3 * plane);
  if (img.width === size && img.height === size) {
    for (let p = 0; p < plane; p++) {
      out[p] = img.data[3 * p];
      out[plane + p] = img.data[3 * p + 1];
      out[2 * plane + p] = img.data[3 * p + 2];
    }
    return out;
  }
  const floats = await toModelInput(img, size, full);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(1, Math.max(0, floats[i])) * 255);
  return out;
}

// --- tokenization -----------------------------------------------------------------------------

/** Chat-template ids and labels of each example, with its image's bytes (shared, not copied). */
export function tokenizeWorldExamples(
  tokenizer: Tokenizer,
  examples: readonly WorldExample[],
  images: ImageStore,
  options: { numImageTokens: number; maxPositions: number },
): TokenizedExample[] {
  return examples.map((e) => {
    const { inputIds, labels } = encodeChat(tokenizer, e.messages, {
      numImageTokens: options.numImageTokens,
      addGenerationPrompt: false,
    });
    if (inputIds.length > options.maxPositions) {
      throw new WorldDataError(
        `${e.recordId} (${e.kind}): ${inputIds.length} tokens exceed the model's maxPositions ${options.maxPositions}`,
      );
    }
    return { inputIds, labels, image: images.get(e.image) };
  });
}

/** Words of texts that the tokenizer maps to <unk> (sorted, distinct). */
export function unknownWords(tokenizer: Tokenizer, texts: Iterable<string>): string[] {
  const unk = tokenizer.specialIds.unk;
  const out = new Set<string>();
  for (const text of texts) {
    const ids = tokenizer.encode(text);
    const tokens = tokenizer.tokenize(text);
    ids.forEach((id, i) => {
      if (id === unk && tokens[i] !== "<unk>") out.add(tokens[i]);
    });
  }
  return [...out].sort();
}

/** Every text of the examples (prompts and answers). */
export function exampleTexts(examples: readonly WorldExample[]): string[] {
  return examples.flatMap((e) => e.messages.map((m) => m.content));
}

/** Records drawn per kind for the vocabulary sweep; every question template shows up well within it. */
export const VOCABULARY_SWEEP = { scenes: 1000, creatures: 200 } as const;
/** Sweep records take indices from here on, beyond any split's size, so they are no split's items. */
const SWEEP_OFFSET = 1_000_000_000;

/**
 * Texts that hold every word the world can produce: its word tables (objects with synonyms and
 * plurals, colours, sizes, places, positions, directions, numbers, rendered words, species,
 * concepts), every prompt of this module, and the texts of a sweep of fresh records (the
 * templates' words). Deterministic given the config.
 */
export function worldVocabularyTexts(
  config: WorldConfig,
  sweep: { scenes: number; creatures: number } = VOCABULARY_SWEEP,
): string[] {
  const synonyms = SHAPES.flatMap((s) => SYNONYMS[s]);
  const tables = [
    ...synonyms,
    ...synonyms.map(plural),
    ...SHAPES.map((s) => `${s}-shaped`),
    ...COLORS,
    ...SIZES,
    ...SCENE_TYPES,
    ...Object.values(SCENE_PHRASES),
    ...Object.values(SCENE_NOUNS),
    ...DIRECTIONS,
    ...CELL_NAMES,
    ...CELL_PHRASES,
    ...ROW_NAMES,
    ...COLUMN_NAMES,
    ...NUMBER_WORDS,
    ...Array.from({ length: 21 }, (_, i) => String(i)),
    ...config.words.list,
    ...SPECIES_NAMES,
    ...CONCEPTS.flatMap((c) => [c.phrase, c.part, c.value.replaceAll("_", " ")]),
    "yes",
    "no",
  ];
  const prompts = [...CAPTION_PROMPTS, ...DESCRIPTION_PROMPTS, SHORT_ANSWER_SUFFIX, SPECIES_EXPLAIN_PROMPT];
  const swept: string[] = [];
  // The validation split's settings: captions, descriptions and questions, prior-breaking scenes too.
  for (let i = 0; i < sweep.scenes; i++)
    swept.push(...recordTexts(sceneRecord(config, "validation", SWEEP_OFFSET + i)));
  for (let i = 0; i < sweep.creatures; i++) {
    swept.push(...recordTexts(creatureRecord(config, "validation", SWEEP_OFFSET + i)));
  }
  return [...tables, ...prompts, ...swept];
}

/** Caption, description, questions and answers of a record. */
export function recordTexts(r: WorldRecord): string[] {
  const out: string[] = [];
  if (r.caption !== undefined) out.push(r.caption);
  if (r.description !== undefined) out.push(r.description);
  for (const q of r.questions ?? []) out.push(q.question, q.answer);
  return out;
}

/** The shared tokenizer of the shipped models: training texts plus the world's whole vocabulary. */
export function buildWorldTokenizer(config: WorldConfig, trainingTexts: Iterable<string>): Tokenizer {
  return Tokenizer.build([...trainingTexts, ...worldVocabularyTexts(config)]);
}
