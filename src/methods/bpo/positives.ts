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
//   canonical, llava, sharegpt   an SFT file (src/data/sft-file.ts, shared with STS's and
//               COMPACT's general data): canonical SFT records, LLaVA's JSON or JSON Lines, or
//               TRL's conversational `messages` / LLaMA-Factory's sharegpt, images relative to
//               `imageFolder` (default the file's folder); a system prompt goes before the first
//               user turn's text, since the canonical records hold user and assistant turns only.
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
import type { SftRecord, Turn } from "../../data/records.js";
import { readSftFile, type SftFileConversation } from "../../data/sft-file.js";
import type { ChatImage } from "../../images/chat-image.js";
import { decodeImage } from "../../images/codec.js";
import { DESCRIPTION_PROMPTS, questionPrompt } from "../../train/world-data.js";
import { seededSubset } from "../../util/prng.js";
import { readWorldSplit } from "../../world/read-split.js";
import { Rng } from "../../world/rng.js";
import type { Dropped } from "../common/chunked-records.js";
import { readImage } from "../common/world-items.js";
import { MAX_WORDS, wordCount } from "./filters.js";

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

/** One candidate per assistant turn of each conversation of an SFT file (src/data/sft-file.ts). */
function fileCandidates(conversations: readonly SftFileConversation[], style: StyleChoice): PositiveCandidate[] {
  return conversations.flatMap((c) =>
    conversationCandidates(
      c.id,
      c.turns,
      { source: c.id, where: c.where, imageCount: c.images.length, loadImage: () => c.readImage(0) },
      style,
    ),
  );
}

/** The canonical SFT records of `path` (images relative to `root`, default the file's folder). */
export const canonicalPositives = (path: string, style: StyleChoice, root?: string) =>
  fileCandidates(readSftFile(path, "canonical", root), style);

/** The entries of a LLaVA file (images relative to `imageFolder`, default the file's folder). */
export const llavaPositives = (path: string, style: StyleChoice, imageFolder?: string) =>
  fileCandidates(readSftFile(path, "llava", imageFolder), style);

/**
 * The conversations of a TRL or LLaMA-Factory sharegpt file (images relative to `imageFolder`,
 * default the file's folder). A system prompt goes before the first user turn's text.
 */
export const sharegptPositives = (path: string, style: StyleChoice, imageFolder?: string) =>
  fileCandidates(readSftFile(path, "sharegpt", imageFolder), style);

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
