// recipes/sts.yaml, as shipped: it validates with each profile; four rounds chained on round 1's
// concepts; the paper's values where it gives them; released-code changes the choice and the
// negatives only.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import type { z } from "zod";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import type { stsRound } from "../../../src/methods/sts/stages.js";
import { loadRecipe } from "../../../src/run/recipe.js";
import type { StageConfig } from "../../../src/run/stage-kind.js";

registerBuiltinMethods();
const path = join(import.meta.dirname, "../../../recipes/sts.yaml");
type Stage = StageConfig & z.output<typeof stsRound.schema>;
const stages = (profile?: string) =>
  loadRecipe(path, profile === undefined ? {} : { profile }).recipe.stages as Stage[];

test("recipes/sts.yaml: four rounds, later ones on round 1's concepts; every profile resolves", () => {
  for (const profile of [undefined, "quick", "validation", "released-code", "released-code,validation"]) {
    const s = stages(profile);
    assert.deepEqual(
      s.map((x) => [x.name, x.round, x.conceptsFrom]),
      [
        ["sts-round1", 1, undefined],
        ["sts-round2", 2, "sts-round1"],
        ["sts-round3", 3, "sts-round1"],
        ["sts-round4", 4, "sts-round1"],
      ],
      String(profile),
    );
  }
  assert.equal(loadRecipe(path).recipe.eval.split, "test");
  assert.equal(loadRecipe(path, { profile: "validation" }).recipe.eval.split, "validation");
  assert.ok(loadRecipe(path).recipe.eval.benches.includes("species"));
});

test("the paper's values: tau 0.1, mean + 0.4 std, at least 3, T 1.0 / 0.3 / 0.7, top-p 0.6, 3 samples, 1:1", () => {
  const [r1, r2] = stages();
  assert.deepEqual(r1.selection, { similarity: "text", tau: 0.1, stdFactor: 0.4, atLeast: 3 });
  assert.equal(r1.describe.prompts, 3);
  assert.equal(r1.describe.temperature, 1.0);
  assert.equal(r1.synthesis.temperature, 0.3);
  assert.deepEqual(r1.questionTypes, ["simple", "explain", "cot"]);
  assert.equal(r1.share, 0.5);
  assert.equal(r1.train.epochs, 2);
  assert.deepEqual(
    [r2.sampling.samples, r2.sampling.temperature, r2.sampling.topP, r2.sampling.choice, r2.sampling.negatives],
    [3, 0.7, 0.6, "paper", "other-concepts"],
  );
});

test("released-code: the choice and the negatives of rounds 2-4, nothing else", () => {
  const paper = stages();
  const code = stages("released-code");
  assert.deepEqual(code[0], paper[0]);
  for (const i of [1, 2, 3]) {
    const { sampling: a, ...restA } = paper[i];
    const { sampling: b, ...restB } = code[i];
    assert.deepEqual(restB, restA);
    assert.deepEqual(b, { ...a, choice: "released-code", negatives: "all-concepts" });
  }
});
