// BPO's positives: the answers of an existing SFT set, which the paper takes as they are
// (ShareGPT4V, LLaVAR, LLaVA-Instruct; labels are allowed for positives, METHODS.md section 2).
// Three sources:
//
//   sceneworld  the world's instruction split (the base's own SFT data): `descriptions` detailed
//               descriptions, asked with the prompts the base was taught (DESCRIPTION_PROMPTS,
//               CHAIR's half the time), and `questions` of its questions with their answers,
//               asked as the base was taught (questionPrompt: the short-answer suffix half the
//               time). Each a seeded subset, at most one description per image; questions are
//               drawn from every (image, question) of the split.
//   canonical   SFT records in the canonical schema (src/data/records.ts), images relative to the
//               file's folder (or `root`): readRecords validates them, naming file and line.
//   llava       LLaVA's JSON or JSON Lines (llava-json.ts), images relative to `imageFolder`.
//   sharegpt    TRL's conversational `messages` (typed content) or LLaMA-Factory's sharegpt
//               (`conversations` or `messages`, `<image>` markers), JSON or JSON Lines
//               (src/data/sharegpt.ts), images relative to `imageFolder`; a system prompt goes
//               before the first user turn's text, since the canonical records hold user and
//               assistant turns only.
//
// Every assistant turn of a conversation is a positive, asked with the conversation up to it
// (ids `<id>/turn-<k>` when a conversation has several). `items` draws a seeded subset of them.
// Then each drawn positive is checked, all of them before anything is written: a missing or
// undecodable image, or a malformed entry, is an error naming the file and line (the stage
// writes nothing); an empty answer (`empty-answer`), no image (`no-image`: BPO weakens the
// image), more than one image (`multi-image`) or an answer over the paper's 350 words
// (`positive-too-long`) drops the positive with that reason code.
//
// The kept positives become SFT records (method "bpo", reasons ["positive", "style:<style>"]),
// their images stored in the stage's image store. `style` says which error-injection prompt a
// served model gets (injection.ts): `description` or `qa`.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { readRecords } from "../../data/dataset.js";
import { ImageStore, mimeTypeOfPath, resolveInside } from "../../data/image-store.js";
import type { SftRecord, Turn } from "../../data/records.js";
import { readShareGptFile, ShareGptFormatError } from "../../data/sharegpt.js";
import type { ChatImage } from "../../images/chat-image.js";
import { decodeImage } from "../../images/codec.js";
import { DESCRIPTION_PROMPTS, questionPrompt } from "../../train/world-data.js";
import { seededSubset } from "../../util/prng.js";
import { readWorldSplit } from "../../world/read-split.js";
import { Rng } from "../../world/rng.js";
import type { Dropped } from "../common/chunked-records.js";
import { readImage } from "../common/world-items.js";
import { MAX_WORDS, wordCount } from "./filters.js";
import { LlavaFormatError, readLlavaFile } from "./llava-json.js";

export type PositiveStyle = "description" | "qa";
export type StyleChoice = PositiveStyle | "auto";
export type PositiveDrop = "empty-answer" | "no-image" | "multi-image" | "positive-too-long";

/** A positive before it is checked: its image is read only when it is drawn. */
export interface PositiveCandidate {
  id: string;
  /** The conversation up to the answer, ending with the user turn. */
  prompt: Turn[];
  answer: string;
  style: PositiveStyle;
  /** The original item (world record id, dataset id). */
  source: string;
  /** Names the input in errors: `data.json line 12`. */
  where: string;
  /** How many images the conversation has. */
  imageCount: number;
  /** Reads (and thereby checks) the image; throws an error naming `where` when it cannot. */
  loadImage(): ChatImage;
}

/** A description request? Then a served model gets the description-mode rewrite prompt. */
const DESCRIPTION_REQUEST = /\b(describe|description|caption|detailed|details)\b/i;

export function guessStyle(prompt: readonly Turn[], choice: StyleChoice): PositiveStyle {
  if (choice !== "auto") return choice;
  return DESCRIPTION_REQUEST.test(prompt[prompt.length - 1]?.content ?? "") ? "description" : "qa";
}

// --- sources ----------------------------------------------------------------------------------

const IMAGE = "<image>\n";

/** The instruction split's descriptions and questions (see the header), in a seeded order. */
export function worldPositives(
  worldDir: string,
  counts: { descriptions: number; questions: number },
  seed: number,
): PositiveCandidate[] {
  const records = readWorldSplit(worldDir, "instruction");
  const candidate = (
    r: (typeof records)[number],
    id: string,
    prompt: string,
    answer: string,
    style: PositiveStyle,
  ): PositiveCandidate => ({
    id,
    prompt: [{ role: "user", content: prompt }],
    answer,
    style,
    source: r.id,
    where: `instruction record ${r.id}`,
    imageCount: 1,
    loadImage: () => readImage(worldDir, r.image, `instruction record ${r.id}`),
  });
  const described = records.filter((r) => r.description !== undefined);
  const descriptions = seededSubset(described, counts.descriptions, seed).map((r) => {
    const rng = Rng.from("selfsynth-bpo", seed, r.id, "description");
    const prompt = rng.bernoulli(0.5) ? DESCRIPTION_PROMPTS[0] : rng.pick(DESCRIPTION_PROMPTS.slice(1));
    return candidate(r, `${r.id}/description`, prompt, r.description ?? "", "description");
  });
  const asked = records.flatMap((r) => (r.questions ?? []).map((q, j) => ({ r, q, j })));
  const questions = seededSubset(asked, counts.questions, seed ^ 0x5bd1e995).map(({ r, q, j }) => {
    const rng = Rng.from("selfsynth-bpo", seed, r.id, "question", j);
    return candidate(r, `${r.id}/q${j}`, questionPrompt(q, rng), q.answer, "qa");
  });
  return [...descriptions, ...questions];
}

/** One candidate per assistant turn of a conversation (user, assistant, user, assistant, ...). */
function conversationCandidates(
  id: string,
  turns: readonly Turn[],
  base: Omit<PositiveCandidate, "id" | "prompt" | "answer" | "style">,
  style: StyleChoice,
): PositiveCandidate[] {
  const answers = turns.flatMap((t, i) => (t.role === "assistant" ? [i] : []));
  return answers.map((i, k) => {
    const prompt = turns.slice(0, i);
    return {
      ...base,
      id: answers.length === 1 ? id : `${id}/turn-${k}`,
      prompt,
      answer: turns[i].content.trim(),
      style: guessStyle(prompt, style),
    };
  });
}

/** The canonical SFT records of `path` (images relative to `root`, default the file's folder). */
export function canonicalPositives(path: string, style: StyleChoice, root?: string): PositiveCandidate[] {
  const dataRoot = resolve(root ?? dirname(path));
  const store = new ImageStore(dataRoot);
  // readRecords names the file and line of any bad record, duplicate id or missing image; the
  // lines are read again here only to name them in the later checks (an image that does not decode).
  const records = readRecords(path, "sft", { root: dataRoot });
  const lineOf = new Map<string, number>();
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((l, i) => {
      if (l.trim() !== "") lineOf.set((JSON.parse(l) as { id: string }).id, i + 1);
    });
  return records.flatMap((r: SftRecord) => {
    const where = `${path} line ${lineOf.get(r.id) ?? "?"} (id ${JSON.stringify(r.id)})`;
    return conversationCandidates(
      r.id,
      r.messages,
      {
        source: r.id,
        where,
        imageCount: r.images.length,
        loadImage: () => {
          const image = r.images[0];
          return { bytes: store.read(image, where), mimeType: mimeTypeOfPath(image) };
        },
      },
      style,
    );
  });
}

/** The entries of a LLaVA file (images relative to `imageFolder`, default the file's folder). */
export function llavaPositives(path: string, style: StyleChoice, imageFolder?: string): PositiveCandidate[] {
  const folder = resolve(imageFolder ?? dirname(path));
  const ids = new Map<string, number>();
  return readLlavaFile(path).flatMap(({ entry, line }) => {
    const id = entry.id === undefined ? `line-${line}` : String(entry.id);
    const where = `${path} line ${line} (id ${JSON.stringify(id)})`;
    const first = ids.get(id);
    if (first !== undefined) throw new LlavaFormatError(`${where}: duplicate id (first on line ${first})`);
    ids.set(id, line);
    const markers = entry.conversations.reduce((n, t) => n + (t.value.split("<image>").length - 1), 0);
    const turns: Turn[] = entry.conversations.map((t) => ({
      role: t.from === "human" ? "user" : "assistant",
      content: t.value,
    }));
    const image = entry.image;
    if (image !== undefined) {
      if (markers > 1) throw new LlavaFormatError(`${where}: ${markers} <image> markers for one image`);
      // LLaVA's data puts the marker in the first human turn; an entry without one gets it there.
      if (markers === 0) turns[0] = { role: "user", content: IMAGE + turns[0].content };
    }
    return conversationCandidates(
      id,
      turns,
      {
        source: id,
        where,
        imageCount: image === undefined ? 0 : 1,
        loadImage: () => readFileImage(folder, image ?? "", where, LlavaFormatError),
      },
      style,
    );
  });
}

/** An image file inside `folder`; a missing one is an error of `Failure` naming `where`. */
function readFileImage(
  folder: string,
  image: string,
  where: string,
  Failure: new (message: string) => Error,
): ChatImage {
  const file = resolveInside(folder, image, `${where}: image`);
  if (!existsSync(file)) throw new Failure(`${where}: image ${JSON.stringify(image)} not found in ${folder}`);
  return { bytes: new Uint8Array(readFileSync(file)), mimeType: mimeTypeOfPath(file) };
}

/**
 * The conversations of a TRL or LLaMA-Factory sharegpt file (images relative to `imageFolder`,
 * default the file's folder). A system prompt goes before the first user turn's text.
 */
export function sharegptPositives(path: string, style: StyleChoice, imageFolder?: string): PositiveCandidate[] {
  const folder = resolve(imageFolder ?? dirname(path));
  return readShareGptFile(path).flatMap((c) => {
    const turns = [...c.turns];
    if (c.system !== undefined) turns[0] = { role: "user", content: `${c.system}\n\n${turns[0].content}` };
    return conversationCandidates(
      c.id,
      turns,
      {
        source: c.id,
        where: c.where,
        imageCount: c.images.length,
        loadImage: () => readFileImage(folder, c.images[0], c.where, ShareGptFormatError),
      },
      style,
    );
  });
}

// --- checks and records -----------------------------------------------------------------------

export interface PositiveRecordOptions {
  stage: string;
  seed: number;
  /** What the records' provenance names as their maker (`world:instruction`, `dataset:<path>`). */
  origin: string;
  /** Default MAX_WORDS. */
  maxWords?: number;
  /** Stores an image in the stage's dataset; resolves to its store path. */
  imagePath(image: ChatImage): Promise<string>;
  /** Called as candidates are checked (done of all), then as records are made. */
  onProgress?(done: number, total: number): void;
  signal?: AbortSignal;
}

export interface PositiveRecords {
  records: SftRecord[];
  dropped: (Dropped & { reason: PositiveDrop })[];
}

/** Why a candidate gives no positive, or null. */
export function positiveDrop(c: PositiveCandidate, maxWords = MAX_WORDS): PositiveDrop | null {
  if (c.answer.trim() === "") return "empty-answer";
  if (c.imageCount === 0) return "no-image";
  if (c.imageCount > 1) return "multi-image";
  if (wordCount(c.answer) > maxWords) return "positive-too-long";
  return null;
}

/**
 * Checks every candidate (images read and decoded: an error names the candidate's file and
 * line) before storing any image, then makes the records. The caller writes them whole.
 */
export async function positiveRecords(
  candidates: readonly PositiveCandidate[],
  options: PositiveRecordOptions,
): Promise<PositiveRecords> {
  const out: PositiveRecords = { records: [], dropped: [] };
  const kept: { c: PositiveCandidate; image: ChatImage }[] = [];
  const total = 2 * candidates.length;
  for (const [i, c] of candidates.entries()) {
    options.signal?.throwIfAborted();
    options.onProgress?.(i, total);
    const reason = positiveDrop(c, options.maxWords);
    if (reason !== null) {
      out.dropped.push({ itemId: c.id, reason });
      continue;
    }
    const image = c.loadImage();
    await decodeImage(image.bytes, { source: `${c.where}: image` });
    kept.push({ c, image });
  }
  for (const [i, { c, image }] of kept.entries()) {
    options.signal?.throwIfAborted();
    options.onProgress?.(candidates.length + Math.round((i * candidates.length) / kept.length), total);
    out.records.push({
      kind: "sft",
      id: c.id,
      images: [await options.imagePath(image)],
      messages: [...c.prompt, { role: "assistant", content: c.answer }],
      provenance: {
        method: "bpo",
        stage: options.stage,
        model: options.origin,
        seed: options.seed,
        reasons: ["positive", `style:${c.style}`],
        source: c.source,
      },
    });
  }
  options.onProgress?.(total, total);
  return out;
}

/** A stored positive as the pair stage reads it back (positives.jsonl). */
export interface Positive {
  id: string;
  /** The store path of its image. */
  imagePath: string;
  prompt: Turn[];
  answer: string;
  style: PositiveStyle;
  source: string;
}

export function positiveOf(record: SftRecord): Positive {
  const last = record.messages[record.messages.length - 1];
  const style = record.provenance.reasons?.includes("style:description") ? "description" : "qa";
  return {
    id: record.id,
    imagePath: record.images[0],
    prompt: record.messages.slice(0, -1),
    answer: last.content,
    style,
    source: record.provenance.source ?? record.id,
  };
}
