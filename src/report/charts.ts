// The report's charts as Vega-Lite specs (https://vega.github.io/vega-lite/), built from the run
// folders' numbers; the page renders them with vega-embed. Data is long-form ({run, round,
// metric, value}) so that one spec draws any number of metrics and runs: several runs (seeds) of
// a recipe become one band, the range over runs, around the line of their mean.
import type { MetricsRecord } from "../train/metrics.js";
import type { RunFolder } from "./run-folder.js";

export type VegaLiteSpec = Record<string, unknown>;

/** Training metrics plotted per stage, when a stage logs them (DPO's rewards; SFT logs loss only). */
export const TRAINING_METRICS = ["loss", "rewards/margins", "rewards/accuracies"] as const;

/** The CHAIR metrics the hallucination chart reads; a bench reporting all three is a description bench. */
const DESCRIPTION_METRICS = ["chair_i", "coverage", "mean_length"] as const;

const runLabel = (run: RunFolder, i: number, all: readonly RunFolder[]) =>
  all.length === 1 ? "run" : `${run.config.name} seed ${run.config.seed} (${i + 1})`;

/** Round names in the order of the first run that has each. */
export function roundOrder(runs: readonly RunFolder[]): string[] {
  const order: string[] = [];
  for (const run of runs) for (const r of run.rounds) if (!order.includes(r.name)) order.push(r.name);
  return order;
}

/** Benches in the order the rounds report them. */
export function benchOrder(runs: readonly RunFolder[]): string[] {
  const order: string[] = [];
  for (const run of runs)
    for (const r of run.rounds) for (const b of Object.keys(r.metrics)) if (!order.includes(b)) order.push(b);
  return order;
}

/** Every top-level numeric metric of `bench` across rounds: the mean over runs, the range as a band. */
export function metricsAcrossRounds(runs: readonly RunFolder[], bench: string): VegaLiteSpec {
  const rounds = roundOrder(runs);
  const values = runs.flatMap((run, i) =>
    run.rounds.flatMap((round) =>
      Object.entries(round.metrics[bench] ?? {})
        .filter((e): e is [string, number] => typeof e[1] === "number")
        .map(([metric, value]) => ({ run: runLabel(run, i, runs), round: round.name, metric, value })),
    ),
  );
  const x = { field: "round", type: "ordinal", sort: rounds, title: null, axis: { labelAngle: -30 } };
  return {
    data: { values },
    facet: { field: "metric", type: "nominal", title: null, sort: [...new Set(values.map((v) => v.metric))] },
    columns: 4,
    spec: {
      width: 150,
      height: 100,
      layer: [
        {
          mark: { type: "area", opacity: 0.25 },
          encoding: {
            x,
            y: { aggregate: "min", field: "value", title: null },
            y2: { aggregate: "max", field: "value" },
          },
        },
        {
          mark: { type: "line", point: true },
          encoding: {
            x,
            y: { aggregate: "mean", field: "value", type: "quantitative", scale: { zero: false }, title: null },
            tooltip: [
              { field: "round" },
              { aggregate: "mean", field: "value", format: ".4f", title: "mean over runs" },
            ],
          },
        },
      ],
    },
    resolve: { scale: { y: "independent" } },
  };
}

/** A stage's training curves (loss, DPO's reward margins and accuracies), one line per run. */
export function trainingCurves(
  series: readonly { run: string; records: readonly MetricsRecord[] }[],
): VegaLiteSpec | null {
  const values = series.flatMap(({ run, records }) =>
    records.flatMap((r) =>
      TRAINING_METRICS.filter((m) => typeof r[m] === "number" && Number.isFinite(r[m])).map((metric) => ({
        run,
        step: r.step,
        metric,
        value: r[metric],
      })),
    ),
  );
  if (values.length === 0) return null;
  return {
    data: { values },
    facet: { field: "metric", type: "nominal", title: null, sort: [...TRAINING_METRICS] },
    columns: 3,
    spec: {
      width: 200,
      height: 110,
      mark: { type: "line", point: values.length < 60 },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step" },
        y: { field: "value", type: "quantitative", scale: { zero: false }, title: null },
        color: { field: "run", type: "nominal", legend: series.length > 1 ? {} : null },
        tooltip: [{ field: "run" }, { field: "step" }, { field: "value", format: ".4f" }],
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}

/** The description benches: those whose rounds report CHAIR_i, coverage and length. */
export function descriptionBenches(runs: readonly RunFolder[]): string[] {
  return benchOrder(runs).filter((bench) =>
    runs.some((run) =>
      run.rounds.some((r) => DESCRIPTION_METRICS.every((m) => typeof r.metrics[bench]?.[m] === "number")),
    ),
  );
}

/**
 * CHAIR_i against coverage and against words per description, one point per round and run,
 * joined in round order: a round that hallucinates less by saying less moves left on both.
 */
export function hallucinationTradeoff(runs: readonly RunFolder[], bench: string): VegaLiteSpec {
  const rounds = roundOrder(runs);
  const values = runs.flatMap((run, i) =>
    run.rounds
      .filter((r) => DESCRIPTION_METRICS.every((m) => typeof r.metrics[bench]?.[m] === "number"))
      .map((r) => {
        const m = r.metrics[bench] as Record<string, number>;
        const { chair_i, coverage, mean_length } = m;
        return {
          run: runLabel(run, i, runs),
          round: r.name,
          order: rounds.indexOf(r.name),
          chair_i,
          coverage,
          mean_length,
        };
      }),
  );
  const panel = (field: string, title: string) => ({
    width: 260,
    height: 180,
    layer: [
      {
        mark: { type: "line", point: true },
        encoding: {
          x: { field, type: "quantitative", scale: { zero: false }, title },
          y: { field: "chair_i", type: "quantitative", scale: { zero: false }, title: "CHAIR_i" },
          order: { field: "order" },
          detail: { field: "run" },
          tooltip: [
            { field: "run" },
            { field: "round" },
            { field: "chair_i", format: ".4f" },
            { field, format: ".4f" },
          ],
        },
      },
      {
        mark: { type: "text", align: "left", dx: 5, dy: -5, fontSize: 10 },
        encoding: {
          x: { field, type: "quantitative" },
          y: { field: "chair_i", type: "quantitative" },
          text: { field: "round" },
        },
      },
    ],
  });
  return { data: { values }, hconcat: [panel("coverage", "coverage"), panel("mean_length", "words per description")] };
}
