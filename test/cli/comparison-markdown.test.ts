import assert from "node:assert/strict";
import { test } from "node:test";
import { formatComparisonMarkdown } from "../../src/cli/comparison-markdown.js";
import type { Comparison, ComparisonRow } from "../../src/eval/comparison.js";

const row = (
  round: string,
  metric: string,
  mean: number,
  diff: number | null,
  ci: [number, number] | null,
  verdict: ComparisonRow["verdict"],
): ComparisonRow => ({
  round,
  bench: "chair",
  metric,
  mean,
  sd: null,
  diff,
  ci,
  verdict,
});

const comparison: Comparison = {
  baseline: "base",
  rows: [
    row("base", "chair_i", 0.25, null, null, "baseline"),
    row("dpo", "chair_i", 0.243, -0.007, [-0.0134, -0.0006], "better"),
    row("base", "mean_length", 82.31, null, null, "baseline"),
    row("dpo", "mean_length", 83.55, 1.241, [0.785, 1.67], "changed"),
  ],
};

test("markdown: one row per metric, decimals by the size of the row's means, bold only off zero", () => {
  assert.deepEqual(formatComparisonMarkdown(comparison).slice(0, 4), [
    "| metric | base | dpo |",
    "|---|---|---|",
    "| chair chair_i | 0.250 | **-0.007 [-0.013, -0.001]** |",
    "| chair mean_length | 82.3 | **+1.2 [+0.8, +1.7]** |",
  ]);
  const unchanged: Comparison = {
    baseline: "base",
    rows: [comparison.rows[0], row("dpo", "chair_i", 0.248, -0.002, [-0.01, 0.005], "no detectable difference")],
  };
  assert.equal(formatComparisonMarkdown(unchanged)[2], "| chair chair_i | 0.250 | -0.002 [-0.010, +0.005] |");
});

test("markdown: --metrics orders the rows and refuses a metric the runs lack", () => {
  const lines = formatComparisonMarkdown(comparison, ["chair.mean_length", "chair.chair_i"]);
  assert.match(lines[2], /^\| chair mean_length /);
  assert.match(lines[3], /^\| chair chair_i /);
  assert.throws(
    () => formatComparisonMarkdown(comparison, ["chair.coverage"]),
    /--metrics: no chair\.coverage in these runs \(they have: chair\.chair_i, chair\.mean_length\)/,
  );
});
