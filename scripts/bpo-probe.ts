// What BPO's two negative generators give a model on instruction scenes (the method's own input
// data, no benchmark), for the choices README's BPO section explains:
//   - error injection, prior-continuation: each description cut after 40% of its words and
//     continued at temperature 0.8, top-p 0.95, with the image withheld or a uniform grey image;
//   - image weakening: the description asked about the image noised at t in {500, 700, 900}, in
//     CLIP's normalized space and in [-1, 1], at temperature 0.2.
// Per setting: answers that read as a creature ("this is a ...", "this creature"), object mentions,
// and mentions absent from the scene (CHAIR's extraction), with a present anchor's prior partner
// among them.
// Usage: node --import tsx scripts/bpo-probe.ts [--model assets/base] [--world runs/world] [--items 40]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { EmbeddedBackend } from "../src/backends/embedded.js";
import type { GenerationRequest } from "../src/backends/types.js";
import { setNumThreads } from "../src/engine/index.js";
import { extractObjectMentions } from "../src/eval/chair.js";
import { isPriorPartner } from "../src/eval/prior-errors.js";
import { worldVocabulary } from "../src/eval/world-benches.js";
import type { ChatImage } from "../src/images/chat-image.js";
import { CLIP_NORMALIZE, diffusionNoise, MINUS_ONE_ONE } from "../src/images/diffusion-noise.js";
import { cutAnswer, grayLike } from "../src/methods/bpo/injection.js";
import { itemRng } from "../src/methods/common/item-rng.js";
import { readWorld } from "../src/train/world-data.js";
import { readWorldSplit } from "../src/world/read-split.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: "assets/base" },
    world: { type: "string", default: "runs/world" },
    items: { type: "string", default: "40" },
    threads: { type: "string", default: "1" },
  },
});
setNumThreads(Number(values.threads));
const worldDir = values.world;
const pairs = readWorld(worldDir).config.priors.pairs;
const scenes = readWorldSplit(worldDir, "instruction")
  .filter((r) => r.kind === "scene" && r.description !== undefined)
  .slice(0, Number(values.items));
const images: ChatImage[] = scenes.map((r) => ({
  bytes: new Uint8Array(readFileSync(join(worldDir, r.image))),
  mimeType: "image/png",
}));
const objectsOf = (i: number) => (scenes[i].kind === "scene" ? scenes[i].objects : []);
const table = worldVocabulary().objects;
const backend = EmbeddedBackend.load(values.model);
const PROMPT = "Describe this image in detail.";

async function report(
  label: string,
  requests: GenerationRequest[],
  temperature: number,
  topP: number,
  prefixes?: string[],
) {
  const out = await backend.generate(requests, {
    n: 1,
    temperature,
    topP,
    topK: 0,
    maxTokens: 256,
    stop: [],
    seed: 1,
    logprobs: false,
  });
  let creature = 0;
  let mentions = 0;
  let absent = 0;
  let partners = 0;
  out.forEach((s, i) => {
    const text = s[0].text;
    if (/\b(this is a|this creature)\b/i.test(text)) creature++;
    // A continuation's own part: the prefix is the description's (true) text.
    const found = extractObjectMentions(text, table);
    const wrong = found.filter((m) => !objectsOf(i).includes(m));
    mentions += found.length;
    absent += wrong.length;
    partners += wrong.filter((m) => isPriorPartner(m, objectsOf(i), pairs)).length;
  });
  const cut = prefixes === undefined ? "" : " (continuations only)";
  console.log(
    `${label}: ${out.length} scenes, creature-like answers ${creature}, object mentions ${mentions}${cut}, absent ${absent}, prior partners ${partners}`,
  );
}

// Error injection: the same cut for both image settings.
const cuts = scenes.map((r) => cutAnswer(r.description ?? "", 0.4).prefix);
for (const mode of ["withhold", "gray"] as const) {
  const requests: GenerationRequest[] = [];
  for (const [i, r] of scenes.entries()) {
    requests.push({
      id: r.id,
      images: mode === "withhold" ? [] : [await grayLike(images[i], r.id)],
      messages: [{ role: "user", content: mode === "withhold" ? PROMPT : `<image>\n${PROMPT}` }],
      ...(cuts[i] === "" ? {} : { assistantPrefix: cuts[i] }),
    });
  }
  await report(`injection, prior-continuation, image ${mode}`, requests, 0.8, 0.95, cuts);
}

// Image weakening.
for (const [space, normalize] of [
  ["CLIP", CLIP_NORMALIZE],
  ["[-1, 1]", MINUS_ONE_ONE],
] as const) {
  for (const t of [500, 700, 900]) {
    const requests: GenerationRequest[] = [];
    for (const [i, r] of scenes.entries()) {
      const noised = await diffusionNoise(images[i].bytes, { t, normalize }, itemRng(0, "bpo", `noise:${r.id}`));
      requests.push({ id: r.id, images: [noised.image], messages: [{ role: "user", content: `<image>\n${PROMPT}` }] });
    }
    await report(`weakening, ${space}, t ${t}`, requests, 0.2, 1);
  }
}
await backend.close();
