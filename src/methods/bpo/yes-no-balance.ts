// BPO's `balanceYesNo` (not in the paper): equal numbers of "yes over no" and "no over yes" pairs
// per negative generator.
//
// Why: the embedded model's error injection answers a short question with the image withheld,
// and without an image its prior answers an existence question "no" far more often than "yes".
// A negative equal to its positive is dropped (`identical`), so a true "no" rarely gets a
// negative while a true "yes" gets "no": on the validation run of seed 0, 317 pairs preferred
// "yes" to "no" and 47 "no" to "yes", and DPO on them raised POPE's yes-ratio by 0.08. The paper's
// text-only rewrite of a yes/no answer flips it either way, so its pairs carry no such lean; the
// filter restores that by keeping, per generator, as many pairs of the majority direction as the
// minority has (a seeded subset), and every pair that is not a yes/no flip.
import { requestSeed } from "../../backends/seeds.js";
import { wordTokens } from "../../eval/text.js";
import { seededSubset } from "../../util/prng.js";
import { writeFiltered } from "../common/filter.js";

export type YesNo = "yes" | "no";

/** "yes" or "no" when the answer's first word is one of them ("Yes.", "no, there is not"), else null. */
export function yesNoOf(answer: string): YesNo | null {
  const first = wordTokens(answer)[0];
  return first === "yes" || first === "no" ? first : null;
}

/** What the filter needs of a pair: its sides and the generator of its negative. */
export interface BalancePair {
  chosen: string;
  rejected: string;
  /** The negative's generator (from `negative:<generator>:...` in provenance). */
  generator: string;
}

export const YES_NO_REASON = "yes-no-imbalance";

/**
 * Per pair, in order: null keeps it, `yes-no-imbalance` drops it. Per generator, the pairs whose
 * sides are opposite yes/no answers are split by the chosen side's answer; the larger group keeps
 * a seeded subset as large as the smaller one (seeded per generator, so one generator's draw does
 * not depend on the other's).
 */
export function balanceVerdicts(pairs: readonly BalancePair[], seed: number): (typeof YES_NO_REASON | null)[] {
  const groups = new Map<string, { yes: number[]; no: number[] }>();
  pairs.forEach((p, i) => {
    const chosen = yesNoOf(p.chosen);
    const rejected = yesNoOf(p.rejected);
    if (chosen === null || rejected === null || chosen === rejected) return;
    const group = groups.get(p.generator) ?? { yes: [], no: [] };
    group[chosen].push(i);
    groups.set(p.generator, group);
  });
  const verdicts: (typeof YES_NO_REASON | null)[] = pairs.map(() => null);
  for (const [generator, { yes, no }] of groups) {
    const [major, minor] = yes.length >= no.length ? [yes, no] : [no, yes];
    const kept = new Set(seededSubset(major, minor.length, requestSeed(seed, `bpo-yes-no-balance:${generator}`)));
    for (const i of major) if (!kept.has(i)) verdicts[i] = YES_NO_REASON;
  }
  return verdicts;
}

/** The generator of a BPO pair's negative, from its provenance reasons. */
export function generatorOf(reasons: readonly string[] | undefined): string {
  const tag = reasons?.find((r) => r.startsWith("negative:"));
  return tag === undefined ? "unknown" : tag.split(":")[1];
}

/** Writes the balanced pairs of `recordsPath` to `out` (whole, atomically); counts by direction. */
export function writeYesNoBalanced(recordsPath: string, out: string, root: string, seed: number) {
  return writeFiltered({
    name: "balanceYesNo",
    kind: "preference",
    recordsPath,
    root,
    out,
    reasons: [YES_NO_REASON],
    judge: (records) =>
      balanceVerdicts(
        records.map((r) => ({ chosen: r.chosen, rejected: r.rejected, generator: generatorOf(r.provenance.reasons) })),
        seed,
      ),
    noneKept: "survives the yes/no balance",
  });
}
