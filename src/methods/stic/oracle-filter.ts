// STIC's diagnostic `oracleFilter` (stages.ts). Not a method: it reads the world's ground truth.
import { chosenHallucinatesLess, PairScorer, readPoolTruth } from "../../eval/pair-hallucination.js";
import { worldVocabulary } from "../../eval/world-benches.js";
import type { WorldConfig } from "../../world/config.js";
import { writeFiltered } from "../common/filter.js";

/**
 * The diagnostic `oracleFilter`: the pairs whose chosen side names fewer absent objects than the
 * rejected one, by the pool's scene graphs, written whole and atomically to `out`. It asks
 * whether DPO would cut hallucination if the pairs carried that signal; it reads ground truth,
 * so it is an upper bound on the data, not a method.
 */
export function writeOracleFiltered(
  recordsPath: string,
  out: string,
  root: string,
  world: { dir: string; config: WorldConfig },
): { pairs: number; kept: number; dropped: Record<string, number> } {
  const truth = readPoolTruth(world.dir);
  const scorer = new PairScorer(worldVocabulary().objects, world.config.priors.pairs);
  const { records, ...rest } = writeFiltered({
    name: "oracleFilter",
    kind: "preference",
    recordsPath,
    root,
    out,
    reasons: ["no-object-truth", "chosen-not-better"],
    judge: (pairs) =>
      pairs.map((r) => {
        const objects = truth.get(r.provenance.source ?? r.id);
        if (objects === undefined) return "no-object-truth";
        return chosenHallucinatesLess(scorer.pair(r.chosen, r.rejected, objects)) ? null : "chosen-not-better";
      }),
    noneKept: "has a chosen side that hallucinates less",
  });
  return { pairs: records, ...rest };
}
