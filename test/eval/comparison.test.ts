import assert from "node:assert/strict";
import { test } from "node:test";
import { chairBench } from "../../src/eval/chair.js";
import {
  type ComparisonRow,
  compareRounds,
  meanAndSd,
  type RunEvaluation,
  verdictOf,
} from "../../src/eval/comparison.js";
import { popeBench, type YesNo } from "../../src/eval/pope.js";
import { SynonymTable } from "../../src/eval/text.js";
import type { AnyBenchSpec, EvalRecord } from "../../src/eval/types.js";

const pope = popeBench("random") as unknown as AnyBenchSpec;
const benches: Record<string, AnyBenchSpec> = {
  "pope-random": pope,
  chair: chairBench(SynonymTable.parse("circle\nstar")) as unknown as AnyBenchSpec,
};
const bench = (name: string) => benches[name];

// 20 POPE questions: items q0-q9 about present objects (label yes), q10-q19 about absent ones.
const labels: YesNo[] = Array.from({ length: 20 }, (_, i) => (i < 10 ? "yes" : "no"));
/** POPE records answering "yes" to the questions in `yes`, "no" to the rest. */
function answers(yes: (i: number) => boolean, ids = labels.map((_, i) => `q${i}`)): EvalRecord[] {
  return ids.map((id) => {
    const i = Number(id.slice(1));
    const predicted: YesNo = yes(i) ? "yes" : "no";
    return {
      item_id: id,
      image_id: `img${Math.floor(i / 2)}`,
      prompt: "",
      raw_answer: predicted,
      parsed_answer: predicted,
      ground_truth: { object: "star", label: labels[i] },
      verdict: pope.verdict(predicted, { object: "star", label: labels[i] }),
      finish_reason: "stop",
    };
  });
}
const always = () => true;
const right = (i: number) => i < 10;
const run = (name: string, rounds: [string, EvalRecord[]][]): RunEvaluation => ({
  name,
  rounds: rounds.map(([round, records]) => ({ name: round, benches: { "pope-random": records } })),
});

// Run A: the base says yes to everything; its stage answers every question right.
// Run B: the same base; its stage says yes to two absent objects (q10, q11).
const runA = run("runs/a", [
  ["base", answers(always)],
  ["stage", answers(right)],
]);
const runB = run("runs/b", [
  ["base", answers(always)],
  ["stage", answers((i) => i < 12)],
]);
const row = (rows: ComparisonRow[], round: string, metric: string) =>
  rows.find((r) => r.round === round && r.metric === metric)!;
const close = (actual: number | null | undefined, expected: number) =>
  assert.ok(actual != null && Math.abs(actual - expected) < 1e-12, `${actual} != ${expected}`);

test("verdicts: the interval's side and the metric's direction", () => {
  assert.equal(verdictOf([0.01, 0.05], true), "better");
  assert.equal(verdictOf([0.01, 0.05], false), "worse");
  assert.equal(verdictOf([-0.05, -0.01], false), "better");
  assert.equal(verdictOf([-0.05, -0.01], true), "worse");
  assert.equal(verdictOf([-0.05, -0.01], null), "changed");
  assert.equal(verdictOf([-0.01, 0.05], true), "no detectable difference");
  assert.equal(verdictOf([0, 0.05], true), "no detectable difference", "an end at zero does not exclude it");
  assert.equal(verdictOf([0, 0], null), "no detectable difference");
});

test("mean and sample SD over runs", () => {
  assert.deepEqual(meanAndSd([1, 2, 3]), { mean: 2, sd: 1 });
  assert.deepEqual(meanAndSd([0.5]), { mean: 0.5, sd: null });
});

test("two runs: means, SDs, paired differences and verdicts per metric and round", () => {
  const { baseline, rows } = compareRounds({ runs: [runA, runB], bench });
  assert.equal(baseline, "base");
  // One row per metric and round, metrics in the bench's order.
  assert.deepEqual(
    rows.map((r) => `${r.bench} ${r.metric} ${r.round}`),
    ["accuracy", "precision", "recall", "f1", "yes_ratio"].flatMap((m) => [
      `pope-random ${m} base`,
      `pope-random ${m} stage`,
    ]),
  );
  // Base: TP 10, FP 10 in both runs → accuracy 0.5, F1 2/3, yes-ratio 1; SD 0 over two runs.
  assert.deepEqual(row(rows, "base", "f1"), {
    round: "base",
    bench: "pope-random",
    metric: "f1",
    mean: 2 / 3,
    sd: 0,
    diff: null,
    ci: null,
    verdict: "baseline",
  });
  // Stage: accuracy 1 (A) and 18/20 (B): mean 0.95, SD sqrt(2·0.05²) = 0.0707; difference 0.45,
  // never negative on any resample (no item got worse) → better.
  const accuracy = row(rows, "stage", "accuracy");
  close(accuracy.mean, 0.95);
  close(accuracy.sd!, Math.sqrt(2 * 0.05 ** 2));
  close(accuracy.diff!, 0.45);
  assert.ok(accuracy.ci![0] > 0 && accuracy.ci![0] < 0.45 && accuracy.ci![1] > 0.45, `[${accuracy.ci}]`);
  assert.equal(accuracy.verdict, "better");
  // F1: 1 (A) and 2·(10/12)/(1 + 10/12) = 10/11 (B), from counts.
  close(row(rows, "stage", "f1").mean, (1 + 10 / 11) / 2);
  // Recall stays 1 on every item: difference 0, interval [0, 0].
  assert.deepEqual((({ diff, ci, verdict }) => ({ diff, ci, verdict }))(row(rows, "stage", "recall")), {
    diff: 0,
    ci: [0, 0],
    verdict: "no detectable difference",
  });
  // Yes-ratio 0.5 (A) and 0.6 (B), from 1: it has no direction, so it "changed".
  const yes = row(rows, "stage", "yes_ratio");
  close(yes.diff!, -0.45);
  assert.equal(yes.verdict, "changed");
  assert.equal("gapClosed" in yes, false, "no ceiling, no gapClosed");
});

test("a ceiling: the share of the base-to-ceiling gap closed, for metrics with a direction", () => {
  // The ceiling's last round answers everything right: accuracy 1, F1 1, recall 1.
  const ceiling = run("runs/oracle", [
    ["base", answers(always)],
    ["oracle-stage", answers(right)],
  ]);
  const { rows } = compareRounds({ runs: [runA, runB], bench, ceiling, resamples: 100 });
  close(row(rows, "stage", "accuracy").gapClosed, (0.95 - 0.5) / (1 - 0.5));
  close(row(rows, "stage", "f1").gapClosed, ((1 + 10 / 11) / 2 - 2 / 3) / (1 - 2 / 3));
  assert.equal(row(rows, "stage", "recall").gapClosed, null, "no gap: base recall is the ceiling's");
  assert.equal(row(rows, "stage", "yes_ratio").gapClosed, null, "no direction");
  assert.equal(row(rows, "base", "accuracy").gapClosed, null);
});

test("another baseline round; rounds are reported in the runs' order", () => {
  const three = run("runs/c", [
    ["base", answers(always)],
    ["s1", answers(right)],
    ["s2", answers(always)],
  ]);
  const { baseline, rows } = compareRounds({ runs: [three], bench, baseline: "s1", resamples: 100 });
  assert.equal(baseline, "s1");
  const accuracy = rows.filter((r) => r.metric === "accuracy");
  assert.deepEqual(
    accuracy.map((r) => [r.round, r.diff, r.verdict]),
    [
      ["base", -0.5, "worse"],
      ["s1", null, "baseline"],
      ["s2", -0.5, "worse"],
    ],
  );
  assert.equal(accuracy[0].sd, null, "one run: no SD");
});

test("CHAIR rows carry mean_length, coverage, the cut share and the length-controlled metrics", () => {
  const chair = (id: string, mentions: string[], words: number, finish: "stop" | "length"): EvalRecord => {
    const truth = { objects: ["circle"] };
    return {
      item_id: id,
      image_id: id,
      prompt: "",
      raw_answer: "",
      parsed_answer: { mentions, words },
      ground_truth: truth,
      verdict: benches.chair.verdict({ mentions, words }, truth),
      finish_reason: finish,
    };
  };
  const r: RunEvaluation = {
    name: "runs/d",
    rounds: [
      {
        name: "base",
        benches: { chair: [chair("a", ["circle", "star"], 10, "length"), chair("b", ["star"], 4, "stop")] },
      },
      { name: "s1", benches: { chair: [chair("a", ["circle"], 5, "stop"), chair("b", [], 2, "stop")] } },
    ],
  };
  const { rows } = compareRounds({ runs: [r], bench, resamples: 50 });
  assert.deepEqual([...new Set(rows.map((x) => x.metric))], Object.keys(benches.chair.metricInfo));
  // Base: 2 of 3 mentions hallucinated in 14 words, 1 of 2 descriptions cut; s1: none, 7 words.
  close(row(rows, "base", "chair_i").mean, 2 / 3);
  close(row(rows, "base", "halluc_per_100w").mean, 200 / 14);
  close(row(rows, "base", "truncated_share").mean, 0.5);
  close(row(rows, "s1", "mean_length").diff!, 3.5 - 7);
  assert.equal(row(rows, "s1", "mean_length").verdict, "changed");
});

test("bad input is refused, naming the run and the problem", () => {
  const noStage = run("runs/b", [["base", answers(always)]]);
  assert.throws(
    () => compareRounds({ runs: [runA, noStage], bench }),
    /^ComparisonError: runs\/b: lacks round\(s\) stage that runs\/a has/,
  );
  assert.throws(
    () => compareRounds({ runs: [runA], bench, baseline: "start" }),
    /runs\/a: no round 'start' to compare with \(rounds: base, stage\)/,
  );
  const fewer = run("runs/e", [
    ["base", answers(always)],
    ["stage", answers(right, ["q0", "q1", "q2"])],
  ]);
  assert.throws(
    () => compareRounds({ runs: [fewer], bench }),
    /runs\/e: round 'stage', bench 'pope-random': evaluated on other items than runs\/e's round 'base' \(3 items against 20; 'q3' missing\)/,
  );
  const otherItems = run("runs/f", [
    ["base", answers(always, ["q0", "q1"])],
    ["stage", answers(right, ["q0", "q1"])],
  ]);
  assert.throws(
    () => compareRounds({ runs: [runA, otherItems], bench }),
    /runs\/f: round 'base'.*other items than runs\/a's/,
  );
  const noBench: RunEvaluation = { name: "runs/g", rounds: [runA.rounds[0], { name: "stage", benches: {} }] };
  assert.throws(
    () => compareRounds({ runs: [noBench], bench }),
    /runs\/g: round 'stage', bench 'pope-random': no records/,
  );
  const twice = run("runs/h", [
    ["base", answers(always, ["q0", "q0"])],
    ["stage", answers(right, ["q0", "q0"])],
  ]);
  assert.throws(
    () => compareRounds({ runs: [twice], bench }),
    /runs\/h: round 'base', bench 'pope-random': item 'q0' appears twice/,
  );
  const empty: RunEvaluation = { name: "runs/ceiling", rounds: [] };
  assert.throws(
    () => compareRounds({ runs: [runA], bench, ceiling: empty }),
    /runs\/ceiling \(the ceiling\): no rounds/,
  );
});
