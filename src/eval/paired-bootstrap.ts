// A paired bootstrap of the difference a round makes to a bench's metrics (Efron & Tibshirani,
// "An Introduction to the Bootstrap", 1993: resampling, ch. 6; percentile intervals, ch. 13).
//
// The unit resampled is the ITEM: the benchmark's questions are a sample of what the model could
// be asked, and that sampling is the uncertainty a reported difference carries. Each resample
// draws n of the n items with replacement; an item drawn k times counts k times in every run and
// in both rounds, so each item of run r stays paired with the same item of run r's baseline and
// the differences between items cancel out of the difference. Seeds are pooled: every resample
// uses every run, and its statistic is the mean over runs of (metric of the round − metric of the
// baseline), the same mean the point difference is.
//
// A metric is recomputed on each resample from the resampled items' summed counts by the bench's
// own aggregate (`fromCounts`, src/eval/types.ts): CHAIR_i is hallucinated / mentions of the
// drawn descriptions, never a mean of per-description ratios.
import { mulberry32 } from "../util/prng.js";
import type { Counts } from "./types.js";

/** Resamples per interval (the choice: enough that a 2.5% tail holds 50 resamples). */
export const BOOTSTRAP_RESAMPLES = 2000;
/** The default seed: a comparison run twice gives the same intervals. */
export const BOOTSTRAP_SEED = 0;
/** Two-sided coverage of the percentile interval. */
export const INTERVAL_LEVEL = 0.95;

/** Per-item counts of one round of one run: row i is item i, the same item in every matrix paired with it. */
export interface CountMatrix {
  names: readonly string[];
  items: number;
  /** (items, names.length), row-major. */
  values: Float64Array;
}

/** The rows' counts as a matrix; `names` (default: the first row's) fixes the column order. */
export function countMatrix(rows: readonly Readonly<Counts>[], names?: readonly string[]): CountMatrix {
  const columns = names ?? Object.keys(rows[0] ?? {});
  const values = new Float64Array(rows.length * columns.length);
  rows.forEach((row, i) => {
    columns.forEach((name, k) => {
      values[i * columns.length + k] = row[name] ?? 0;
    });
  });
  return { names: columns, items: rows.length, values };
}

/** One run's baseline and treated round, items aligned row by row. */
export interface PairedRun {
  baseline: CountMatrix;
  treated: CountMatrix;
}

export interface DiffInterval {
  /** Mean over runs of (metric of the round − metric of the baseline) on all items. */
  diff: number;
  /** The percentile interval of that difference over the resamples. */
  ci: [number, number];
}

export interface PairedBootstrapOptions {
  runs: readonly PairedRun[];
  /** The bench's aggregate: its metrics from counts summed over items. */
  statistic(totals: Readonly<Counts>): Record<string, number>;
  resamples?: number;
  seed?: number;
}

/** The difference of every metric `statistic` returns, with its paired bootstrap interval. */
export function pairedBootstrap(options: PairedBootstrapOptions): Record<string, DiffInterval> {
  const { runs, statistic } = options;
  const resamples = options.resamples ?? BOOTSTRAP_RESAMPLES;
  const seed = options.seed ?? BOOTSTRAP_SEED;
  if (runs.length === 0) throw new Error("pairedBootstrap: no runs");
  if (!Number.isInteger(resamples) || resamples < 1) throw new Error(`pairedBootstrap: resamples ${resamples}`);
  const n = runs[0].baseline.items;
  const names = runs[0].baseline.names;
  for (const [r, run] of runs.entries()) {
    for (const m of [run.baseline, run.treated]) {
      if (m.items !== n) throw new Error(`pairedBootstrap: run ${r} has ${m.items} items, run 0 has ${n}`);
      if (m.names.join() !== names.join()) throw new Error(`pairedBootstrap: run ${r}'s counts are not run 0's`);
    }
  }
  if (n === 0) throw new Error("pairedBootstrap: no items");

  // Every matrix side by side, one row per item: [run 0 treated | run 0 baseline | run 1 treated
  // | ...], so that a drawn item adds one contiguous row to the column sums.
  const k = names.length;
  const width = 2 * runs.length * k;
  const table = new Float64Array(n * width);
  runs.forEach((run, r) => {
    [run.treated, run.baseline].forEach((m, side) => {
      const offset = (2 * r + side) * k;
      for (let i = 0; i < n; i++) table.set(m.values.subarray(i * k, (i + 1) * k), i * width + offset);
    });
  });
  const sums = new Float64Array(width);
  const named = (offset: number): Counts => Object.fromEntries(names.map((name, c) => [name, sums[offset + c]]));
  // The mean over runs of each metric's difference, from the column sums of the items drawn.
  const meanDiff = (): Record<string, number> => {
    const total: Record<string, number> = {};
    runs.forEach((_, r) => {
      const treated = statistic(named(2 * r * k));
      const baseline = statistic(named((2 * r + 1) * k));
      for (const [metric, value] of Object.entries(treated)) {
        total[metric] = (total[metric] ?? 0) + value - baseline[metric];
      }
    });
    return Object.fromEntries(Object.entries(total).map(([metric, t]) => [metric, t / runs.length]));
  };

  for (let i = 0; i < n; i++) for (let c = 0; c < width; c++) sums[c] += table[i * width + c];
  const point = meanDiff();
  const samples = Object.fromEntries(Object.keys(point).map((metric) => [metric, new Float64Array(resamples)]));
  const rand = mulberry32(seed);
  for (let b = 0; b < resamples; b++) {
    // n draws of an item with replacement; an item drawn twice adds its row twice.
    sums.fill(0);
    for (let j = 0; j < n; j++) {
      const row = Math.floor(rand() * n) * width;
      for (let c = 0; c < width; c++) sums[c] += table[row + c];
    }
    for (const [metric, value] of Object.entries(meanDiff())) samples[metric][b] = value;
  }
  const tail = (1 - INTERVAL_LEVEL) / 2;
  return Object.fromEntries(
    Object.entries(point).map(([metric, diff]) => {
      const sorted = samples[metric].sort();
      return [metric, { diff, ci: [quantile(sorted, tail), quantile(sorted, 1 - tail)] }];
    }),
  );
}

/** The p-quantile of sorted values, linear between order statistics (numpy's default, type 7). */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}
