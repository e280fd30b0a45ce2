// STIC's diagnostic `oracleFilter` (stages.ts). Not a method: it reads the world's ground truth.
import { readRecords } from "../../data/dataset.js";
import { chosenHallucinatesLess, PairScorer, readPoolTruth } from "../../eval/pair-hallucination.js";
import { worldVocabulary } from "../../eval/world-benches.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import type { WorldConfig } from "../../world/config.js";

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
  const records = readRecords(recordsPath, "preference", { root });
  const dropped = { "no-object-truth": 0, "chosen-not-better": 0 };
  const kept = records.filter((r) => {
    const objects = truth.get(r.provenance.source ?? r.id);
    if (objects === undefined) {
      dropped["no-object-truth"]++;
      return false;
    }
    const better = chosenHallucinatesLess(scorer.pair(r.chosen, r.rejected, objects));
    if (!better) dropped["chosen-not-better"]++;
    return better;
  });
  if (kept.length === 0)
    throw new Error(
      `oracleFilter: none of the ${records.length} pairs of ${recordsPath} has a chosen side that hallucinates less`,
    );
  writeFileAtomic(out, kept.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return { pairs: records.length, kept: kept.length, dropped };
}
