import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { compareRunDirs } from "../../src/run/compare-runs.js";
import { ConfigChangedError } from "../../src/run/manifest.js";
import { type Report, runRecipe } from "../../src/run/runner.js";
import { WorldMismatchError } from "../../src/run/world.js";
import { fakeDeps, fakeModel, registerTestKinds, tinyWorldConfig, tmp } from "./kinds.js";

registerTestKinds();

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

/** A recipe in a fresh folder: stage `s1` trains (evaluated), `s2` does not; eval is pope-random. */
function setup(extra = "") {
  const dir = tmp();
  const model = fakeModel(join(dir, "base"));
  const world = tinyWorldConfig(join(dir, "world.yaml"));
  const recipe = join(dir, "r.yaml");
  writeFileSync(
    recipe,
    `name: t
world: { config: ${world}, dir: ${join(dir, "world")} }
model: ${model}
eval: { benches: [pope-random], batchSize: 3 }
profiles:
  quick: { eval: { limit: 2 } }
stages:
  - { name: s1, type: count-records, records: 2, splits: [pool] }
  - { name: s2, type: count-records, records: 1, trains: false }
${extra}`,
  );
  return { dir, model, recipe, out: join(dir, "run") };
}

test("a run writes the resolved config, the manifest, stage outputs and report.json; a rerun redoes nothing", async () => {
  const { dir, model, recipe, out } = setup();
  const lines: string[] = [];
  const calls: string[] = [];
  const { runDir, report } = await runRecipe({ recipePath: recipe, out, deps: fakeDeps(lines, calls) });
  assert.equal(runDir, out);

  // The base model says yes to everything: 2 TP + 2 FP. The trained s1 model answers right.
  const s1Model = join(out, "stages", "s1", "model");
  const expected: Pick<Report, "rounds"> = {
    rounds: [
      {
        name: "base",
        model,
        metrics: { "pope-random": { accuracy: 0.5, precision: 0.5, recall: 1, f1: 2 / 3, yes_ratio: 1 } },
      },
      {
        name: "s1",
        model: s1Model,
        metrics: { "pope-random": { accuracy: 1, precision: 1, recall: 1, f1: 1, yes_ratio: 0.5 } },
      },
    ],
  };
  assert.deepEqual(report.rounds, expected.rounds);
  const stored = readJson(join(out, "report.json"));
  assert.deepEqual(stored.rounds, expected.rounds);
  // The comparison with the base round: the rows `selfsynth compare <run>` gives, seeded alike.
  assert.deepEqual(stored.comparison, report.comparison);
  assert.deepEqual(report.comparison, compareRunDirs([out]));
  const accuracy = report.comparison!.rows.filter((r) => r.metric === "accuracy");
  assert.deepEqual(
    accuracy.map((r) => [r.round, r.mean, r.diff, r.verdict]),
    [
      ["base", 0.5, null, "baseline"],
      ["s1", 1, 0.5, "no detectable difference"], // 4 items: no absent object drawn in 1/16 of resamples
    ],
  );
  assert.ok(existsSync(join(out, "eval", "base", "pope-random.records.jsonl")));
  assert.ok(existsSync(join(out, "eval", "s1", "pope-random.json")));
  assert.ok(!existsSync(join(out, "eval", "s2")), "s2 does not ask to be evaluated");

  const config = readJson(join(out, "config.resolved.json"));
  assert.equal(config.profile, null);
  assert.equal(config.stages[0].dpo.beta, 0.1);
  assert.equal(config.profiles, undefined);

  const manifest = readJson(join(out, "manifest.json"));
  assert.equal(manifest.selfsynth, JSON.parse(readFileSync("package.json", "utf8")).version);
  assert.equal(manifest.libtorch, "test-torch");
  assert.equal(manifest.node, process.version);
  assert.match(manifest.recipe.sha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(Object.keys(manifest.inputs.model.files), ["weights.bin"]);
  assert.deepEqual(Object.keys(manifest.stageSeeds), ["s1", "s2"]);
  assert.ok(manifest.finishedAt);
  assert.ok(manifest.stages.s1.files["model/trained.json"].match(/^[0-9a-f]{64}$/));
  assert.ok(manifest.stages.s1.files["records/1.json"]);
  assert.equal(manifest.stages.s2.model, "./stages/s2/model");

  // s2 starts from s1's model.
  const s2 = readJson(join(out, "stages", "s2", "model", "trained.json"));
  assert.equal(s2.stage, "s2");
  assert.ok(existsSync(join(out, "stages", "s2", "model", "trained.json")));
  assert.equal(readJson(join(out, "stages", "s2", "stage.json")).model, "./stages/s2/model");

  // Rerun: nothing asked of any model, no stage run again, the same report.
  const execLog = readFileSync(join(out, "stages", "s1", "exec.log"), "utf8");
  const before = calls.length;
  const again = await runRecipe({ recipePath: recipe, out, deps: fakeDeps([], calls) });
  assert.equal(calls.length, before);
  assert.equal(readFileSync(join(out, "stages", "s1", "exec.log"), "utf8"), execLog);
  assert.deepEqual(again.report, report);
  assert.match(readFileSync(join(out, "run.log"), "utf8"), /stage s1: finished earlier, skipped/);
  assert.ok(!existsSync(join(out, ".lock")));
  void dir;
});

test("a rerun with another config is refused, naming the fields that differ", async () => {
  const { recipe, out } = setup();
  await runRecipe({ recipePath: recipe, out, deps: fakeDeps() });
  await assert.rejects(runRecipe({ recipePath: recipe, out, profile: "quick", seed: 3, deps: fakeDeps() }), (error) => {
    assert.ok(error instanceof ConfigChangedError);
    assert.match(error.message, /was started with another config .*; differing fields: profile, seed, eval\n/);
    assert.match(error.message, /\n {2}eval\.limit: \(none\) in the run, 2 now\n/);
    assert.match(error.message, /pass --out <another folder>/);
    return true;
  });
  // The default folder carries profile and seed, so that run is separate.
  const other = await runRecipe({ recipePath: recipe, out: `${out}-quick`, profile: "quick", deps: fakeDeps() });
  assert.equal(other.report.rounds.length, 2);
});

test("a changed starting model is refused on rerun", async () => {
  const { model, recipe, out } = setup();
  await runRecipe({ recipePath: recipe, out, deps: fakeDeps() });
  writeFileSync(join(model, "weights.bin"), "other weights");
  await assert.rejects(runRecipe({ recipePath: recipe, out, deps: fakeDeps() }), /the starting model .* changed since/);
});

test("world splits: only the needed ones are built, once; a folder of another world config is refused", async () => {
  const { dir, recipe, out } = setup();
  await runRecipe({ recipePath: recipe, out, deps: fakeDeps() });
  const world = join(dir, "world");
  // eval reads test; s1 asks for pool; nothing else is built.
  assert.ok(existsSync(join(world, "test.meta.json")));
  assert.ok(existsSync(join(world, "pool.meta.json")));
  assert.ok(!existsSync(join(world, "validation.meta.json")));
  assert.ok(!existsSync(join(world, "instruction.meta.json")));
  const meta = readFileSync(join(world, "test.meta.json"), "utf8");

  // Another run over the same world folder builds nothing.
  await runRecipe({ recipePath: recipe, out: `${out}2`, deps: fakeDeps() });
  const log = readFileSync(join(`${out}2`, "run.log"), "utf8");
  assert.doesNotMatch(log, /building split/);
  assert.match(readFileSync(join(out, "run.log"), "utf8"), /building split 'pool'/);
  assert.equal(readFileSync(join(world, "test.meta.json"), "utf8"), meta);

  // POPE popular needs the instruction split's statistics: built on demand.
  const popular = join(dir, "popular.yaml");
  writeFileSync(popular, readFileSync(recipe, "utf8").replace("[pope-random]", "[pope-random, pope-popular]"));
  await runRecipe({ recipePath: popular, out: join(dir, "run-popular"), deps: fakeDeps() });
  assert.ok(existsSync(join(world, "instruction.meta.json")));

  // The same folder with another world config: refused before any stage.
  tinyWorldConfig(join(dir, "world.yaml"), 5);
  await assert.rejects(runRecipe({ recipePath: recipe, out: join(dir, "run3"), deps: fakeDeps() }), (error) => {
    assert.ok(error instanceof WorldMismatchError);
    assert.match(error.message, /holds split '\w+' built from another world config/);
    assert.match(error.message, /set world\.dir to another folder/);
    return true;
  });
  assert.ok(!existsSync(join(dir, "run3", "stages")));
});

test("a live run folder is refused; a lock left by a dead process is taken over", async () => {
  const { recipe, out } = setup();
  const { mkdirSync } = await import("node:fs");
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, ".lock"), String(process.ppid));
  await assert.rejects(runRecipe({ recipePath: recipe, out, deps: fakeDeps() }), /is in use by process/);
  writeFileSync(join(out, ".lock"), "999999999");
  await runRecipe({ recipePath: recipe, out, deps: fakeDeps() });
});
