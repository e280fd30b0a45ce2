// The arms joined per seed (src/methods/compact/arms.ts) so that compareRounds pairs them: round
// names, the shared base, the checks, and a hand-computed difference through the comparison.
import assert from "node:assert/strict";
import { test } from "node:test";
import { capabilitiesBench } from "../../../src/eval/capabilities.js";
import { compareRounds, type RunEvaluation } from "../../../src/eval/comparison.js";
import type { EvalRecord } from "../../../src/eval/types.js";
import { type ArmRun, armOf, joinArms } from "../../../src/methods/compact/arms.js";

test("the arm of a stage config", () => {
  assert.equal(armOf({ data: "compact", k: "per-question" }), "compact");
  assert.equal(armOf({ data: "compact", k: 1 }), "k1-only");
  assert.equal(armOf({ data: "random-subset", k: "per-question" }), "random-subset");
  assert.equal(armOf({ data: "full-budget", k: 1 }), "full-budget");
});

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

const run = (name: string, arm: string, seed: number, right: number): ArmRun => ({
  arm,
  seed,
  round: "compact",
  evaluation: {
    name,
    rounds: [
      { name: "base", benches: { capabilities: records(0) } },
      { name: "compact", benches: { capabilities: records(right) } },
    ],
  },
});

test("each seed's arms become one evaluation: base, then the arms in table order", () => {
  const joined = joinArms([
    run("r-k1-s1", "k1-only", 1, 20),
    run("r-c-s0", "compact", 0, 40),
    run("r-c-s1", "compact", 1, 40),
    run("r-k1-s0", "k1-only", 0, 20),
  ]);
  assert.deepEqual(
    joined.map((e) => e.rounds.map((r) => r.name)),
    [
      ["base", "compact", "k1-only"],
      ["base", "compact", "k1-only"],
    ],
  );
  assert.deepEqual(
    joined.map((e) => e.name),
    ["seed 0 (r-c-s0, r-k1-s0)", "seed 1 (r-c-s1, r-k1-s1)"],
  );
  // By hand: compact answers all 40 (accuracy 1; k=1 1, k=3 1), k1-only the 20 k = 1 items
  // (0.5; k=1 1, k=3 0): k1-only − compact = −0.5 overall, 0 at k = 1, −1 at k = 3, both seeds.
  const comparison = compareRounds({
    runs: joined,
    baseline: "compact",
    bench: () => capabilitiesBench(),
    resamples: 200,
  });
  const row = (metric: string) => comparison.rows.find((r) => r.round === "k1-only" && r.metric === metric)!;
  assert.equal(row("accuracy").diff, -0.5);
  assert.equal(row("accuracy_k1").diff, 0);
  assert.equal(row("accuracy_k3").diff, -1);
  assert.equal(row("accuracy_k3").verdict, "worse");
  assert.equal(comparison.rows.find((r) => r.round === "base" && r.metric === "accuracy")!.diff, -1);
});

test("every seed needs the same arms, each once, each with its round", () => {
  assert.throws(
    () => joinArms([run("a", "compact", 0, 1), run("b", "compact", 0, 2)]),
    /a and b are both arm compact, seed 0/,
  );
  assert.throws(
    () => joinArms([run("a", "compact", 0, 1), run("b", "k1-only", 0, 2), run("c", "compact", 1, 1)]),
    /seed 1 has arms compact; other seeds have compact, k1-only/,
  );
  const noRound: ArmRun = { ...run("a", "compact", 0, 1), round: "other" };
  assert.throws(() => joinArms([noRound]), /a has no round 'other' \(rounds: base, compact\)/);
  assert.throws(() => joinArms([]), /no runs/);
  const evaluation: RunEvaluation = { name: "x", rounds: [] };
  assert.throws(() => joinArms([{ arm: "compact", seed: 0, round: "compact", evaluation }]), /no round 'base'/);
});
