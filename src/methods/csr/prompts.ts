// CSR's prompts on SceneWorld. The paper asks LLaVA-150k's instructions about COCO images (12.8k
// per iteration, detailed-description and conversation requests). The embedded base knows two
// kinds of prompt: the four description requests it was tuned on (src/train/world-data.ts
// DESCRIPTION_PROMPTS, CHAIR's among them) and the instruction split's questions. Questions get
// one-sentence answers ("yes.", "2."), which give a sentence-level search nothing to search, so
// each unlabeled pool image is asked one of the description requests, drawn from the image's
// own seeded stream (common/item-rng.ts): the same prompt on a resume, whatever the chunking.

import { DESCRIPTION_PROMPTS } from "../../train/world-data.js";
import { itemRng } from "../common/item-rng.js";
import type { PoolItem } from "../common/world-items.js";
import type { SearchPrompt } from "./candidates.js";

/** One description prompt per pool image (each prompt holds its `<image>` marker). */
export function csrPrompts(items: readonly PoolItem[], seed: number): SearchPrompt[] {
  return items.map((item) => {
    const draw = itemRng(seed, "csr", `prompt:${item.id}`)();
    const content = DESCRIPTION_PROMPTS[Math.floor(draw * DESCRIPTION_PROMPTS.length)];
    return { id: item.id, image: item.image, messages: [{ role: "user", content }] };
  });
}
