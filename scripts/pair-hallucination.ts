// How much do the two sides of a run's preference pairs hallucinate? Scores `chosen` and
// `rejected` of every pair in a stage's pairs.jsonl with CHAIR against the pool's exact scene
// graphs (pool-truth.jsonl of the world), and counts the pairs whose chosen side hallucinates
// fewer objects than its rejected side, and how many hallucinated mentions are the prior's
// partner of an anchor that is present (priors.pairs of the world config). A preference method
// can only teach what its pairs hold.
//
//   node --import tsx scripts/pair-hallucination.ts runs/stic-seed0/stages/stic-stage1/data/pairs.jsonl \
//        [--world runs/world] [--config assets/world/default.yaml] [--json]
import { parseArgs } from "node:util";
import { readRecords } from "../src/data/dataset.js";
import { chairMetrics } from "../src/eval/chair.js";
import { chosenHallucinatesLess, PairScorer, readPoolTruth } from "../src/eval/pair-hallucination.js";
import { worldVocabulary } from "../src/eval/world-benches.js";
import { loadWorldConfig } from "../src/world/config.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    world: { type: "string", default: "runs/world" },
    config: { type: "string", default: "assets/world/default.yaml" },
    json: { type: "boolean", default: false },
  },
});
if (positionals.length !== 1) {
  console.error("usage: pair-hallucination.ts <pairs.jsonl> [--world DIR] [--json]");
  process.exit(1);
}

const scorer = new PairScorer(worldVocabulary().objects, loadWorldConfig(values.config).priors.pairs);
const truthById = readPoolTruth(values.world);
const priorCounts = { chosen: { prior: 0, all: 0 }, rejected: { prior: 0, all: 0 } };
type Side = { parsed: { mentions: string[]; words: number }; truth: { objects: string[] } };
const chosen: Side[] = [];
const rejected: Side[] = [];
let chosenBetter = 0;
let rejectedBetter = 0;
let skipped = 0;
for (const pair of readRecords(positionals[0], "preference", { checkImages: false })) {
  const source = pair.provenance.source ?? pair.id;
  const objects = truthById.get(source);
  if (objects === undefined) {
    skipped++; // a creature image or an item outside the pool: no object ground truth
    continue;
  }
  const score = scorer.pair(pair.chosen, pair.rejected, objects);
  for (const [name, side, list] of [
    ["chosen", score.chosen, chosen],
    ["rejected", score.rejected, rejected],
  ] as const) {
    list.push({ parsed: { mentions: side.mentions, words: side.words }, truth: { objects: score.objects } });
    priorCounts[name].all += side.verdict.hallucinated.length;
    priorCounts[name].prior += side.priorDriven;
  }
  if (chosenHallucinatesLess(score)) chosenBetter++;
  else if (score.rejected.verdict.hallucinated.length < score.chosen.verdict.hallucinated.length) rejectedBetter++;
}

const result = {
  pairs: chosen.length,
  skipped,
  chosen: { ...chairMetrics(chosen), prior_share: priorCounts.chosen.prior / Math.max(1, priorCounts.chosen.all) },
  rejected: {
    ...chairMetrics(rejected),
    prior_share: priorCounts.rejected.prior / Math.max(1, priorCounts.rejected.all),
  },
  chosenFewerHallucinations: chosenBetter / Math.max(1, chosen.length),
  rejectedFewerHallucinations: rejectedBetter / Math.max(1, chosen.length),
};
if (values.json) console.log(JSON.stringify(result));
else {
  const f = (x: number) => x.toFixed(3);
  console.log(`pairs scored: ${result.pairs} (skipped ${skipped} without object ground truth)`);
  for (const name of ["chosen", "rejected"] as const) {
    const m = result[name];
    console.log(
      `${name.padEnd(8)} CHAIR_i ${f(m.chair_i)}  CHAIR_s ${f(m.chair_s)}  coverage ${f(m.coverage)}  words ${m.mean_length.toFixed(1)}  prior-partner share of hallucinations ${f(m.prior_share)}`,
    );
  }
  console.log(
    `chosen hallucinates fewer objects in ${f(result.chosenFewerHallucinations)} of pairs, more in ${f(result.rejectedFewerHallucinations)}`,
  );
}
