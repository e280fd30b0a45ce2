// Benchmarks read from standard files instead of a built world, beside world-benches.ts: the same
// bench specs, metrics and runner, another source of items.
//
//   pope   a POPE question file as published (src/data/pope-questions.ts) + its image folder;
//          items are the file's questions, with its labels
//   chair  COCO instance annotations (src/data/coco-annotations.ts) + the image folder; items
//          are the file's images, truth = their annotated categories (plus the objects their
//          reference captions name, with a captions file, as chair.py does), matched with
//          CHAIR's COCO synonym list (src/eval/coco-objects.ts)
//
// Images go through the decode checks (src/data/image-folder.ts); an item whose image is
// missing, corrupt, too large or not PNG/JPEG is skipped with a reason code, and the skips are
// written beside the records (`<bench>.skipped.jsonl`) so that the metrics' denominator is known.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { readCocoCaptions, readCocoInstances } from "../data/coco-annotations.js";
import { type FolderImageProblem, ImageFolder } from "../data/image-folder.js";
import { readPopeQuestions } from "../data/pope-questions.js";
import type { ChatImage } from "../images/chat-image.js";
import { type ChairItem, chairBench } from "./chair.js";
import { CocoObjectMatcher } from "./coco-objects.js";
import { type PopeItem, popeFileBench } from "./pope.js";
import { removeIfExists, writeFileAtomic } from "./records.js";
import { unique } from "./text.js";
import type { AnyBenchSpec, EvalItem } from "./types.js";

export const FILE_BENCH_NAMES = ["pope", "chair"] as const;
export type FileBenchName = (typeof FILE_BENCH_NAMES)[number];

/** The describe request of CHAIR on real models (the wording CHAIR evaluations of VLMs commonly use, e.g. OPERA's). */
export const COCO_CHAIR_PROMPT = "Please describe this image in detail.";

export class BenchFileError extends Error {
  override name = "BenchFileError";
}

/** An item left out because its image could not be used. */
export interface SkippedItem {
  item_id: string;
  /** The file name the benchmark file gave. */
  image: string;
  reason: FolderImageProblem;
  message: string;
}

export interface FileBench {
  bench: AnyBenchSpec;
  items: EvalItem[];
  skipped: SkippedItem[];
}

/** The object of POPE's question template ("Is there a fire hydrant in the image?"), or "" for another wording. */
export function popeQuestionObject(question: string): string {
  return /^Is there (?:a|an) (.+?) in the image\?$/i.exec(question.trim())?.[1] ?? "";
}

/** Items with their images read; those whose image fails are skipped with the reason. */
async function withImages<T>(
  entries: readonly T[],
  folder: ImageFolder,
  describe: (entry: T) => { id: string; image: string },
  toItem: (entry: T, image: ChatImage) => EvalItem,
): Promise<{ items: EvalItem[]; skipped: SkippedItem[] }> {
  const items: EvalItem[] = [];
  const skipped: SkippedItem[] = [];
  // One image at a time: decoding is CPU work, and the cache keeps each file's bytes once.
  for (const entry of entries) {
    const { id, image } = describe(entry);
    const read = await folder.read(image);
    if (read.ok) items.push(toItem(entry, read.image));
    else skipped.push({ item_id: id, image, reason: read.problem, message: read.message });
  }
  return { items, skipped };
}

export interface PopeFileOptions {
  /** A POPE question file (JSON Lines). */
  questions: string;
  /** The folder its `image` names are in. */
  images: string;
  /** Only the first `limit` questions (their images alone are read). */
  limit?: number;
}

export async function loadPopeFile(options: PopeFileOptions): Promise<FileBench> {
  const questions = readPopeQuestions(options.questions).slice(0, options.limit);
  const { items, skipped } = await withImages(
    questions,
    new ImageFolder(options.images),
    (q) => ({ id: q.questionId, image: q.image }),
    (q, image): PopeItem => ({
      id: q.questionId,
      imageId: q.image,
      image,
      object: popeQuestionObject(q.text),
      label: q.label,
      question: q.text,
    }),
  );
  return { bench: popeFileBench(), items, skipped };
}

export interface CocoChairOptions {
  /** A COCO instances file (instances_val2014.json or a subset in its format). */
  annotations: string;
  images: string;
  /** A COCO captions file whose objects join the truth, as chair.py's default does. */
  captions?: string;
  /** The describe request (default COCO_CHAIR_PROMPT). */
  prompt?: string;
  /** Only the first `limit` images of the file. */
  limit?: number;
}

/** A describe request must be plain text: the runner adds the image and fills `{field}` placeholders. */
function checkPrompt(prompt: string): string {
  const why =
    prompt.trim() === ""
      ? "is empty"
      : prompt.includes("<image>")
        ? "holds an <image> marker (the image is put before the prompt)"
        : /\{[A-Za-z_]\w*\}/.test(prompt)
          ? "holds a {placeholder}, which CHAIR items cannot fill"
          : null;
  if (why !== null) throw new BenchFileError(`CHAIR prompt ${JSON.stringify(prompt)} ${why}`);
  return prompt;
}

export async function loadCocoChair(options: CocoChairOptions): Promise<FileBench> {
  const prompt = checkPrompt(options.prompt ?? COCO_CHAIR_PROMPT);
  const matcher = new CocoObjectMatcher();
  const images = readCocoInstances(options.annotations).slice(0, options.limit);
  const captions = options.captions === undefined ? new Map<string, string[]>() : readCocoCaptions(options.captions);
  const category = (name: string) => {
    const canonical = matcher.canonical(name);
    if (canonical === null) {
      throw new BenchFileError(
        `${options.annotations}: category ${JSON.stringify(name)} is not a COCO category CHAIR knows (its synonym list holds the 80 COCO categories)`,
      );
    }
    return canonical;
  };
  const { items, skipped } = await withImages(
    images,
    new ImageFolder(options.images),
    (img) => ({ id: img.id, image: img.fileName }),
    (img, image): ChairItem => {
      const fromCaptions = (captions.get(img.id) ?? []).flatMap((c) => matcher.findMentions(c).map((m) => m.canonical));
      return {
        id: img.id,
        imageId: img.id,
        image,
        objects: unique([...img.categories.map(category), ...fromCaptions]),
      };
    },
  );
  const description = "CHAIR on COCO: descriptions scored against instance annotations with CHAIR's synonym list";
  return { bench: chairBench(matcher, { name: "chair", description, prompt }), items, skipped };
}

/**
 * Writes `<outDir>/<bench>.skipped.jsonl` (one SkippedItem per line), or removes a stale one when
 * nothing was skipped; returns its path, or null.
 */
export function writeSkipped(outDir: string, bench: string, skipped: readonly SkippedItem[]): string | null {
  const path = join(outDir, `${bench}.skipped.jsonl`);
  if (skipped.length === 0) {
    removeIfExists(path);
    return null;
  }
  mkdirSync(outDir, { recursive: true });
  writeFileAtomic(path, skipped.map((s) => `${JSON.stringify(s)}\n`).join(""));
  return path;
}

/** "2 of 10 pope items skipped (missing 1, corrupt 1)". */
export function skippedSummary(bench: string, skipped: readonly SkippedItem[], total: number): string {
  const byReason = new Map<string, number>();
  for (const s of skipped) byReason.set(s.reason, (byReason.get(s.reason) ?? 0) + 1);
  const reasons = [...byReason].map(([reason, n]) => `${reason} ${n}`).join(", ");
  return `${skipped.length} of ${total} ${bench} items skipped (${reasons})`;
}
