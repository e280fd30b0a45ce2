// The world items a method stage works on: unlabeled images from the pool split, and questions
// with their answers from the instruction split, each as encoded image bytes (what a backend
// takes). A stage draws a seeded subset, so the same recipe and seed always work on the same
// items, and a rerun after a kill sees the same list.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { describeImageSource, readImageSource } from "../../data/image-source.js";
import { mimeTypeOfPath, resolveInside } from "../../data/image-store.js";
import type { ChatImage } from "../../images/chat-image.js";
import { type StageContext, worldOf } from "../../run/stage-kind.js";
import { mulberry32, seededSubset } from "../../util/prng.js";
import { readWorldSplit, splitLineSchema } from "../../world/read-split.js";

/** An instruction record: its image and its questions (each with its reference answer). */
const InstructionLineSchema = splitLineSchema.extend({
  questions: z.array(z.object({ question: z.string(), answer: z.string(), task: z.string().optional() })).optional(),
});

export interface PoolItem {
  id: string;
  image: ChatImage;
  source: string;
}

export interface QuestionItem extends PoolItem {
  question: string;
  answer: string;
}

/** An image of a built world, by its record's relative path (refused when it escapes the world). */
export function readImage(worldDir: string, path: string, where: string): ChatImage {
  const full = resolveInside(worldDir, path, where);
  return { bytes: new Uint8Array(readFileSync(full)), mimeType: mimeTypeOfPath(path) };
}

/** n unlabeled images of the pool split (scenes and creatures as the split mixes them). */
export function poolItems(worldDir: string, n: number, seed: number): PoolItem[] {
  return seededSubset(readWorldSplit(worldDir, "pool", splitLineSchema), n, seed).map((r) => ({
    id: r.id,
    image: readImage(worldDir, r.image, `pool record ${r.id}`),
    source: r.id,
  }));
}

/**
 * A stage's n unlabeled images: from the recipe's `images:` source when it names one (each file
 * decoded now; one that is not a usable image is a drop with its reason code, logged and counted
 * with the stage's drops), else from the world's pool split.
 */
export async function stagePoolItems(
  ctx: StageContext,
  n: number,
): Promise<{ items: PoolItem[]; dropped: { itemId: string; reason: string }[] }> {
  if (ctx.images === null) return { items: poolItems(worldOf(ctx).dir, n, ctx.seed), dropped: [] };
  const read = await readImageSource(ctx.images, { n, seed: ctx.seed });
  const drops: Record<string, number> = {};
  for (const d of read.dropped) drops[d.reason] = (drops[d.reason] ?? 0) + 1;
  ctx.log(
    `${describeImageSource(ctx.images)}: ${read.items.length} of ${read.items.length + read.dropped.length} images drawn (of ${read.listed}) decode${
      read.dropped.length > 0 ? `; dropped ${JSON.stringify(drops)}` : ""
    }`,
  );
  for (const d of read.dropped.slice(0, 5)) ctx.log(`  dropped ${d.itemId} (${d.reason}): ${d.message}`);
  if (read.dropped.length > 5) ctx.log(`  ... and ${read.dropped.length - 5} more in the stage's drops.jsonl`);
  return {
    items: read.items.map((i) => ({ id: i.id, image: i.image, source: i.source })),
    dropped: read.dropped.map((d) => ({ itemId: d.itemId, reason: d.reason })),
  };
}

/**
 * n questions of the instruction split with their reference answers, at most one per image (so
 * n images are described once each in STIC's stage 2). Creature explanations are included.
 */
export function instructionQuestions(worldDir: string, n: number, seed: number): QuestionItem[] {
  const records = readWorldSplit(worldDir, "instruction", InstructionLineSchema).filter(
    (r) => (r.questions ?? []).length > 0,
  );
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
