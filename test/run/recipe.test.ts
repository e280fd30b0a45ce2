import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BENCH_NAMES } from "../../src/eval/benches.js";
import { describeFirstMode } from "../../src/methods/stic/describe-then-answer.js";
import { registerInferenceMode } from "../../src/run/inference-mode.js";
import { applyProfile, defaultRunDir, loadRecipe, resolveRecipe, stageSeed } from "../../src/run/recipe.js";
import { registerTestKinds, tmp } from "./kinds.js";

registerTestKinds();
registerInferenceMode(describeFirstMode);

const base = () => ({
  name: "t",
  world: { config: "w.yaml", dir: "world" },
  model: "m",
  eval: { benches: ["pope-random", "chair"], limit: 400 },
  profiles: {
    quick: {
      eval: { limit: 60 },
      stages: [{ name: "two", dpo: { beta: 0.5 } }],
    },
    typo: { stages: [{ name: "tow", records: 1 }] },
    bad: { stages: [{ name: "one", records: 0 }] },
  },
  stages: [
    { name: "one", type: "count-records" },
    { name: "two", type: "count-records", records: 5, splits: ["pool"] },
  ],
});

/** The error message of resolving `doc`, or a failure if it resolves. */
function errorOf(doc: unknown, options = {}): string {
  try {
    resolveRecipe(doc, "r.yaml", options);
  } catch (error) {
    return (error as Error).message;
  }
  assert.fail("the recipe was accepted");
}

test("a valid recipe gets its defaults, and the stage its kind's defaults plus name and type", () => {
  const r = resolveRecipe(base(), "r.yaml");
  assert.equal(r.seed, 0);
  assert.equal(r.threads, 2);
  assert.equal(r.profile, null);
  assert.deepEqual(r.eval, {
    benches: ["pope-random", "chair"],
    split: "test",
    limit: 400,
    batchSize: 16,
    describeFirst: false,
    describePromptSet: "sceneworld",
    describeMaxTokens: 128,
  });
  assert.deepEqual(r.stages[0], {
    name: "one",
    type: "count-records",
    records: 3,
    sleepMs: 0,
    dpo: { beta: 0.1 },
    splits: [],
    trains: true,
  });
  assert.equal(defaultRunDir(r), "runs/t-seed0");
  const all = resolveRecipe({ ...base(), eval: undefined }, "r.yaml");
  assert.deepEqual(all.eval.benches, [...BENCH_NAMES]);
});

test("errors name the file and the exact field", () => {
  const badType = base() as Record<string, unknown>;
  badType.seed = "zero";
  assert.equal(errorOf(badType), 'r.yaml: seed: expected a number, got "zero"');

  const missing = base() as Record<string, unknown>;
  delete missing.model;
  assert.equal(errorOf(missing), "r.yaml: model: required field missing (expected a string)");

  const nested = base();
  (nested.stages[1] as Record<string, unknown>).dpo = { beta: -1 };
  assert.equal(errorOf(nested), "r.yaml: stages[1].dpo.beta: expected a number > 0, got -1");

  const unknownType = base();
  unknownType.stages[0].type = "nope";
  assert.equal(errorOf(unknownType), 'r.yaml: stages[0].type: unknown type "nope"; known types: count-records');

  const noType = base();
  delete (noType.stages[1] as Record<string, unknown>).type;
  assert.match(errorOf(noType), /^r\.yaml: stages\[1\]\.type: required field missing; known types: count-records$/);

  const unknownField = base();
  (unknownField.stages[0] as Record<string, unknown>).recods = 3;
  assert.equal(
    errorOf(unknownField),
    "r.yaml: stages[0].recods: unknown field; allowed fields: records, sleepMs, dpo, splits, trains, name, type, evaluate, dataOnly, trainElsewhere",
  );

  const badBench = base();
  badBench.eval.benches = ["pope-random", "pope"];
  assert.match(errorOf(badBench), /^r\.yaml: eval\.benches\[1\]: expected one of: pope-random, .*, got "pope"$/);

  const twice = base();
  twice.stages[1].name = "one";
  assert.equal(errorOf(twice), "r.yaml: stages[1].name: 'one' is already the name of stages[0]");

  // Several problems: one line each.
  const many = base() as Record<string, unknown>;
  many.threads = 0;
  many.extra = true;
  assert.equal(
    errorOf(many),
    [
      "r.yaml: threads: expected a number >= 1, got 0",
      "r.yaml: extra: unknown field; allowed fields: name, seed, threads, world, images, model, trainElsewhere, eval, profiles, stages",
    ].join("\n"),
  );
});

test("profiles: unknown profile, a stage name that does not exist, and bad values inside a profile", () => {
  assert.equal(errorOf(base(), { profile: "slow" }), "r.yaml: profile 'slow' not found; profiles: quick, typo, bad");
  const none = base() as Record<string, unknown>;
  delete none.profiles;
  assert.equal(errorOf(none, { profile: "quick" }), "r.yaml: profile 'quick' not found; the recipe has no profiles");
  assert.equal(
    errorOf(base(), { profile: "typo" }),
    "r.yaml: profiles.typo.stages[0].name: no stage named 'tow' (stages: one, two)",
  );
  assert.equal(
    errorOf(base(), { profile: "bad" }),
    "r.yaml (with profile 'bad'): stages[0].records: expected a number >= 1, got 0",
  );
});

test("profile merge: objects deep-merge, stages merge by name, overrides win", () => {
  const r = resolveRecipe(base(), "r.yaml", { profile: "quick", seed: 7, threads: 1 });
  assert.equal(r.profile, "quick");
  assert.equal(r.seed, 7);
  assert.equal(r.threads, 1);
  // eval.limit from the profile; benches kept from the recipe.
  assert.deepEqual(r.eval.benches, ["pope-random", "chair"]);
  assert.equal(r.eval.limit, 60);
  // stage "two": beta from the profile, records and splits kept; stage "one" untouched.
  assert.deepEqual(r.stages[1].dpo, { beta: 0.5 });
  assert.equal(r.stages[1].records, 5);
  assert.deepEqual(r.stages[1].splits, ["pool"]);
  assert.deepEqual(r.stages[0].dpo, { beta: 0.1 });
  assert.equal(defaultRunDir(r), "runs/t-quick-seed7");

  // Several profiles merge in order, the later winning; the run is labelled by all of them.
  const doc = base();
  (doc.profiles as Record<string, unknown>).later = { eval: { limit: 30 }, stages: [{ name: "two", records: 2 }] };
  const both = resolveRecipe(doc, "r.yaml", { profile: "quick,later" });
  assert.equal(both.eval.limit, 30);
  assert.deepEqual(both.stages[1].dpo, { beta: 0.5 });
  assert.equal(both.stages[1].records, 2);
  assert.equal(defaultRunDir(both), "runs/t-quick+later-seed0");
  assert.equal(
    errorOf(doc, { profile: "quick,slow" }),
    "r.yaml: profile 'slow' not found; profiles: quick, typo, bad, later",
  );
  assert.equal(
    errorOf(doc, { profile: "quick,bad" }),
    "r.yaml (with profiles 'quick', 'bad'): stages[0].records: expected a number >= 1, got 0",
  );

  // Arrays other than stages are replaced whole.
  const merged = applyProfile({ eval: { benches: ["a", "b"] }, stages: [] }, "p", { eval: { benches: ["c"] } });
  assert.deepEqual(merged, { eval: { benches: ["c"] }, stages: [] });
});

test("loadRecipe reads YAML, names the file in errors, and hashes the bytes", () => {
  const dir = tmp("recipe-");
  const path = join(dir, "bad.yaml");
  writeFileSync(
    path,
    "name: t\nworld: { config: w, dir: d }\nmodel: m\nstages:\n  - { name: s, type: count-records, dpo: { beta: 0 } }\n",
  );
  assert.throws(() => loadRecipe(path), { message: `${path}: stages[0].dpo.beta: expected a number > 0, got 0` });
  writeFileSync(path, "name: [unclosed\n");
  assert.throws(() => loadRecipe(path), /bad\.yaml: not valid YAML/);
  writeFileSync(path, "name: t\nworld: { config: w, dir: d }\nmodel: m\nstages: []\n");
  const loaded = loadRecipe(path);
  assert.match(loaded.sha256, /^[0-9a-f]{64}$/);
});

test("stage seeds depend on the run seed and the stage name only", () => {
  assert.equal(stageSeed(0, "a"), stageSeed(0, "a"));
  assert.notEqual(stageSeed(0, "a"), stageSeed(1, "a"));
  assert.notEqual(stageSeed(0, "a"), stageSeed(0, "b"));
  assert.ok(Number.isInteger(stageSeed(3, "x")) && stageSeed(3, "x") >= 0 && stageSeed(3, "x") < 2 ** 31);
});
