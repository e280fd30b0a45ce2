// The world items a method stage works on: unlabeled images from the pool split, and questions
// with their answers from the instruction split, each as encoded image bytes (what a backend
// takes). A stage draws a seeded subset, so the same recipe and seed always work on the same
// items, and a rerun after a kill sees the same list.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mimeTypeOfPath, resolveInside } from "../../data/image-store.js";
import type { ChatImage } from "../../images/chat-image.js";
import { mulberry32 } from "../../util/prng.js";

/** One record of a world split file, as much of it as the methods read. */
interface WorldLine {
  id: string;
  kind: "scene" | "creature";
  image: string;
  questions?: { question: string; answer: string; task?: string }[];
}

export interface PoolItem {
  id: string;
  image: ChatImage;
  source: string;
}

export interface QuestionItem extends PoolItem {
  question: string;
  answer: string;
}

function readSplitLines(worldDir: string, split: string): WorldLine[] {
  const path = join(worldDir, `${split}.jsonl`);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`${path}: cannot read the world split (${(error as Error).message})`);
  }
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, i) => {
      try {
        const r = JSON.parse(line) as WorldLine;
        if (typeof r.id !== "string" || typeof r.image !== "string") throw new Error("no id or image");
        return r;
      } catch (error) {
        throw new Error(`${path} line ${i + 1}: not a world record (${(error as Error).message})`);
      }
    });
}

/** The first n of a seeded shuffle (Fisher-Yates), so a larger n extends a smaller one's picks. */
export function seededSubset<T>(items: readonly T[], n: number, seed: number): T[] {
  const order = items.slice();
  const rand = mulberry32(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order.slice(0, Math.min(n, order.length));
}

function readImage(worldDir: string, path: string, where: string): ChatImage {
  const full = resolveInside(worldDir, path, where);
  return { bytes: new Uint8Array(readFileSync(full)), mimeType: mimeTypeOfPath(path) };
}

/** n unlabeled images of the pool split (scenes and creatures as the split mixes them). */
export function poolItems(worldDir: string, n: number, seed: number): PoolItem[] {
  return seededSubset(readSplitLines(worldDir, "pool"), n, seed).map((r) => ({
    id: r.id,
    image: readImage(worldDir, r.image, `pool record ${r.id}`),
    source: r.id,
  }));
}

/**
 * n questions of the instruction split with their reference answers, at most one per image (so
 * n images are described once each in STIC's stage 2). Creature explanations are included.
 */
export function instructionQuestions(worldDir: string, n: number, seed: number): QuestionItem[] {
  const records = readSplitLines(worldDir, "instruction").filter((r) => (r.questions ?? []).length > 0);
  return seededSubset(records, n, seed).map((r) => {
    const questions = r.questions ?? [];
    const q = questions[Math.floor(mulberry32(seed ^ hashId(r.id))() * questions.length)];
    return {
      id: r.id,
      image: readImage(worldDir, r.image, `instruction record ${r.id}`),
      source: r.id,
      question: q.question,
      answer: q.answer,
    };
  });
}

/** A 32-bit FNV-1a hash of an id, to seed per-item choices. */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}
