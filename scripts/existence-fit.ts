// How well does a model answer the plain existence questions of a split it was trained on,
// against one it never saw? Reads the split's single-capability existence questions ("Is there a
// star in the image?", answer yes or no: the world's object_recognition questions) and scores
// both answers by the model's log-probability (no sampling): the answer is the likelier one.
// On the instruction split the base has seen these very images and questions; compare with the
// POPE accuracy on validation (scripts/calibrate.sh) to tell memorised images and a prior that
// holds on the biased training distribution from seeing.
//
//   node --import tsx scripts/existence-fit.ts --model runs/v2/base [--world runs/world]
//        [--split instruction] [--scenes 150] [--threads 2]
import { parseArgs } from "node:util";
import { setNumThreads } from "../src/engine/index.js";
import { scoreResponses } from "../src/models/score.js";
import { loadVLM } from "../src/models/vlm-io.js";
import { ImageStore } from "../src/train/world-data.js";
import type { SplitName } from "../src/world/config.js";
import { readWorldSplit } from "../src/world/read-split.js";

const { values: a } = parseArgs({
  options: {
    model: { type: "string", default: "assets/base" },
    world: { type: "string", default: "runs/world" },
    split: { type: "string", default: "instruction" },
    scenes: { type: "string", default: "150" },
    threads: { type: "string", default: "2" },
  },
});
setNumThreads(Number(a.threads));

const { model, tokenizer } = loadVLM(a.model);
const questions: { image: string; question: string; answer: string }[] = [];
for (const r of readWorldSplit(a.world, a.split as SplitName).slice(0, Number(a.scenes))) {
  if (r.kind !== "scene") continue;
  for (const q of r.questions ?? []) {
    const plain = q.capabilities.length === 1 && q.capabilities[0] === "object_recognition";
    if (plain && (q.answer === "yes" || q.answer === "no"))
      questions.push({ image: r.image, question: q.question, answer: q.answer });
  }
}
if (questions.length === 0)
  throw new Error(`${a.world}/${a.split}: no existence questions in the first ${a.scenes} records`);
const images = await ImageStore.load(
  a.world,
  questions.map((q) => q.image),
  model.config.vision.imageSize,
);
const scored = scoreResponses(
  model,
  tokenizer,
  questions.flatMap((q) =>
    ["yes", "no"].map((answer) => ({
      image: images.pixels(q.image),
      messages: [
        { role: "user" as const, content: `<image>\n${q.question}` },
        { role: "assistant" as const, content: answer },
      ],
    })),
  ),
  { batchSize: 32 },
);
let right = 0;
let yes = 0;
questions.forEach((q, i) => {
  const said = scored[2 * i].logprobs[0] > scored[2 * i + 1].logprobs[0] ? "yes" : "no";
  if (said === "yes") yes++;
  if (said === q.answer) right++;
});
console.log(
  JSON.stringify({
    model: a.model,
    split: a.split,
    questions: questions.length,
    accuracy: Number((right / questions.length).toFixed(3)),
    yesRatio: Number((yes / questions.length).toFixed(3)),
  }),
);
model.dispose();
