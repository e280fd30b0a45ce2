// Can a model tell the objects it names that are there from those it made up? For the pairs of
// a STIC stage (pairs.jsonl), every object mention of both sides is scored by the model's own
// teacher-forced log-prob under the real image (methods/common/mention-logprobs.ts) and checked
// against the pool's exact scene graphs. Prints the AUC of the log-prob for present vs absent
// mentions (0.5 = no signal), and how the `selfCheck` rule (keep a pair when its chosen side has
// fewer mentions below `--doubt`, or with `--rule rate` a lower share of them) agrees with the
// oracle rule (chosen names fewer absent objects).
//
//   node --import tsx scripts/mention-auc.ts runs/stic-seed0/stages/stic-stage1/data/pairs.jsonl \
//        [--model assets/base] [--world runs/world] [--limit 400] [--doubt -0.5] [--rule count|rate]
import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { EmbeddedBackend } from "../src/backends/embedded.js";
import { readRecords } from "../src/data/dataset.js";
import { chosenHallucinatesLess, PairScorer, readPoolTruth } from "../src/eval/pair-hallucination.js";
import { worldVocabulary } from "../src/eval/world-benches.js";
import { chosenIsSurer, SELF_CHECK_RULES, type SelfCheckRule, scorePairSides } from "../src/methods/stic/self-check.js";
import { loadWorldConfig } from "../src/world/config.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    model: { type: "string", default: "assets/base" },
    world: { type: "string", default: "runs/world" },
    config: { type: "string", default: "assets/world/default.yaml" },
    limit: { type: "string", default: "400" },
    doubt: { type: "string", default: "-0.5" },
    rule: { type: "string", default: "count" },
  },
});
if (positionals.length !== 1) {
  console.error(
    "usage: mention-auc.ts <pairs.jsonl> [--model DIR] [--world DIR] [--limit N] [--doubt X] [--rule count|rate]",
  );
  process.exit(1);
}
const limit = Number(values.limit);
const doubt = Number(values.doubt);
const rule = values.rule as SelfCheckRule;
if (!SELF_CHECK_RULES.includes(rule)) {
  console.error(`--rule: expected ${SELF_CHECK_RULES.join(" or ")}, got '${values.rule}'`);
  process.exit(1);
}

/** Mann-Whitney AUC: the chance a random positive scores above a random negative (ties half). */
function auc(positive: number[], negative: number[]): number {
  const all = [...positive.map((v) => ({ v, p: 1 })), ...negative.map((v) => ({ v, p: 0 }))].sort((a, b) => a.v - b.v);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j].v === all[i].v) j++;
    const meanRank = (i + j + 1) / 2; // ranks i+1..j
    for (let k = i; k < j; k++) if (all[k].p === 1) rankSum += meanRank;
    i = j;
  }
  const n1 = positive.length;
  return (rankSum - (n1 * (n1 + 1)) / 2) / (n1 * negative.length);
}

const table = worldVocabulary().objects;
const scorer = new PairScorer(table, loadWorldConfig(values.config).priors.pairs);
const truth = readPoolTruth(values.world);
const root = dirname(positionals[0]);
const pairs = readRecords(positionals[0], "preference", { root })
  .filter((p) => truth.has(p.provenance.source ?? p.id))
  .slice(0, limit);
const backend = EmbeddedBackend.load(values.model);
const sides = await scorePairSides(backend, pairs, root, table, {
  batch: 32,
  onProgress: (done) => process.stderr.write(`\rscored ${done}/${pairs.length} pairs`),
});
process.stderr.write("\n");
await backend.close();

const present: number[] = [];
const absent: number[] = [];
const verdicts = { kept: 0, keptOracleBetter: 0, oracleBetter: 0, keptChosenAbsent: 0, keptRejectedAbsent: 0 };
pairs.forEach((pair, i) => {
  const objects = truth.get(pair.provenance.source ?? pair.id) as string[];
  for (const mention of [...sides[i].chosen, ...sides[i].rejected])
    (objects.includes(mention.canonical) ? present : absent).push(mention.logprob);
  const score = scorer.pair(pair.chosen, pair.rejected, objects);
  const oracle = chosenHallucinatesLess(score);
  if (oracle) verdicts.oracleBetter++;
  if (chosenIsSurer(sides[i], doubt, rule)) {
    verdicts.kept++;
    if (oracle) verdicts.keptOracleBetter++;
    verdicts.keptChosenAbsent += score.chosen.verdict.hallucinated.length;
    verdicts.keptRejectedAbsent += score.rejected.verdict.hallucinated.length;
  }
});
const f = (x: number) => x.toFixed(3);
console.log(`pairs with scene truth: ${pairs.length}; mentions present ${present.length}, absent ${absent.length}`);
console.log(`AUC of the mention log-prob, present vs absent: ${f(auc(present, absent))}`);
console.log(
  `oracle: chosen names fewer absent objects in ${verdicts.oracleBetter} pairs (${f(verdicts.oracleBetter / pairs.length)})`,
);
console.log(
  `selfCheck (doubt ${doubt}, rule ${rule}): keeps ${verdicts.kept} pairs, of which the oracle agrees on ${verdicts.keptOracleBetter} (${f(verdicts.keptOracleBetter / Math.max(1, verdicts.kept))}); absent objects per kept pair: chosen ${f(verdicts.keptChosenAbsent / Math.max(1, verdicts.kept))}, rejected ${f(verdicts.keptRejectedAbsent / Math.max(1, verdicts.kept))}`,
);
