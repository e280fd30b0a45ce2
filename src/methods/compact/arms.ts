// The arms of COMPACT's data-budget comparison against each other (issue 19: the four arms, 3
// seeds, paired intervals). Each arm is a run of recipes/compact.yaml under its profile, and
// `selfsynth compare` pairs the rounds of one run, so here each seed's arm runs are joined into
// one evaluation whose rounds are the arms (plus the shared `base`, the starting model): then
// compareRounds (src/eval/comparison.ts) gives every arm against a baseline arm, per bench metric,
// with the paired bootstrap over items pooled over seeds. scripts/compact-arms.ts reads the run
// folders and prints the table.
import type { RunEvaluation } from "../../eval/comparison.js";

/** The arms in the order a table shows them; an arm not listed comes after, by name. */
export const ARM_ORDER = ["compact", "k1-only", "random-subset", "full-budget"] as const;

/** The arm of a compact-sft stage config: `compact`, `k<k>-only`, `random-subset`, `full-budget`. */
export function armOf(stage: { data: string; k: number | string }): string {
  if (stage.data !== "compact") return stage.data;
  return stage.k === "per-question" ? "compact" : `k${stage.k}-only`;
}

/** One finished run of one arm. */
export interface ArmRun {
  arm: string;
  /** The run's seed: runs of one seed are joined. */
  seed: number;
  /** The round of the arm's stage in the run's report (the stage's name). */
  round: string;
  evaluation: RunEvaluation;
}

const rank = (arm: string) => {
  const i = (ARM_ORDER as readonly string[]).indexOf(arm);
  return i < 0 ? ARM_ORDER.length : i;
};
const byArm = (a: string, b: string) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);

/**
 * One evaluation per seed (in seed order) whose rounds are `base`, from the seed's first arm (in
 * ARM_ORDER), then each arm's round named by the arm. Every seed must have the same arms, each
 * once; an arm run without its round is an error naming the run.
 */
export function joinArms(runs: readonly ArmRun[]): RunEvaluation[] {
  if (runs.length === 0) throw new Error("compact arms: no runs");
  const seeds = new Map<number, Map<string, ArmRun>>();
  for (const run of runs) {
    const arms = seeds.get(run.seed) ?? new Map<string, ArmRun>();
    const twice = arms.get(run.arm);
    if (twice !== undefined)
      throw new Error(
        `compact arms: ${twice.evaluation.name} and ${run.evaluation.name} are both arm ${run.arm}, seed ${run.seed}`,
      );
    arms.set(run.arm, run);
    seeds.set(run.seed, arms);
  }
  const armNames = (m: Map<string, ArmRun>) => [...m.keys()].sort(byArm);
  const [first] = [...seeds.values()];
  const want = armNames(first);
  return [...seeds.entries()]
    .sort(([a], [b]) => a - b)
    .map(([seed, arms]) => {
      const have = armNames(arms);
      if (have.join() !== want.join())
        throw new Error(`compact arms: seed ${seed} has arms ${have.join(", ")}; other seeds have ${want.join(", ")}`);
      const roundOf = (run: ArmRun, name: string) => {
        const round = run.evaluation.rounds.find((r) => r.name === name);
        if (round === undefined)
          throw new Error(
            `compact arms: ${run.evaluation.name} has no round '${name}' (rounds: ${run.evaluation.rounds.map((r) => r.name).join(", ") || "none"})`,
          );
        return round;
      };
      const runs = have.map((arm) => arms.get(arm)!);
      return {
        name: `seed ${seed} (${runs.map((r) => r.evaluation.name).join(", ")})`,
        rounds: [
          { ...roundOf(runs[0], "base"), name: "base" },
          ...runs.map((run) => ({ ...roundOf(run, run.round), name: run.arm })),
        ],
      };
    });
}
