import assert from "node:assert/strict";
import { test } from "node:test";
import { chairFromCounts } from "../../src/eval/chair.js";
import { countMatrix, type PairedRun, pairedBootstrap, quantile } from "../../src/eval/paired-bootstrap.js";
import type { Counts } from "../../src/eval/types.js";

/** Accuracy over items that are right (1) or wrong (0). */
const accuracy = (t: Readonly<Counts>) => ({ accuracy: t.correct / t.items });
const answers = (correct: readonly number[]) => countMatrix(correct.map((c) => ({ items: 1, correct: c })));
/** Equal up to rounding (0.8 − 0.2 is 0.6000000000000001 in floating point). */
const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 1e-12, `${actual}`);
const run = (baseline: readonly number[], treated: readonly number[]): PairedRun => ({
  baseline: answers(baseline),
  treated: answers(treated),
});

test("quantile: linear between order statistics (numpy's default)", () => {
  // h = (5 - 1)·0.025 = 0.1 → 1 + 0.1·(2 - 1); h = 4·0.975 = 3.9 → 4 + 0.9·(5 - 4).
  assert.equal(quantile([1, 2, 3, 4, 5], 0.025), 1.1);
  assert.equal(quantile([1, 2, 3, 4, 5], 0.975), 4.9);
  assert.equal(quantile([7], 0.5), 7);
});

test("an improvement on 6 of 10 items and a loss on none: the interval excludes zero", () => {
  // Baseline right on items 0-1, the round on items 0-7. A resample's difference is (items of 2-7
  // drawn) / 10, i.e. Binomial(10, 0.6) / 10 in distribution: its 2.5% quantile is 0.3
  // (P(X <= 2) = 0.012, P(X <= 3) = 0.055), its 97.5% quantile 0.9 (P(X <= 8) = 0.954). The
  // percentile interval of 2,000 resamples lands near [0.3, 0.9].
  const base = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0];
  const round = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
  const { accuracy: r } = pairedBootstrap({ runs: [run(base, round)], statistic: accuracy });
  close(r.diff, 0.6);
  assert.ok(r.ci[0] > 0, `lower bound ${r.ci[0]} excludes zero`);
  assert.ok(r.ci[0] >= 0.2 && r.ci[0] <= 0.4, `lower ${r.ci[0]}`);
  assert.ok(r.ci[1] >= 0.8 && r.ci[1] <= 1, `upper ${r.ci[1]}`);
});

test("3 items gained and 3 lost of 20: no difference, and the interval contains zero", () => {
  // Items 0-2 wrong → right, 3-5 right → wrong, 6-9 right in both, 10-19 wrong in both. The
  // difference is (gained drawn − lost drawn) / 20: symmetric about 0, sd sqrt(20·(6/20))/20 ≈ 0.12.
  const base = [0, 0, 0, 1, 1, 1, 1, 1, 1, 1, ...Array(10).fill(0)];
  const round = [1, 1, 1, 0, 0, 0, 1, 1, 1, 1, ...Array(10).fill(0)];
  const { accuracy: r } = pairedBootstrap({ runs: [run(base, round)], statistic: accuracy });
  assert.equal(r.diff, 0);
  assert.ok(r.ci[0] < 0 && r.ci[1] > 0, `[${r.ci}] contains 0`);
  assert.ok(r.ci[0] > -0.4 && r.ci[1] < 0.4, `[${r.ci}]`);
});

test("the same answers in both rounds: a difference of exactly 0, interval [0, 0]", () => {
  const same = [1, 0, 1, 1, 0];
  assert.deepEqual(pairedBootstrap({ runs: [run(same, same)], statistic: accuracy }), {
    accuracy: { diff: 0, ci: [0, 0] },
  });
});

test("pairing: a round that gains one item of 20 gets a narrow interval, never below zero", () => {
  // Baseline right on items 0-9, the round on 0-10. Paired, a resample's difference is (times
  // item 10 is drawn) / 20 >= 0; unpaired, the two accuracies would each vary by about ±0.2.
  const base = [...Array(10).fill(1), ...Array(10).fill(0)];
  const round = [...Array(11).fill(1), ...Array(9).fill(0)];
  const { accuracy: r } = pairedBootstrap({ runs: [run(base, round)], statistic: accuracy });
  close(r.diff, 0.05);
  // Item 10 is drawn Binomial(20, 1/20) times: P(0) = 0.36 > 2.5%, so the lower bound is 0
  // exactly; P(X <= 2) = 0.92 and P(X <= 3) = 0.98, so the upper one is about 3/20.
  assert.equal(r.ci[0], 0);
  close(r.ci[1], 0.15);
});

test("seeds pooled: the difference is the mean over runs, each run paired with its own baseline", () => {
  // Run A gains 4 of 4 items (diff 1), run B gains nothing (diff 0): mean 0.5. A resample that
  // draws the 4 items k_i times gives (1 + 0) / 2 in every case, so the interval is [0.5, 0.5].
  const a = run([0, 0, 0, 0], [1, 1, 1, 1]);
  const b = run([1, 0, 1, 0], [1, 0, 1, 0]);
  assert.deepEqual(pairedBootstrap({ runs: [a, b], statistic: accuracy }).accuracy, { diff: 0.5, ci: [0.5, 0.5] });
});

test("ratio metrics are recomputed from the resampled items' counts, not averaged per item", () => {
  // Two descriptions: D1 names 1 object, hallucinated; D2 names 9, none hallucinated. CHAIR_i of
  // both is 1/10 (a per-item mean would say 0.5). Every resample is D1 twice, D1 and D2, or D2
  // twice: mentions 2, 10 or 18, hallucinated 2, 1 or 0, whole-item sums every time.
  const items = [
    { descriptions: 1, mentions: 1, hallucinated: 1 },
    { descriptions: 1, mentions: 9, hallucinated: 0 },
  ];
  const none = items.map((i) => ({ ...i, hallucinated: 0 }));
  const seen = new Set<string>();
  const statistic = (t: Readonly<Counts>) => {
    seen.add(`${t.mentions}/${t.hallucinated}`);
    return { chair_i: chairFromCounts(t).chair_i };
  };
  const r = pairedBootstrap({
    runs: [{ baseline: countMatrix(none), treated: countMatrix(items) }],
    statistic,
    resamples: 200,
  });
  assert.equal(r.chair_i.diff, 1 / 10);
  assert.deepEqual([...seen].sort(), ["10/0", "10/1", "18/0", "2/0", "2/2"]);
  // The interval's ends are resample values: 0 (D2 twice) and 1 (D1 twice) with 200 resamples.
  assert.deepEqual(r.chair_i.ci, [0, 1]);
});

test("seeded: the same seed gives the same intervals, another seed other ones", () => {
  const base = [0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1, 1];
  const round = [1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0];
  const at = (seed?: number) => pairedBootstrap({ runs: [run(base, round)], statistic: accuracy, seed }).accuracy;
  assert.deepEqual(at(), at(0));
  assert.deepEqual(at(7), at(7));
  assert.notDeepEqual(at(0).ci, at(7).ci);
});

test("runs over different numbers of items, or no items, are refused", () => {
  assert.throws(
    () => pairedBootstrap({ runs: [run([1, 0], [1, 1]), run([1], [1])], statistic: accuracy }),
    /run 1 has 1 items, run 0 has 2/,
  );
  assert.throws(() => pairedBootstrap({ runs: [run([], [])], statistic: accuracy }), /no items/);
});
