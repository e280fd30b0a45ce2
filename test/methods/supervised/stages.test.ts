// The supervised-sft stage end to end on the tiny world and random-weights VLM of STIC's stage
// tests (the real runner, embedded backend, trainer and world benches): the pool's truth written
// as records without opening a model, trained, evaluated as a round; a description missing from
// the truth is a reason-coded drop; records killed half-written are made again, the same.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { EmbeddedBackend } from "../../../src/backends/embedded.js";
import type { VisionLanguageModel } from "../../../src/backends/types.js";
import { readRecords } from "../../../src/data/dataset.js";
import { ImageStore } from "../../../src/data/image-store.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { storeImage } from "../../../src/methods/common/stage-data.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { groundTruthRecords, poolTruthItems } from "../../../src/methods/supervised/ground-truth.js";
import { stageSeed } from "../../../src/run/recipe.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { readMetrics } from "../../../src/train/metrics.js";
import { quietDeps, tinyWorldStage } from "../stic/stage-fixtures.js";

setNumThreads(1);
registerBuiltinMethods();

// The world's descriptions run to about 170 tokens here (STIC's tests generate 12).
const { dir, world, worldDir, base } = tinyWorldStage("supervised-stages-", 320);

const IMAGES = 7;
const PER_IMAGE = 2;

function writeRecipe(path: string, o: { worldDir: string; benches: string[] }): string {
  writeFileSync(
    path,
    `name: supervised-test
seed: 0
threads: 1
world: { config: ${world}, dir: ${o.worldDir} }
model: ${base}
eval: { benches: [${o.benches.join(", ")}], limit: 3, batchSize: 2 }
stages:
  - name: supervised
    type: supervised-sft
    images: ${IMAGES}
    questionsPerImage: ${PER_IMAGE}
    lora: { r: 4, alpha: 8 }
    train: { lr: 1.0e-3, maxSteps: 2, batchSize: 2 }
`,
  );
  return path;
}

const stageDir = (run: string) => join(run, "stages", "supervised");
const dataDir = (run: string) => join(stageDir(run), "data");
const recordsPath = (run: string) => join(dataDir(run), "ground-truth.jsonl");
const dropsPath = (run: string) => join(dataDir(run), "drops.jsonl");
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Deps that record which models are opened (only evaluation should open any). */
function watchedDeps(lines: string[], opened: string[], allow: boolean) {
  return {
    ...quietDeps(lines),
    openModel: async (model: string): Promise<VisionLanguageModel> => {
      opened.push(model);
      if (!allow) throw new Error(`opened ${model}`);
      return EmbeddedBackend.load(model);
    },
  };
}

test("supervised-sft writes the pool's truth as records without a model, trains, and is evaluated as a round", async () => {
  const run = join(dir, "run");
  const lines: string[] = [];
  const opened: string[] = [];
  const recipe = writeRecipe(join(dir, "supervised.yaml"), { worldDir, benches: ["pope-random"] });
  await runRecipe({ recipePath: recipe, out: run, deps: watchedDeps(lines, opened, true) });

  // The records: exactly what groundTruthRecords makes of the stage's pool images and seed.
  const seed = stageSeed(0, "supervised");
  const records = readRecords(recordsPath(run), "sft", { root: dataDir(run) });
  const want = await groundTruthRecords(poolTruthItems(worldDir, IMAGES, seed), {
    stage: "supervised",
    seed,
    questionsPerImage: PER_IMAGE,
    imagePath: storeImage(new ImageStore(dataDir(run))),
  });
  assert.deepEqual(records, want.records);
  assert.equal(want.descriptions, IMAGES);
  assert.ok(want.questions > 0);
  assert.equal(readFileSync(dropsPath(run), "utf8"), "");
  assert.ok(records.every((r) => r.provenance.method === "supervised" && r.provenance.reasons?.[0] === "ground-truth"));

  // It says it reads labels, and no model was opened but the evaluated ones.
  const model = join(stageDir(run), "model");
  assert.deepEqual(opened, [base, model]);
  assert.ok(
    lines.some((l) => /reads the pool's ground truth.*not a self-improvement method/.test(l)),
    "a log line says it reads labels",
  );
  assert.ok(lines.some((l) => l.includes(`${records.length} ground-truth records from ${IMAGES} pool images`)));

  // Trained (SFT, two steps) and evaluated as a round.
  const metrics = readMetrics(join(stageDir(run), "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  assert.ok(metrics.every((m) => Number.isFinite(m.loss)));
  assert.notEqual(sha256(join(model, "model.safetensors")), sha256(join(base, "model.safetensors")));
  const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8")) as Report;
  assert.deepEqual(
    report.rounds.map((r) => [r.name, r.model]),
    [
      ["base", base],
      ["supervised", model],
    ],
  );
  assert.deepEqual(Object.keys(report.rounds[1].metrics), ["pope-random"]);
});

test("a missing description is a reason-coded drop; records killed half-written are made again, the same", async () => {
  // A copy of the world whose truth lacks the description of one image the stage draws.
  const copy = join(dir, "world-no-description");
  cpSync(worldDir, copy, { recursive: true });
  const [victim] = poolTruthItems(copy, IMAGES, stageSeed(0, "supervised"));
  const truthPath = join(copy, "pool-truth.jsonl");
  const edited = readFileSync(truthPath, "utf8")
    .split("\n")
    .map((line) => {
      if (line === "") return line;
      const r = JSON.parse(line) as { id: string; description?: string };
      if (r.id === victim.id) delete r.description;
      return JSON.stringify(r);
    });
  writeFileSync(truthPath, edited.join("\n"));

  const run = join(dir, "run-drop");
  const lines: string[] = [];
  const recipe = writeRecipe(join(dir, "drop.yaml"), { worldDir: copy, benches: [] });
  await runRecipe({ recipePath: recipe, out: run, deps: watchedDeps(lines, [], false) });
  assert.equal(
    readFileSync(dropsPath(run), "utf8"),
    `${JSON.stringify({ itemId: victim.id, reason: "no-description" })}\n`,
  );
  const records = readRecords(recordsPath(run), "sft", { root: dataDir(run) });
  assert.ok(records.every((r) => r.provenance.source !== victim.id));
  assert.equal(records.filter((r) => r.id.endsWith("/description")).length, IMAGES - 1);
  assert.ok(lines.some((l) => l.includes(`dropped {"no-description":1}`)));

  // Killed while writing its records: the step never finished, the record file is torn.
  const recordsBytes = readFileSync(recordsPath(run), "utf8");
  const model = sha256(join(stageDir(run), "model", "model.safetensors"));
  for (const file of ["stage.json", "steps/records.json", "steps/train.json"]) rmSync(join(stageDir(run), file));
  rmSync(join(stageDir(run), "model"), { recursive: true });
  writeFileSync(recordsPath(run), recordsBytes.slice(0, recordsBytes.length / 2));
  writeFileSync(dropsPath(run), "");
  await runRecipe({ recipePath: recipe, out: run, deps: watchedDeps([], [], false) });
  assert.equal(readFileSync(recordsPath(run), "utf8"), recordsBytes);
  assert.equal(
    readFileSync(dropsPath(run), "utf8"),
    `${JSON.stringify({ itemId: victim.id, reason: "no-description" })}\n`,
  );
  assert.equal(sha256(join(stageDir(run), "model", "model.safetensors")), model);
});
