// recipes/supervised.yaml, as shipped: it validates against the schema built from the registered
// stage kinds, with each of its profiles, and trains at the budget STIC's stages train with.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import type { supervisedSft } from "../../../src/methods/supervised/stages.js";
import { loadRecipe } from "../../../src/run/recipe.js";
import { getStageKind, type StageConfig } from "../../../src/run/stage-kind.js";

registerBuiltinMethods();
const root = join(import.meta.dirname, "../../..");
const path = join(root, "recipes/supervised.yaml");
const profiles = Object.keys((parseYaml(readFileSync(path, "utf8")) as { profiles: object }).profiles);

test("recipes/supervised.yaml resolves with no profile and with each of its profiles", () => {
  assert.deepEqual(profiles, ["quick", "validation"]);
  for (const profile of [undefined, ...profiles]) {
    const { recipe } = loadRecipe(path, profile === undefined ? {} : { profile });
    assert.deepEqual(
      recipe.stages.map((s) => [s.name, s.type]),
      [["supervised", "supervised-sft"]],
    );
    assert.equal(recipe.model, "assets/base");
  }
  assert.equal(loadRecipe(path, { profile: "quick" }).recipe.stages[0].images, 400);
  assert.equal(loadRecipe(path, { profile: "validation" }).recipe.eval.split, "validation");
});

test("the same world, model and evaluation as STIC's recipe, and STIC's stage-2 LoRA and training", () => {
  const supervised = loadRecipe(path).recipe;
  const stic = loadRecipe(join(root, "recipes/stic.yaml")).recipe;
  assert.deepEqual(supervised.world, stic.world);
  assert.equal(supervised.model, stic.model);
  assert.deepEqual(supervised.eval, stic.eval);
  const stage = supervised.stages[0] as StageConfig & z.output<typeof supervisedSft.schema>;
  assert.equal(stage.images, stic.stages[0].images, "as many pool images as STIC's stage 1");
  assert.equal(stage.questionsPerImage, 1);
  assert.deepEqual(stage.lora, stic.stages[1].lora);
  assert.deepEqual(stage.train, stic.stages[1].train);
  assert.deepEqual({ r: stage.lora.r, alpha: stage.lora.alpha }, { r: 16, alpha: 32 });
  assert.deepEqual(
    {
      lr: stage.train.lr,
      epochs: stage.train.epochs,
      batchSize: stage.train.batchSize,
      warmupSteps: stage.train.warmupSteps,
    },
    { lr: 1e-4, epochs: 1, batchSize: 8, warmupSteps: 5 },
  );
});

test("the stage kind says it reads labels; its defaults are the recipe's images and questions", () => {
  const kind = getStageKind("supervised-sft");
  assert.match(kind.description ?? "", /reads labels/);
  assert.match(kind.description ?? "", /not a self-improvement method/);
  assert.match(kind.description ?? "", /ground truth/);
  const defaults = kind.schema.parse({});
  assert.equal(defaults.images, 2400);
  assert.equal(defaults.questionsPerImage, 1);
  assert.deepEqual({ r: defaults.lora.r, alpha: defaults.lora.alpha }, { r: 16, alpha: 32 });
  assert.throws(() => kind.schema.parse({ questionsPerImage: -1 }));
});
