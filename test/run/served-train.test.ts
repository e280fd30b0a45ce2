// Training when the model is served, at the runner (fake endpoints, a test stage kind that writes
// one preference pair and trains through trainStageModel): a training stage hands its training
// off and the run waits; a rerun waits again without work; --continue-with records the served
// trained model, evaluates the stage's round over it and goes on, waiting again at the next
// training stage; bad continuations leave the run waiting; a finished run refuses one.
// (test/cli/run-served-train.test.ts runs the same over real `selfsynth serve` processes.)
import assert from "node:assert/strict";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { BackendNeeds } from "../../src/backends/index.js";
import type { PreferenceRecord } from "../../src/data/records.js";
import { encodePng } from "../../src/images/codec.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../../src/methods/common/fine-tune.js";
import { openStageData } from "../../src/methods/common/stage-data.js";
import { type RunDeps, runRecipe } from "../../src/run/runner.js";
import { defineStageKind, registerStageKind } from "../../src/run/stage-kind.js";
import { DpoOptionsSchema } from "../../src/train/dpo.js";
import { FakeModel, fakeDeps, tinyWorldConfig, tmp } from "./kinds.js";

/** One preference pair from the input model (opened, as a generating stage would), then trainStageModel. */
const onePair = defineStageKind({
  type: "test-one-pair",
  schema: z.object({
    objective: z.enum(["dpo", "sft"]).default("dpo"),
    dpo: DpoOptionsSchema.prefault({}),
    lora: LoraSchema.prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needs: () => ({ backend: { images: 1 }, weights: true }),
  async run(ctx, config) {
    const data = openStageData(ctx, "pairs.jsonl");
    await ctx.step("one-pair", async () => {
      const backend = await ctx.openModel(ctx.inputModel);
      await backend.close();
      appendFileSync(join(ctx.stageDir, "exec.log"), `pairs from ${ctx.inputModel}\n`);
      const pixels = new Uint8Array(8 * 8 * 3).fill(ctx.name.length * 20);
      const image = await data.store.put(await encodePng({ width: 8, height: 8, data: pixels }), "image/png");
      const pair: PreferenceRecord = {
        kind: "preference",
        id: `${ctx.name}-0`,
        images: [image],
        prompt: [{ role: "user", content: "<image>\nDescribe the image." }],
        chosen: "A red star.",
        rejected: "A red star and a heart.",
        provenance: { method: "test", stage: ctx.name, model: ctx.inputModel },
      };
      writeFileSync(data.recordsPath, `${JSON.stringify(pair)}\n`);
    });
    return trainStageModel({
      ctx,
      datasetRoot: data.root,
      recordsPath: data.recordsPath,
      objective: config.objective === "dpo" ? { kind: "dpo", dpo: config.dpo } : { kind: "sft" },
      lora: config.lora,
      train: config.train,
    });
  },
});
registerStageKind(onePair);

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8"));

interface Opened {
  url: string;
  model: string;
  needs?: BackendNeeds;
}

/** Fake deps whose endpoints are FakeModels named served-<model>; :9 refuses; two-models lists two. */
function servedDeps(opened: Opened[], calls: string[]): Partial<RunDeps> {
  return {
    ...fakeDeps([], calls),
    openEndpoint: async (spec, needs) => {
      opened.push({ url: spec.baseUrls[0], model: spec.model, ...(needs === undefined ? {} : { needs }) });
      if (spec.baseUrls[0].includes(":9/"))
        throw new Error(`endpoint ${spec.baseUrls[0]}: probing GET /models failed: connect ECONNREFUSED`);
      return new FakeModel(`served-${spec.model}`, calls);
    },
    listModels: async (spec) => (spec.baseUrls[0].includes("two-models") ? ["a", "b"] : ["only-one"]),
  };
}

function setup() {
  const dir = tmp("served-train-");
  const world = tinyWorldConfig(join(dir, "world.yaml"));
  const recipe = join(dir, "r.yaml");
  writeFileSync(
    recipe,
    `name: t
world: { config: ${world}, dir: ${join(dir, "world")} }
model: { endpoint: { baseUrls: ["http://base.test:8000/v1"], model: base, maxAttempts: 2 } }
trainElsewhere: { baseModel: org/base-weights, template: llava }
eval: { benches: [pope-random], batchSize: 4 }
stages:
  - { name: s1, type: test-one-pair, dpo: { beta: 0.3 } }
  - { name: s2, type: test-one-pair, objective: sft }
`,
  );
  return { dir, recipe, out: join(dir, "run") };
}

const lfYaml = (out: string, stage: string) =>
  parseYaml(readFileSync(join(out, "stages", stage, "export", "llamafactory-train.yaml"), "utf8"), { version: "1.1" });

test("a training stage over a served model waits; --continue-with goes on, evaluates it, waits again at the next", async () => {
  const { recipe, out } = setup();
  const opened: Opened[] = [];
  const calls: string[] = [];
  const deps = servedDeps(opened, calls);

  // 1. Stage s1 makes its pair from the served base, hands its training off, and the run waits.
  const first = await runRecipe({ recipePath: recipe, out, deps });
  assert.equal(first.waiting?.stage, "s1");
  const message = `run ${out}: waiting for stage s1's model: train it with ${join(out, "stages", "s1", "export", "TRAIN.md")}, serve it, then: selfsynth run ${recipe} --out ${out} --continue-with http://HOST:PORT/v1 [--continue-model NAME]`;
  assert.equal(first.waiting?.message, message);
  assert.deepEqual(readJson(join(out, "waiting.json")), first.waiting);
  const manifest = readJson(join(out, "manifest.json"));
  assert.equal(manifest.status, "waiting");
  assert.equal(manifest.waiting.stage, "s1");
  assert.equal(manifest.finishedAt, null);
  assert.ok(!existsSync(join(out, "stages", "s1", "stage.json")), "s1 is not done: it waits");
  assert.ok(!existsSync(join(out, "stages", "s1", "model")), "nothing trained here");
  assert.deepEqual(
    first.report.rounds.map((r) => [r.name, r.model]),
    [["base", "endpoint:base@http://base.test:8000/v1"]],
  );
  // The export: the recipe's trainElsewhere names the weights and the template; the stage's beta.
  const yaml1 = lfYaml(out, "s1");
  assert.equal(yaml1.model_name_or_path, "org/base-weights");
  assert.equal(yaml1.template, "llava");
  assert.equal(yaml1.stage, "dpo");
  assert.equal(yaml1.pref_beta, 0.3);
  assert.equal(first.waiting?.handoff.records, 1);
  assert.ok(existsSync(join(out, "stages", "s1", "export", "trl", "preference.jsonl")));
  assert.match(
    readFileSync(join(out, "stages", "s1", "export", "TRAIN.md"), "utf8"),
    new RegExp(`selfsynth run ${recipe} --out ${out} --continue-with http://HOST:8000/v1 --continue-model s1`),
  );

  // 2. A rerun waits again: the same message, no probe, no model asked, nothing redone.
  const openedBefore = opened.length;
  const callsBefore = calls.length;
  const execLog = readFileSync(join(out, "stages", "s1", "exec.log"), "utf8");
  const again = await runRecipe({ recipePath: recipe, out, deps });
  assert.deepEqual(again.waiting, first.waiting);
  assert.deepEqual(again.report.rounds, first.report.rounds);
  assert.equal(opened.length, openedBefore);
  assert.equal(calls.length, callsBefore);
  assert.equal(readFileSync(join(out, "stages", "s1", "exec.log"), "utf8"), execLog);

  // 3. Bad continuations: a refused connection names the URL; a server listing two models asks
  //    for --continue-model; a URL that is none. The run still waits, s1 still undone.
  await assert.rejects(
    runRecipe({ recipePath: recipe, out, deps, continueWith: { baseUrl: "http://127.0.0.1:9/v1", model: "m1" } }),
    /endpoint http:\/\/127\.0\.0\.1:9\/v1: probing GET \/models failed/,
  );
  await assert.rejects(
    runRecipe({ recipePath: recipe, out, deps, continueWith: { baseUrl: "http://two-models.test/v1" } }),
    /--continue-with http:\/\/two-models\.test\/v1: the server lists several models \(a, b\); name the trained one with --continue-model NAME/,
  );
  await assert.rejects(
    runRecipe({ recipePath: recipe, out, deps, continueWith: { baseUrl: "gpu1:8000" } }),
    /--continue-with gpu1:8000: expected the server's http\(s\) base URL/,
  );
  assert.ok(existsSync(join(out, "waiting.json")));
  assert.ok(!existsSync(join(out, "stages", "s1", "stage.json")));

  // 4. Continue with the trained model m1: probed for what the rest asks (s2's images, the benches),
  //    recorded in s1's stage.json, evaluated as s1's round, and s2 starts from it, then waits.
  const waitingS1 = readFileSync(join(out, "waiting.json"));
  const second = await runRecipe({
    recipePath: recipe,
    out,
    deps,
    continueWith: { baseUrl: "http://trained1.test/v1", model: "m1" },
  });
  const m1 = "endpoint:m1@http://trained1.test/v1";
  const probe = opened.find((o) => o.url === "http://trained1.test/v1" && o.needs !== undefined);
  assert.deepEqual(probe, { url: "http://trained1.test/v1", model: "m1", needs: { images: 1 } });
  const s1 = readJson(join(out, "stages", "s1", "stage.json"));
  assert.equal(s1.model, m1);
  assert.deepEqual(s1.continuedWith.endpoint, {
    baseUrls: ["http://trained1.test/v1"],
    maxAttempts: 2, // the client settings of the endpoint s1 started from
    model: "m1",
  });
  assert.equal(s1.continuedWith.export, join(out, "stages", "s1", "export"));
  assert.ok(
    calls.some((c) => c.startsWith("served-m1:")),
    "s1's round asked m1",
  );
  assert.ok(existsSync(join(out, "eval", "s1", "pope-random.json")));
  assert.match(readFileSync(join(out, "stages", "s2", "exec.log"), "utf8"), new RegExp(`pairs from ${m1}\n`));
  assert.equal(second.waiting?.stage, "s2");
  assert.ok(!existsSync(join(out, "stages", "s2", "stage.json")));
  // s2's configs: the recipe's baseModel named the recipe's weights, not m1's; the template carries over.
  const yaml2 = lfYaml(out, "s2");
  assert.equal(yaml2.model_name_or_path, "m1");
  assert.equal(yaml2.template, "llava");
  assert.equal(yaml2.stage, "sft");
  const manifest2 = readJson(join(out, "manifest.json"));
  assert.equal(manifest2.status, "waiting");
  assert.equal(manifest2.stages.s1.model, m1);
  assert.equal(manifest2.stages.s1.continuedWith.endpoint.model, "m1");

  // 5. Continue s2 without --continue-model: the server lists one model, that one. The run finishes.
  const third = await runRecipe({
    recipePath: recipe,
    out,
    deps,
    continueWith: { baseUrl: "http://trained2.test/v1" },
  });
  assert.equal(third.waiting, undefined);
  assert.ok(!existsSync(join(out, "waiting.json")));
  const only = "endpoint:only-one@http://trained2.test/v1";
  assert.deepEqual(
    third.report.rounds.map((r) => [r.name, r.model]),
    [
      ["base", "endpoint:base@http://base.test:8000/v1"],
      ["s1", m1],
      ["s2", only],
    ],
  );
  const done = readJson(join(out, "manifest.json"));
  assert.equal(done.status, "finished");
  assert.ok(done.finishedAt);
  assert.equal(done.waiting, undefined);
  assert.equal(done.stages.s1.continuedWith.endpoint.model, "m1");
  assert.equal(done.stages.s2.model, only);
  assert.equal(readJson(join(out, "stages", "s2", "stage.json")).continuedWith.endpoint.model, "only-one");
  assert.ok(existsSync(join(out, "report.html")), "the report page is built with the continued rounds");
  assert.doesNotMatch(readFileSync(join(out, "run.log"), "utf8"), /report\.html not written/);

  // 6. A finished run refuses --continue-with; a plain rerun redoes nothing.
  await assert.rejects(
    runRecipe({ recipePath: recipe, out, deps, continueWith: { baseUrl: "http://trained3.test/v1", model: "x" } }),
    new RegExp(`run ${out} has finished: --continue-with continues a run that waits for a stage's trained model`),
  );
  const callsDone = calls.length;
  const rerun = await runRecipe({ recipePath: recipe, out, deps });
  assert.deepEqual(rerun.report.rounds, third.report.rounds);
  assert.equal(calls.length, callsDone, "no model asked again");

  // 7. Killed between a continuation's stage.json and the removal of waiting.json: the stale file
  //    is dropped and the run is not waiting.
  writeFileSync(join(out, "waiting.json"), waitingS1);
  const stale = await runRecipe({ recipePath: recipe, out, deps });
  assert.equal(stale.waiting, undefined);
  assert.ok(!existsSync(join(out, "waiting.json")));
});

test("--continue-with on a run that has not started, or is not waiting, is refused", async () => {
  const { recipe, out, dir } = setup();
  const deps = servedDeps([], []);
  await assert.rejects(
    runRecipe({ recipePath: recipe, out, deps, continueWith: { baseUrl: "http://x.test/v1", model: "m" } }),
    new RegExp(`run ${out} has not started: --continue-with continues a run that waits for a model`),
  );
  // A run with a dataOnly stage never waits: nothing to continue.
  const dataOnly = join(dir, "data-only.yaml");
  writeFileSync(
    dataOnly,
    readFileSync(recipe, "utf8")
      .replace("dpo: { beta: 0.3 } }", "dataOnly: true }")
      .replace(/ {2}- \{ name: s2.*\n/, ""),
  );
  const out2 = join(dir, "run-data-only");
  const result = await runRecipe({ recipePath: dataOnly, out: out2, deps });
  assert.equal(result.waiting, undefined);
  assert.equal(readJson(join(out2, "stages", "s1", "stage.json")).model, "endpoint:base@http://base.test:8000/v1");
  assert.ok(!existsSync(join(out2, "stages", "s1", "export")), "dataOnly: no hand-off");
  const manifest = readJson(join(out2, "manifest.json"));
  manifest.finishedAt = null; // as if it had been killed before the end
  writeFileSync(join(out2, "manifest.json"), JSON.stringify(manifest));
  await assert.rejects(
    runRecipe({ recipePath: dataOnly, out: out2, deps, continueWith: { baseUrl: "http://x.test/v1", model: "m" } }),
    new RegExp(
      `run ${out2} is not waiting for a model: --continue-with continues a run stopped at a stage that trains a served model; rerun without it to resume`,
    ),
  );
});
