// Runs of different recipes or profiles compared round by round. compareRounds
// (comparison.ts) pairs the rounds of one run; a method against its ablation (STIC against STIC
// without negatives, COMPACT's arms, BPO against SFT on its positives) is a run each. Joining the
// runs of one seed into one evaluation whose rounds are the shared `base` and every other round
// named `<label>:<round>` lets compareRounds pair any round with any other, items paired within a
// seed and the bootstrap pooled over seeds, as for one recipe's rounds.
//
// The join is sound only when the runs of a seed start from the same model: their base rounds
// must agree item by item (the same items, the same answers), else the join is refused.
import { ComparisonError, type RunEvaluation } from "./comparison.js";
import type { EvalRecord } from "./types.js";

/** One run to join: its label (e.g. `stic-paper`), its seed, its rounds. */
export interface LabelledRun {
  label: string;
  seed: number;
  evaluation: RunEvaluation;
}

/** The separator of a joined round's name, `<label>:<round>`. */
export const JOINED_ROUND_SEPARATOR = ":";

/**
 * One evaluation per seed, in seed order: `base` (the shared starting model), then for each label
 * in the order labels first appear in `runs`, that run's other rounds as `<label>:<round>`. Every
 * seed must have the same labels, each once.
 */
export function joinRunsBySeed(runs: readonly LabelledRun[], base = "base"): RunEvaluation[] {
  if (runs.length === 0) throw new ComparisonError("compare --join: no runs");
  const labels = [...new Set(runs.map((r) => r.label))];
  const seeds = new Map<number, Map<string, LabelledRun>>();
  for (const run of runs) {
    const bySeed = seeds.get(run.seed) ?? new Map<string, LabelledRun>();
    const twice = bySeed.get(run.label);
    if (twice !== undefined) {
      throw new ComparisonError(
        `compare --join: ${twice.evaluation.name} and ${run.evaluation.name} are both '${run.label}' at seed ${run.seed}; join one run per recipe, profile and seed`,
      );
    }
    bySeed.set(run.label, run);
    seeds.set(run.seed, bySeed);
  }
  return [...seeds.entries()]
    .sort(([a], [b]) => a - b)
    .map(([seed, bySeed]) => {
      const missing = labels.filter((l) => !bySeed.has(l));
      if (missing.length > 0) {
        throw new ComparisonError(
          `compare --join: seed ${seed} has no run of ${missing.join(", ")} (every seed needs a run of each of ${labels.join(", ")})`,
        );
      }
      const members = labels.map((l) => bySeed.get(l)!);
      const baseRound = sharedBase(members, base);
      return {
        name: `seed ${seed} (${members.map((m) => m.evaluation.name).join(", ")})`,
        rounds: [
          baseRound,
          ...members.flatMap((m) =>
            m.evaluation.rounds
              .filter((r) => r.name !== base)
              .map((r) => ({ ...r, name: `${m.label}${JOINED_ROUND_SEPARATOR}${r.name}` })),
          ),
        ],
      };
    });
}

/** The base round of the first run, after checking every run's base agrees with it. */
function sharedBase(members: readonly LabelledRun[], base: string): RunEvaluation["rounds"][number] {
  const roundOf = (m: LabelledRun) => {
    const round = m.evaluation.rounds.find((r) => r.name === base);
    if (round === undefined) {
      const have = m.evaluation.rounds.map((r) => r.name).join(", ") || "none";
      throw new ComparisonError(`${m.evaluation.name}: no round '${base}' to join on (rounds: ${have})`);
    }
    return round;
  };
  const first = roundOf(members[0]);
  for (const other of members.slice(1)) {
    const round = roundOf(other);
    for (const [bench, records] of Object.entries(first.benches)) {
      const difference = firstDifference(records, round.benches[bench]);
      if (difference !== undefined) {
        throw new ComparisonError(
          `compare --join: ${members[0].evaluation.name} and ${other.evaluation.name} have different '${base}' rounds (bench ${bench}: ${difference}); join runs that start from the same model, evaluated on the same items`,
        );
      }
    }
  }
  return { ...first, name: base };
}

/** Where two base rounds' records of a bench part: a missing bench, other items or another answer. */
function firstDifference(a: readonly EvalRecord[], b: readonly EvalRecord[] | undefined): string | undefined {
  if (b === undefined) return "missing in the second run";
  if (a.length !== b.length) return `${a.length} items against ${b.length}`;
  const byId = new Map(b.map((r) => [r.item_id, r]));
  for (const record of a) {
    const other = byId.get(record.item_id);
    if (other === undefined) return `item '${record.item_id}' missing in the second run`;
    if (other.raw_answer !== record.raw_answer) return `item '${record.item_id}' answered differently`;
  }
  return undefined;
}
