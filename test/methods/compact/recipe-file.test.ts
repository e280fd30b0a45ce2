// recipes/compact.yaml, as shipped: it validates with each of its profiles; the arms differ in
// their data only (the same model, evaluation, LoRA and training); the paper's values where it
// gives them.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import type { compactSft } from "../../../src/methods/compact/stages.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { loadRecipe } from "../../../src/run/recipe.js";
import type { StageConfig } from "../../../src/run/stage-kind.js";

registerBuiltinMethods();
const root = join(import.meta.dirname, "../../..");
const path = join(root, "recipes/compact.yaml");
const profiles = Object.keys((parseYaml(readFileSync(path, "utf8")) as { profiles: object }).profiles);
type Stage = StageConfig & z.output<typeof compactSft.schema>;
const stage = (profile?: string) =>
  loadRecipe(path, profile === undefined ? {} : { profile }).recipe.stages[0] as Stage;

test("recipes/compact.yaml resolves with no profile and with each of its profiles", () => {
  assert.deepEqual(profiles, ["full-budget", "random-subset", "k1-only", "quick", "full-weights", "validation"]);
  for (const profile of [undefined, ...profiles]) {
    const { recipe } = loadRecipe(path, profile === undefined ? {} : { profile });
    assert.deepEqual(
      recipe.stages.map((s) => [s.name, s.type]),
      [["compact", "compact-sft"]],
    );
    assert.equal(recipe.model, "assets/aligned", "SFT from the checkpoint before instruction tuning");
  }
  assert.equal(loadRecipe(path, { profile: "validation" }).recipe.eval.split, "validation");
  assert.equal(loadRecipe(path).recipe.eval.split, "test");
  assert.equal(loadRecipe(path, { profile: "quick" }).recipe.eval.limit, 120);
  assert.equal(stage("quick").instructionImages, 600);
  assert.equal(stage().instructionImages, undefined, "the whole instruction split by default");
});

test("the arms: data and k differ, nothing else", () => {
  const { name: _, data, k, ...rest } = stage();
  assert.deepEqual([data, k], ["compact", "per-question"]);
  for (const [profile, want] of [
    ["full-budget", ["full-budget", "per-question"]],
    ["random-subset", ["random-subset", "per-question"]],
    ["k1-only", ["compact", 1]],
  ] as const) {
    const { name: __, data: d, k: kk, ...other } = stage(profile);
    assert.deepEqual([d, kk], want, profile);
    assert.deepEqual(other, rest, `${profile}: the same budget, filters, teacher, LoRA and training`);
  }
  // full-weights changes the training only: every weight, at base's lr.
  const full = stage("full-weights");
  assert.equal(full.lora, false);
  assert.equal(full.train.lr, 3.0e-4);
  assert.deepEqual({ ...full, lora: stage().lora, train: { ...full.train, lr: stage().train.lr } }, stage());
  // Profiles compose: an arm on the validation split, at the quick size.
  const s = loadRecipe(path, { profile: "random-subset,quick,validation" });
  assert.equal((s.recipe.stages[0] as Stage).data, "random-subset");
  assert.equal((s.recipe.stages[0] as Stage).instructionImages, 600);
  assert.equal(s.recipe.eval.split, "validation");
});

test("the paper's values: 10% budget with 5% general, k in 1..3 per question, 2-3 questions, 10 attempts, filters", () => {
  const s = stage();
  assert.deepEqual(s.budget, { fraction: 0.1, general: 0.05 });
  assert.deepEqual(s.kWeights, [1, 1, 1]);
  assert.deepEqual(s.perImage, { questions: [2, 3], keepAtLeast: 2, attempts: 10 });
  assert.deepEqual(s.filters, { minConfidence: 70, confidence: "teacher", duplicateOverlap: 0.6 });
  assert.deepEqual(s.teacher, { kind: "world" });
  assert.equal(s.train.epochs, 1);
  assert.ok(s.lora !== false && s.lora.r === 16);
});
