// Run folders read for the comparison of rounds (src/eval/comparison.ts): report.json names the
// rounds, in order, and the benches each evaluated; the numbers come from each bench's per-item
// records, `eval/<round>/<bench>.records.jsonl`, recomputed by the bench's own aggregate. Used by
// `selfsynth compare` and by the runner, whose report.json carries the same comparison of its
// rounds with its base round.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { isBenchName, makeBench } from "../eval/benches.js";
import { type Comparison, ComparisonError, compareRounds, type RunEvaluation } from "../eval/comparison.js";
import { joinRunsBySeed, type LabelledRun } from "../eval/joined-runs.js";
import { readRecords } from "../eval/records.js";
import type { AnyBenchSpec } from "../eval/types.js";
import { worldVocabulary } from "../eval/world-benches.js";

/** What compare reads of report.json: round names and the benches of each (metrics are recomputed). */
const ReportRoundsSchema = z.object({
  rounds: z.array(z.object({ name: z.string().min(1), metrics: z.record(z.string(), z.unknown()) })),
});
export type ReportRounds = z.infer<typeof ReportRoundsSchema>;

/** A run folder's JSON file read through `schema`; missing, invalid or other-shaped is an error naming it. */
function readRunFile<T>(runDir: string, file: string, schema: z.ZodType<T>, what: string, whyMissing: string): T {
  const path = join(runDir, file);
  if (!existsSync(path)) throw new ComparisonError(`${runDir}: no ${file} (${whyMissing})`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new ComparisonError(`${path}: not valid JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ComparisonError(`${path}: not ${what}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** A run folder's report.json; a missing or malformed one is an error naming the folder. */
export function readReportRounds(runDir: string): ReportRounds {
  return readRunFile(
    runDir,
    "report.json",
    ReportRoundsSchema,
    "a run report",
    "not a run folder, or its base round was never evaluated",
  );
}

/** Every round's per-item records of every bench its report names. */
export function readRunEvaluation(runDir: string, report: ReportRounds = readReportRounds(runDir)): RunEvaluation {
  return {
    name: runDir,
    rounds: report.rounds.map((round) => ({
      name: round.name,
      benches: Object.fromEntries(
        Object.keys(round.metrics).map((bench) => {
          const path = join(runDir, "eval", round.name, `${bench}.records.jsonl`);
          if (!existsSync(path)) {
            throw new ComparisonError(
              `${runDir}: round '${round.name}' reports bench '${bench}' but its per-item records ${path} are missing`,
            );
          }
          return [bench, readRecords(path)];
        }),
      ),
    })),
  };
}

/** The spec of a named world bench (its aggregate needs no vocabulary, but the factory asks for one). */
export function worldBenchSpec(name: string): AnyBenchSpec {
  if (!isBenchName(name)) throw new ComparisonError(`compare: the records name bench '${name}', which is not known`);
  return makeBench(name, worldVocabulary());
}

export interface CompareRunsOptions {
  /** The round every other round is compared with (default "base"). */
  baseline?: string;
  /** A run folder whose last round is the ceiling (the share of the gap closed). */
  ceiling?: string;
  resamples?: number;
  seed?: number;
  /** The specs of the benches (default: the world's, by name). */
  bench?: (name: string) => AnyBenchSpec;
  /**
   * Runs of several recipes or profiles: join each seed's runs (src/eval/joined-runs.ts), rounds
   * named `<recipe>[-<profile>]:<round>` beside the shared base.
   */
  join?: boolean;
}

/** `selfsynth compare`: the rounds of these run folders against their baseline round. */
export function compareRunDirs(runDirs: readonly string[], options: CompareRunsOptions = {}): Comparison {
  const twice = runDirs.find((dir, i) => runDirs.slice(0, i).some((d) => resolve(d) === resolve(dir)));
  if (twice !== undefined) throw new ComparisonError(`compare: run ${twice} is given twice (each run is one seed)`);
  const evaluations = runDirs.map((dir) => readRunEvaluation(dir));
  return compareRounds({
    runs:
      options.join === true ? joinRunsBySeed(runDirs.map((dir, i) => labelledRun(dir, evaluations[i]))) : evaluations,
    baseline: options.baseline,
    ceiling: options.ceiling === undefined ? undefined : readRunEvaluation(options.ceiling),
    bench: options.bench ?? worldBenchSpec,
    resamples: options.resamples,
    seed: options.seed,
  });
}

/** What --join reads of config.resolved.json: the recipe's name, the profile and the seed. */
const ResolvedIdentitySchema = z.object({
  name: z.string().min(1),
  profile: z.string().min(1).nullish(),
  seed: z.number().int(),
});

/** A run with its label (`<recipe>[-<profile>]`, its folder's default name without the seed) and seed. */
export function labelledRun(runDir: string, evaluation: RunEvaluation): LabelledRun {
  const identity = readRunFile(
    runDir,
    "config.resolved.json",
    ResolvedIdentitySchema,
    "a resolved recipe",
    "not a run folder",
  );
  const { name, profile, seed } = identity;
  return { label: profile == null ? name : `${name}-${profile}`, seed, evaluation };
}

/**
 * A run's rounds against its own base round, as report.json carries them: `selfsynth compare
 * <run>` with the default resamples and seed gives the same rows.
 */
export function compareWithBase(
  runDir: string,
  report: ReportRounds,
  bench: (name: string) => AnyBenchSpec,
): Comparison {
  return compareRounds({ runs: [readRunEvaluation(runDir, report)], bench });
}
