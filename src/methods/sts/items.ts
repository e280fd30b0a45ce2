// STS's training items on SceneWorld: labelled creature images of the pool split (the paper trains
// on a fine-grained dataset's labelled training images). The label is the species read from the
// pool's truth; nothing else of the truth (visible concepts, descriptions) is read: the concepts
// an image shows are what the method has to find. And the general instruction records the mixer
// draws from (the instruction split's questions, one per image).
import type { SftRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { seededSubset } from "../../util/prng.js";
import { readWorldSplit } from "../../world/read-split.js";
import { instructionQuestions, readImage } from "../common/world-items.js";

export interface LabelledItem {
  id: string;
  image: ChatImage;
  label: string;
}

/**
 * n creature images of the pool (a seeded subset; all of them when fewer), each with its species;
 * with `among`, drawn only from those ids (rounds 2+: round 1's images, whose concepts it selected).
 */
export function labelledCreatures(
  worldDir: string,
  n: number,
  seed: number,
  among?: { has(id: string): boolean },
): LabelledItem[] {
  const creatures = readWorldSplit(worldDir, "pool-truth").filter(
    (r) => r.kind === "creature" && (among === undefined || among.has(r.id)),
  );
  if (creatures.length === 0)
    throw new Error(
      `${worldDir}: the pool split holds no creature images for STS${among === undefined ? "" : " among round 1's"}`,
    );
  return seededSubset(creatures, Math.min(n, creatures.length), seed).map((r) => ({
    id: r.id,
    image: readImage(worldDir, r.image, `pool record ${r.id}`),
    label: r.kind === "creature" ? r.species : "",
  }));
}

/**
 * `count` general instruction records (one question of one instruction image each), ids prefixed
 * `general/`, as candidates for mixRecords. Fewer when the split has fewer images.
 */
export async function generalRecords(
  worldDir: string,
  count: number,
  seed: number,
  stage: string,
  imagePath: (image: ChatImage) => Promise<string>,
): Promise<SftRecord[]> {
  const out: SftRecord[] = [];
  for (const q of instructionQuestions(worldDir, count, seed)) {
    out.push({
      kind: "sft",
      id: `general/${q.id}`,
      images: [await imagePath(q.image)],
      messages: [
        { role: "user", content: `<image>\n${q.question.replace(/<image>\n?/g, "")}` },
        { role: "assistant", content: q.answer },
      ],
      provenance: { method: "sts", stage, model: "world:instruction", reasons: ["general-instruction"], source: q.id },
    });
  }
  return out;
}
