// Rounds of several runs (seeds) compared with a baseline round, bench by bench and metric by
// metric, from their per-item records alone: the mean over runs and its sample SD, the mean
// difference to the baseline with a paired bootstrap interval (paired-bootstrap.ts), a verdict,
// and with a ceiling run the share of the baseline-to-ceiling gap a round closes.
//
// What `selfsynth compare` prints and what a run's report.json carries (src/run/compare-runs.ts
// reads the folders); this module reads no file.
import { countMatrix, type DiffInterval, pairedBootstrap } from "./paired-bootstrap.js";
import { type AnyBenchSpec, type Counts, type EvalRecord, sumCounts } from "./types.js";

/** The baseline round unless told otherwise: the starting model's round of a run. */
export const DEFAULT_BASELINE = "base";

/** What one run evaluated: its rounds in order, each with every bench's records. */
export interface RunEvaluation {
  /** Names the run in errors (its folder). */
  name: string;
  rounds: { name: string; benches: Record<string, readonly EvalRecord[]> }[];
}

/**
 * better / worse: the interval excludes zero on the side the metric's direction calls so;
 * changed: it excludes zero for a metric without a direction (yes_ratio, lengths); no detectable
 * difference: it contains zero; baseline: the baseline round's own row.
 */
export type Verdict = "better" | "worse" | "changed" | "no detectable difference" | "baseline";

export interface ComparisonRow {
  round: string;
  bench: string;
  metric: string;
  /** Mean over runs of the metric on all items. */
  mean: number;
  /** Sample SD over runs; null with one run. */
  sd: number | null;
  /** Mean over runs of (round − baseline); null on the baseline's rows. */
  diff: number | null;
  ci: [number, number] | null;
  verdict: Verdict;
  /** (mean − baseline mean) / (ceiling − baseline mean); null without a direction or a gap. */
  gapClosed?: number | null;
}

export interface Comparison {
  baseline: string;
  rows: ComparisonRow[];
}

export interface CompareOptions {
  runs: readonly RunEvaluation[];
  baseline?: string;
  /** The spec of a bench named in the records (its itemCounts, fromCounts and metricInfo). */
  bench(name: string): AnyBenchSpec;
  /** Its last round is the ceiling. */
  ceiling?: RunEvaluation;
  resamples?: number;
  seed?: number;
}

export class ComparisonError extends Error {
  override name = "ComparisonError";
}

export function verdictOf(ci: readonly [number, number], higherIsBetter: boolean | null): Verdict {
  const up = ci[0] > 0;
  if (!up && !(ci[1] < 0)) return "no detectable difference";
  if (higherIsBetter === null) return "changed";
  return up === higherIsBetter ? "better" : "worse";
}

/** Mean and sample SD (n − 1); SD null for one value. */
export function meanAndSd(values: readonly number[]): { mean: number; sd: number | null } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length < 2) return { mean, sd: null };
  return { mean, sd: Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1)) };
}

export function compareRounds(options: CompareOptions): Comparison {
  const { runs } = options;
  const baseline = options.baseline ?? DEFAULT_BASELINE;
  if (runs.length === 0) throw new ComparisonError("compare: no runs");
  const rounds = checkRounds(runs, baseline);
  const first = runs[0].rounds.find((r) => r.name === baseline)!;
  const rows = Object.keys(first.benches).flatMap((bench) => {
    const ids = itemIds(first.benches[bench], `${runs[0].name}: round '${baseline}', bench '${bench}'`);
    return benchRows(options, bench, rounds, baseline, ids);
  });
  return { baseline, rows };
}

/** The rows of one bench: every metric, every round, items in the order of `ids`. */
function benchRows(
  options: CompareOptions,
  bench: string,
  rounds: readonly string[],
  baseline: string,
  ids: readonly string[],
): ComparisonRow[] {
  const spec = options.bench(bench);
  const against = `${options.runs[0].name}'s round '${baseline}'`;
  // counts[run][round][item]
  const counts = options.runs.map((run) =>
    rounds.map((round) => aligned(run, round, bench, ids, against).map((r) => spec.itemCounts(r))),
  );
  const names = Object.keys(counts[0][0][0]);
  const metricsOf = (items: readonly Counts[]) => spec.fromCounts(sumCounts(items));
  const values = counts.map((byRound) => byRound.map(metricsOf)); // [run][round][metric]
  const b = rounds.indexOf(baseline);
  const intervals = rounds.map((round, j): Record<string, DiffInterval> | null =>
    round === baseline
      ? null
      : pairedBootstrap({
          runs: counts.map((byRound) => ({
            baseline: countMatrix(byRound[b], names),
            treated: countMatrix(byRound[j], names),
          })),
          statistic: spec.fromCounts,
          resamples: options.resamples,
          seed: options.seed,
        }),
  );
  const ceiling =
    options.ceiling === undefined ? undefined : ceilingMetrics(options.ceiling, bench, ids, against, spec, metricsOf);
  const rows: ComparisonRow[] = [];
  for (const metric of Object.keys(values[0][0])) {
    const higherIsBetter = spec.metricInfo[metric]?.higherIsBetter ?? null;
    const baseMean = meanAndSd(values.map((v) => v[b][metric])).mean;
    rounds.forEach((round, j) => {
      const interval = intervals[j]?.[metric];
      const row: ComparisonRow = {
        round,
        bench,
        metric,
        ...meanAndSd(values.map((v) => v[j][metric])),
        diff: interval?.diff ?? null,
        ci: interval?.ci ?? null,
        verdict: interval === undefined ? "baseline" : verdictOf(interval.ci, higherIsBetter),
      };
      if (ceiling !== undefined) {
        const gap = ceiling[metric] - baseMean;
        row.gapClosed = higherIsBetter === null || gap === 0 || round === baseline ? null : (row.mean - baseMean) / gap;
      }
      rows.push(row);
    });
  }
  return rows;
}

/** The first run's round names, after checking that every run has the baseline and the same rounds. */
function checkRounds(runs: readonly RunEvaluation[], baseline: string): string[] {
  const names = (run: RunEvaluation) => run.rounds.map((r) => r.name);
  const reference = names(runs[0]);
  for (const run of runs) {
    const own = names(run);
    if (!own.includes(baseline)) {
      throw new ComparisonError(
        `${run.name}: no round '${baseline}' to compare with (rounds: ${own.join(", ") || "none"}); choose one with --baseline`,
      );
    }
    const missing = reference.filter((r) => !own.includes(r));
    const extra = own.filter((r) => !reference.includes(r));
    if (missing.length > 0 || extra.length > 0) {
      const what = missing.length > 0 ? `lacks round(s) ${missing.join(", ")}` : `has round(s) ${extra.join(", ")}`;
      throw new ComparisonError(
        `${run.name}: ${what} that ${runs[0].name} ${missing.length > 0 ? "has" : "lacks"}; compare runs of the same recipe, each finished (or resumed to the same round)`,
      );
    }
  }
  return reference;
}

/** Item ids in order; a repeated id is an error (records are paired by id). */
function itemIds(records: readonly EvalRecord[], where: string): string[] {
  const ids = records.map((r) => r.item_id);
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) throw new ComparisonError(`${where}: item '${id}' appears twice`);
    seen.add(id);
  }
  if (ids.length === 0) throw new ComparisonError(`${where}: no records`);
  return ids;
}

/** A round's records of a bench in the order of `ids`; other items, or missing ones, are an error. */
function aligned(
  run: RunEvaluation,
  roundName: string,
  bench: string,
  ids: readonly string[],
  against: string,
): EvalRecord[] {
  const round = run.rounds.find((r) => r.name === roundName)!;
  const where = `${run.name}: round '${roundName}', bench '${bench}'`;
  const records = round.benches[bench];
  if (records === undefined) {
    throw new ComparisonError(
      `${where}: no records (benches here: ${Object.keys(round.benches).join(", ") || "none"})`,
    );
  }
  const byId = new Map(itemIds(records, where).map((id, i) => [id, records[i]]));
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length > 0 || byId.size !== ids.length) {
    throw new ComparisonError(
      `${where}: evaluated on other items than ${against} (${byId.size} items against ${ids.length}${missing.length > 0 ? `; '${missing[0]}' missing` : ""}); compare runs evaluated on the same split with the same limit`,
    );
  }
  return ids.map((id) => byId.get(id)!);
}

/** The ceiling run's last round on a bench, on the same items. */
function ceilingMetrics(
  ceiling: RunEvaluation,
  bench: string,
  ids: readonly string[],
  against: string,
  spec: AnyBenchSpec,
  metricsOf: (items: readonly Counts[]) => Record<string, number>,
): Record<string, number> {
  const last = ceiling.rounds.at(-1);
  if (last === undefined) throw new ComparisonError(`${ceiling.name} (the ceiling): no rounds evaluated`);
  const records = aligned({ ...ceiling, name: `${ceiling.name} (the ceiling)` }, last.name, bench, ids, against);
  return metricsOf(records.map((r) => spec.itemCounts(r)));
}
