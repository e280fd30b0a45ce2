// How much do the two sides of a run's preference pairs hallucinate? Scores `chosen` and
// `rejected` of every pair in a stage's pairs.jsonl with CHAIR against the pool's exact scene
// graphs (pool-truth.jsonl of the world), and counts the pairs whose chosen side hallucinates
// fewer objects than its rejected side, and how many hallucinated mentions are the prior's
// partner of an anchor that is present (priors.pairs of the world config). A preference method
// can only teach what its pairs hold.
//
//   node --import tsx scripts/pair-hallucination.ts runs/stic-seed0/stages/stic-stage1/data/pairs.jsonl \
//        [--world runs/world] [--config assets/world/default.yaml] [--json]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chairMetrics, chairVerdict, descriptionLength, extractObjectMentions } from "../src/eval/chair.js";
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

function readJsonl(path: string): Record<string, unknown>[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line, i) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch (error) {
        throw new Error(`${path}:${i + 1}: not JSON (${(error as Error).message})`);
      }
    });
}

const table = worldVocabulary().objects;
const priorPairs = loadWorldConfig(values.config).priors.pairs;
/** Hallucinated mentions that are the partner of an anchor the image holds. */
function priorDriven(hallucinated: readonly string[], objects: readonly string[]): number {
  return hallucinated.filter((m) => priorPairs.some((p) => p.partner === m && objects.includes(p.anchor))).length;
}
const priorCounts = { chosen: { prior: 0, all: 0 }, rejected: { prior: 0, all: 0 } };
const truthById = new Map<string, string[]>();
for (const record of readJsonl(join(values.world, "pool-truth.jsonl"))) {
  if (record.kind === "scene") truthById.set(record.id as string, record.objects as string[]);
}

type Side = { parsed: { mentions: string[]; words: number }; truth: { objects: string[] } };
const chosen: Side[] = [];
const rejected: Side[] = [];
let chosenBetter = 0;
let rejectedBetter = 0;
let skipped = 0;
for (const pair of readJsonl(positionals[0])) {
  const source = (pair.provenance as { source?: string } | undefined)?.source ?? (pair.id as string);
  const objects = truthById.get(source);
  if (objects === undefined) {
    skipped++; // a creature image or an item outside the pool: no object ground truth
    continue;
  }
  const truth = { objects: [...new Set(objects)] };
  const side = (text: string): Side => ({
    parsed: { mentions: extractObjectMentions(text, table), words: descriptionLength(text) },
    truth,
  });
  const c = side(pair.chosen as string);
  const r = side(pair.rejected as string);
  chosen.push(c);
  rejected.push(r);
  const hallucinatedChosen = chairVerdict(c.parsed.mentions, truth).hallucinated;
  const hallucinatedRejected = chairVerdict(r.parsed.mentions, truth).hallucinated;
  priorCounts.chosen.all += hallucinatedChosen.length;
  priorCounts.chosen.prior += priorDriven(hallucinatedChosen, truth.objects);
  priorCounts.rejected.all += hallucinatedRejected.length;
  priorCounts.rejected.prior += priorDriven(hallucinatedRejected, truth.objects);
  if (hallucinatedChosen.length < hallucinatedRejected.length) chosenBetter++;
  else if (hallucinatedRejected.length < hallucinatedChosen.length) rejectedBetter++;
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
