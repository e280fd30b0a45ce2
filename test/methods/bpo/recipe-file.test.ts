// recipes/bpo.yaml, as shipped: it and each of its profiles resolve against the registered stage
// kinds, with the paper's values where the recipe claims them and STIC's world, model and eval.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { CLIP_NORMALIZE } from "../../../src/images/diffusion-noise.js";
import type { bpoPreferences } from "../../../src/methods/bpo/stages.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { loadRecipe } from "../../../src/run/recipe.js";
import { getStageKind, type StageConfig } from "../../../src/run/stage-kind.js";

registerBuiltinMethods();
const root = join(import.meta.dirname, "../../..");
const path = join(root, "recipes/bpo.yaml");
const profiles = Object.keys((parseYaml(readFileSync(path, "utf8")) as { profiles: object }).profiles);
type Bpo = StageConfig & z.output<typeof bpoPreferences.schema>;
const stageOf = (profile?: string) =>
  loadRecipe(path, profile === undefined ? {} : { profile }).recipe.stages[0] as Bpo;

test("recipes/bpo.yaml resolves with no profile and with each of its profiles", () => {
  assert.deepEqual(profiles, [
    "quick",
    "sft-positives",
    "contrastive",
    "unbalanced",
    "likelihood-0.01",
    "likelihood-0.05",
    "validation",
  ]);
  for (const profile of [undefined, ...profiles]) {
    const { recipe } = loadRecipe(path, profile === undefined ? {} : { profile });
    assert.deepEqual(
      recipe.stages.map((s) => [s.name, s.type]),
      [["bpo", "bpo-preferences"]],
    );
  }
  assert.equal(loadRecipe(path, { profile: "validation" }).recipe.eval.split, "validation");
  assert.equal(loadRecipe(path, { profile: "quick" }).recipe.eval.limit, 120);
  assert.deepEqual(stageOf("quick").positives, { source: "sceneworld", descriptions: 100, questions: 100 });
  assert.equal(stageOf("sft-positives").objective, "sft-positives");
  assert.equal(stageOf().objective, "dpo");
  assert.equal(stageOf().balanceYesNo, true, "chosen on validation");
  assert.equal(stageOf("unbalanced").balanceYesNo, false, "the paper keeps every pair");
  assert.deepEqual({ ...stageOf("unbalanced"), balanceYesNo: true }, stageOf());
  for (const alpha of [0.01, 0.05]) {
    const stage = stageOf(`likelihood-${alpha}`);
    assert.equal(stage.dpo.alpha, alpha);
    assert.deepEqual({ ...stage, dpo: { ...stage.dpo, alpha: 0 } }, stageOf(), "only the likelihood weight changes");
  }
  const contrastive = stageOf("contrastive").weakening;
  assert.ok(contrastive !== false && contrastive.decoding === "contrastive");
  assert.equal(contrastive.t, 900, "a profile changes only what it names");
});

test("the paper's values where the recipe keeps them", () => {
  const s = stageOf();
  assert.ok(s.injection !== false && s.weakening !== false);
  assert.equal(s.injection.mode, "prior-continuation");
  assert.deepEqual([s.injection.temperature, s.injection.topP], [0.8, 0.95]);
  assert.deepEqual([s.weakening.t, s.weakening.temperature, s.weakening.decoding], [900, 0.2, "noisy"]);
  // The paper's space: LLaVA-1.5's CLIP normalization, also the stage's default.
  assert.deepEqual(s.weakening.normalize, { mean: [...CLIP_NORMALIZE.mean], std: [...CLIP_NORMALIZE.std] });
  assert.deepEqual(getStageKind("bpo-preferences").schema.parse({}).weakening.normalize, s.weakening.normalize);
  assert.deepEqual(s.weakening.contrast, { alpha: 1, beta: 0.2 });
  assert.equal(s.maxWords, 350);
  assert.equal(s.dpo.beta, 0.1);
  assert.equal(s.dpo.alpha, 0, "plain DPO, no likelihood term");
});

test("the same world, model and evaluation as STIC's recipe, and its LoRA and training", () => {
  const bpo = loadRecipe(path).recipe;
  const stic = loadRecipe(join(root, "recipes/stic.yaml")).recipe;
  assert.deepEqual(bpo.world, stic.world);
  assert.equal(bpo.model, stic.model);
  assert.deepEqual(bpo.eval, stic.eval);
  assert.deepEqual(stageOf().lora, stic.stages[0].lora);
  assert.deepEqual(stageOf().train, stic.stages[0].train);
});

test("the stage kind's defaults are the paper's; bad fields are refused", () => {
  const kind = getStageKind("bpo-preferences");
  const d = kind.schema.parse({});
  assert.deepEqual(d.positives, { source: "sceneworld", descriptions: 1000, questions: 1000 });
  assert.deepEqual(
    [d.injection.temperature, d.injection.topP, d.weakening.t, d.weakening.temperature],
    [0.8, 0.95, 900, 0.2],
  );
  assert.equal(d.nearDuplicate, 1);
  assert.throws(() => kind.schema.parse({ weakening: { t: 1000 } }));
  assert.throws(() => kind.schema.parse({ injection: { cut: { min: 0.8, max: 0.2 } } }), /min must be <= max/);
  assert.throws(() => kind.schema.parse({ positives: { source: "file", path: "x.json", format: "csv" } }));
  assert.throws(() => kind.schema.parse({ positives: { source: "web" } }));
  assert.equal(kind.schema.parse({ injection: false }).injection, false);
});
