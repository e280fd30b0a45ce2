// recipes/stic.yaml, as shipped: it and each of its profiles resolve, and every world config a
// profile names is a file that loads (a typo in a profile would otherwise surface only when a user
// runs it).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { loadRecipe } from "../../../src/run/recipe.js";
import { loadWorldConfig } from "../../../src/world/config.js";

registerBuiltinMethods();
const root = join(import.meta.dirname, "../../..");
const path = join(root, "recipes/stic.yaml");
const profiles = Object.keys((parseYaml(readFileSync(path, "utf8")) as { profiles: object }).profiles);

test("recipes/stic.yaml resolves with no profile and with each of its profiles", () => {
  assert.ok(profiles.includes("quick") && profiles.includes("no-negatives") && profiles.includes("biased-pool"));
  const dirs = new Set<string>();
  for (const profile of [undefined, ...profiles]) {
    const { recipe } = loadRecipe(path, profile === undefined ? {} : { profile });
    assert.deepEqual(
      recipe.stages.map((s) => s.type),
      ["stic-preferences", "stic-infused-sft"],
    );
    assert.ok(recipe.world !== undefined, "the STIC recipe names a world");
    loadWorldConfig(join(root, recipe.world.config));
    dirs.add(`${recipe.world.config} -> ${recipe.world.dir}`);
  }
  // Two world configs, each with its own folder (a folder holds one world).
  assert.equal(dirs.size, 2, [...dirs].join("; "));
});

test("the biased-pool profile changes the world and nothing else", () => {
  const plain = loadRecipe(path).recipe;
  const biased = loadRecipe(path, { profile: "biased-pool" }).recipe;
  assert.equal(biased.world?.config, "assets/world/biased-pool.yaml");
  assert.notEqual(biased.world?.dir, plain.world?.dir);
  assert.deepEqual({ ...biased, world: plain.world, profile: null }, plain);
});

test("the recipe evaluates every item of the test split; the validation profile changes only the split", () => {
  const plain = loadRecipe(path).recipe;
  assert.equal(plain.eval.split, "test");
  assert.equal(plain.eval.limit, undefined, "no limit: every item of the split");
  const validation = loadRecipe(path, { profile: "validation" }).recipe;
  assert.deepEqual(
    { ...validation, eval: { ...validation.eval, split: "test" }, profile: null },
    plain,
    "the validation profile changes the evaluation split and nothing else",
  );
  assert.equal(validation.eval.split, "validation");
});

test("the self-check's rule is the rate rule (chosen on validation); count-rule changes only the rule", () => {
  const plain = loadRecipe(path).recipe;
  const stage1 = (r: typeof plain) => r.stages.find((s) => s.name === "stic-stage1") as { selfCheck?: unknown };
  assert.deepEqual(stage1(plain).selfCheck, { doubt: -0.5, rule: "rate", batch: 32 });
  const count = loadRecipe(path, { profile: "count-rule" }).recipe;
  assert.deepEqual(stage1(count).selfCheck, { doubt: -0.5, rule: "count", batch: 32 });
  const countStages = count.stages.map((s) =>
    s.name === "stic-stage1" ? { ...s, selfCheck: stage1(plain).selfCheck } : s,
  );
  assert.deepEqual({ ...count, stages: countStages, profile: null }, plain);
});
