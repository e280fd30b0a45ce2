// Runs of several recipes or profiles joined per seed (src/eval/joined-runs.ts) so that
// compareRounds pairs their rounds: round names, the shared base, the checks, and a
// hand-computed difference through the comparison.
import assert from "node:assert/strict";
import { test } from "node:test";
import { capabilitiesBench } from "../../src/eval/capabilities.js";
import { compareRounds, type RunEvaluation } from "../../src/eval/comparison.js";
import { joinRunsBySeed, type LabelledRun } from "../../src/eval/joined-runs.js";
import type { EvalRecord } from "../../src/eval/types.js";

/** A capabilities record of item i with k; right or wrong. */
const record = (i: number, k: number, right: boolean): EvalRecord => ({
  item_id: `q${i}`,
  image_id: `i${i}`,
  prompt: "",
  raw_answer: right ? "red" : "blue",
  parsed_answer: right ? "red" : "blue",
  ground_truth: { answer: "red", accepted: ["red"], capabilities: ["color"], k },
  verdict: { correct: right },
  finish_reason: "stop",
});
/**
 * 40 items, k = 1 for the first 20, 3 for the others; the first `right` answered right. (Enough
 * items that no bootstrap resample lacks a k: an empty cell's accuracy is NaN.)
 */
const records = (right: number) => Array.from({ length: 40 }, (_, i) => record(i, i < 20 ? 1 : 3, i < right));

/** A run of `label` at `seed`: base answers `baseRight` right, its stage `sft` answers `right`. */
const run = (name: string, label: string, seed: number, right: number, baseRight = 0): LabelledRun => ({
  label,
  seed,
  evaluation: {
    name,
    rounds: [
      { name: "base", benches: { capabilities: records(baseRight) } },
      { name: "sft", benches: { capabilities: records(right) } },
    ],
  },
});

test("each seed's runs become one evaluation: base, then each label's rounds in order of first appearance", () => {
  const joined = joinRunsBySeed([
    run("full-s1", "compact", 1, 40),
    run("k1-s0", "compact-k1-only", 0, 20),
    run("full-s0", "compact", 0, 40),
    run("k1-s1", "compact-k1-only", 1, 20),
  ]);
  assert.deepEqual(
    joined.map((e) => e.rounds.map((r) => r.name)),
    [
      ["base", "compact:sft", "compact-k1-only:sft"],
      ["base", "compact:sft", "compact-k1-only:sft"],
    ],
  );
  assert.deepEqual(
    joined.map((e) => e.name),
    ["seed 0 (full-s0, k1-s0)", "seed 1 (full-s1, k1-s1)"],
  );
  // By hand: compact answers all 40 (accuracy 1; k=1 1, k=3 1), k1-only the 20 k = 1 items
  // (0.5; k=1 1, k=3 0): k1-only − compact = −0.5 overall, 0 at k = 1, −1 at k = 3, both seeds.
  const comparison = compareRounds({
    runs: joined,
    baseline: "compact:sft",
    bench: () => capabilitiesBench(),
    resamples: 200,
  });
  const row = (metric: string) =>
    comparison.rows.find((r) => r.round === "compact-k1-only:sft" && r.metric === metric)!;
  assert.equal(row("accuracy").diff, -0.5);
  assert.equal(row("accuracy_k1").diff, 0);
  assert.equal(row("accuracy_k3").diff, -1);
  assert.equal(row("accuracy_k3").verdict, "worse");
  assert.equal(comparison.rows.find((r) => r.round === "base" && r.metric === "accuracy")!.diff, -1);
});

test("every seed needs a run of every label, each once, each with the base round", () => {
  assert.throws(
    () => joinRunsBySeed([run("a", "compact", 0, 1), run("b", "compact", 0, 2)]),
    /a and b are both 'compact' at seed 0/,
  );
  assert.throws(
    () => joinRunsBySeed([run("a", "compact", 0, 1), run("b", "k1", 0, 2), run("c", "compact", 1, 1)]),
    /seed 1 has no run of k1/,
  );
  assert.throws(() => joinRunsBySeed([]), /no runs/);
  const evaluation: RunEvaluation = { name: "x", rounds: [] };
  assert.throws(() => joinRunsBySeed([{ label: "compact", seed: 0, evaluation }]), /x: no round 'base'/);
});

test("runs whose base rounds differ (another starting model, other items) are not joined", () => {
  // b's base answers item q0 right where a's does not: another model.
  assert.throws(
    () => joinRunsBySeed([run("a", "stic", 0, 10), run("b", "stic-paper", 0, 10, 1)]),
    /a and b have different 'base' rounds \(bench capabilities: item 'q0' answered differently\)/,
  );
  const fewer = run("b", "stic-paper", 0, 10);
  fewer.evaluation.rounds[0].benches.capabilities = records(0).slice(0, 30);
  assert.throws(() => joinRunsBySeed([run("a", "stic", 0, 10), fewer]), /40 items against 30/);
});
