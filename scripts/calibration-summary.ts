// The one JSON line scripts/calibrate.sh prints per model: the numbers a base is chosen by, read
// from the benchmarks' results and per-item records (validation split) and the world's scene
// graphs. Beside POPE's and CHAIR's metrics: the POPE accuracy gap (random minus adversarial),
// how many false "yes" answers on the adversarial split are a present anchor's prior partner,
// the partner share of hallucinated mentions on prior-breaking images, and the share of
// descriptions cut by CHAIR's token limit (CHAIR's truncated_share; src/eval/prior-errors.ts).
//
//   node --import tsx scripts/calibration-summary.ts --dir runs/calibration/<model> --world runs/world --model <model>
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chairHallucinationPriorShare, popeFalseYesPriorShare } from "../src/eval/prior-errors.js";
import { readRecords } from "../src/eval/records.js";
import type { Metrics } from "../src/eval/types.js";
import type { WorldConfig } from "../src/world/config.js";

const { values: a } = parseArgs({
  options: {
    dir: { type: "string" },
    world: { type: "string", default: "runs/world" },
    model: { type: "string" },
    split: { type: "string", default: "validation" },
  },
});
if (a.dir === undefined) throw new Error("--dir is required (calibrate.sh's per-model folder)");
const dir = a.dir;

const bench = (name: string) => join(dir, name, `${name}.json`);
const metricsOf = (name: string): Metrics | null =>
  existsSync(bench(name)) ? (JSON.parse(readFileSync(bench(name), "utf8")) as { metrics: Metrics }).metrics : null;
const recordsOf = (name: string) => readRecords(join(dir, name, `${name}.records.jsonl`));

const world = JSON.parse(readFileSync(join(a.world, "world-config.json"), "utf8")) as WorldConfig;
const scenes = readFileSync(join(a.world, `${a.split}.jsonl`), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as { id: string; kind: string; objects?: string[]; priorBreaking?: boolean })
  .filter((r) => r.kind === "scene");
const objectsByImage = new Map(scenes.map((r) => [r.id, r.objects ?? []]));
const priorBreaking = new Set(scenes.filter((r) => r.priorBreaking === true).map((r) => r.id));

const r3 = (x: unknown) => (typeof x === "number" ? Math.round(x * 1000) / 1000 : null);
const random = metricsOf("pope-random");
const adversarial = metricsOf("pope-adversarial");
const chair = metricsOf("chair");
const out: Record<string, unknown> = { model: a.model ?? dir };
if (random && adversarial) {
  Object.assign(out, {
    popeRandomAccuracy: r3(random.accuracy),
    popeAdversarialAccuracy: r3(adversarial.accuracy),
    popeAccuracyGap: r3((random.accuracy as number) - (adversarial.accuracy as number)),
    popeRandomF1: r3(random.f1),
    popeAdversarialF1: r3(adversarial.f1),
    yesRatioRandom: r3(random.yes_ratio),
    yesRatioAdversarial: r3(adversarial.yes_ratio),
    adversarialFalseYesPartnerShare: r3(
      popeFalseYesPriorShare(recordsOf("pope-adversarial"), objectsByImage, world.priors.pairs).share,
    ),
    randomFalseYesPartnerShare: r3(
      popeFalseYesPriorShare(recordsOf("pope-random"), objectsByImage, world.priors.pairs).share,
    ),
  });
}
if (chair) {
  const records = recordsOf("chair");
  Object.assign(out, {
    chairI: r3(chair.chair_i),
    chairS: r3(chair.chair_s),
    coverage: r3(chair.coverage),
    meanLength: r3(chair.mean_length),
    truncatedShare: r3(chair.truncated_share),
    priorBreakingPartnerShare: r3(chairHallucinationPriorShare(records, priorBreaking, world.priors.pairs).share),
  });
}
const capabilities = metricsOf("capabilities");
if (capabilities) out.capabilities = r3(capabilities.accuracy);
const species = metricsOf("species");
if (species) {
  for (const [k, v] of Object.entries(species)) if (typeof v === "number") out[`species_${k}`] = r3(v);
}
console.log(JSON.stringify(out));
