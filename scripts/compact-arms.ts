// COMPACT's arms against each other (README, COMPACT; issue 19): reads finished runs of
// recipes/compact.yaml (any arm profile, any seeds), joins each seed's arms into one evaluation
// (src/methods/compact/arms.ts) and prints `selfsynth compare`'s table: per bench metric, each arm's
// mean and SD over seeds and its difference to the baseline arm with a paired bootstrap 95%
// interval over items, pooled over seeds. `base` (the starting model) is a row too.
//
//   node --import tsx scripts/compact-arms.ts runs/compact-seed{0,1,2} runs/compact-full-budget-seed{0,1,2} \
//        runs/compact-random-subset-seed{0,1,2} runs/compact-k1-only-seed{0,1,2} [--baseline compact] [--json]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { formatComparisonTable } from "../src/cli/comparison-table.js";
import { compareRounds } from "../src/eval/comparison.js";
import { BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED } from "../src/eval/paired-bootstrap.js";
import { type ArmRun, armOf, joinArms } from "../src/methods/compact/arms.js";
import { readRunEvaluation, worldBenchSpec } from "../src/run/compare-runs.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    baseline: { type: "string", default: "compact" },
    json: { type: "boolean", default: false },
    resamples: { type: "string", default: String(BOOTSTRAP_RESAMPLES) },
    seed: { type: "string", default: String(BOOTSTRAP_SEED) },
  },
});
if (positionals.length === 0) {
  console.error("usage: compact-arms.ts RUN... [--baseline ARM] [--json] [--resamples N] [--seed N]");
  process.exit(1);
}

interface ResolvedRecipe {
  seed: number;
  stages: { name: string; type: string; data: string; k: number | string }[];
}

try {
  const runs: ArmRun[] = positionals.map((dir) => {
    const config = JSON.parse(readFileSync(join(dir, "config.resolved.json"), "utf8")) as ResolvedRecipe;
    const stage = config.stages.find((s) => s.type === "compact-sft");
    if (stage === undefined) throw new Error(`${dir}: no compact-sft stage in config.resolved.json`);
    return { arm: armOf(stage), seed: config.seed, round: stage.name, evaluation: readRunEvaluation(dir) };
  });
  const comparison = compareRounds({
    runs: joinArms(runs),
    baseline: values.baseline,
    bench: worldBenchSpec,
    resamples: Number(values.resamples),
    seed: Number(values.seed),
  });
  if (values.json) console.log(JSON.stringify(comparison));
  else for (const line of formatComparisonTable(comparison)) console.log(line);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
