// The BPO stage end to end on a tiny world and a tiny random-weights VLM (the real embedded
// backend, world benches and trainer): positives, pairs from both generators, diagnostics,
// DPO, the report; the SFT-on-positives ablation on the same pairs; a rerun that redoes nothing;
// and a LLaVA or sharegpt file with a missing image, refused with its line before anything is written.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import { setNumThreads } from "../../../src/engine/index.js";
import type { BpoDiagnostics } from "../../../src/methods/bpo/diagnostics.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { loadVLM } from "../../../src/models/vlm-io.js";
import { stageSeed } from "../../../src/run/recipe.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { readMetrics } from "../../../src/train/metrics.js";
import { readWorldSplit } from "../../../src/world/read-split.js";
import { testImage } from "../stic/fake-vlm.js";
import { quietDeps, tinyWorldStage } from "../stic/stage-fixtures.js";

setNumThreads(1);
registerBuiltinMethods();

// The instruction descriptions run to about 170 tokens with the prompt: room for them.
const { dir, world, worldDir, base } = tinyWorldStage("bpo-stages-", 320);

/** A BPO recipe at tiny sizes; `stage` lines override or add stage fields. */
function recipe(name: string, stage: string[] = [], benches = "[pope-random]"): string {
  const path = join(dir, `${name}.yaml`);
  const fields = new Map<string, string>([
    ["positives", "{ source: sceneworld, descriptions: 3, questions: 4 }"],
    ["injection", "{ mode: prior-continuation, maxTokens: 10, cut: { min: 0.25, max: 0.75 } }"],
    ["weakening", "{ t: 900, maxTokens: 10 }"],
    // A random-weights model rarely stops before 10 tokens: keep its cut-off negatives.
    ["dropTruncated", "false"],
    ["chunkSize", "2"],
    ["dpo", "{ beta: 0.1 }"],
    ["lora", "{ r: 4, alpha: 8 }"],
    ["train", "{ lr: 1.0e-3, maxSteps: 2, batchSize: 2 }"],
  ]);
  for (const line of stage) {
    const at = line.indexOf(":");
    fields.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  writeFileSync(
    path,
    `name: bpo-test
seed: 0
threads: 1
world: { config: ${world}, dir: ${worldDir} }
model: ${base}
eval: { benches: ${benches}, limit: 3, batchSize: 2 }
stages:
  - name: bpo
    type: bpo-preferences
${[...fields].map(([k, v]) => `    ${k}: ${v}\n`).join("")}`,
  );
  return path;
}

const stage = (run: string) => join(run, "stages", "bpo");
const data = (run: string) => join(stage(run), "data");
const lines = (path: string) =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { itemId: string; reason: string });
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

let dpoRun: Promise<string> | undefined;
function dpo(): Promise<string> {
  dpoRun ??= (async () => {
    const out = join(dir, "dpo");
    await runRecipe({ recipePath: recipe("dpo"), out, deps: quietDeps() });
    return out;
  })();
  return dpoRun;
}

test("the BPO stage runs end to end: positives, both negatives, diagnostics, DPO and the report", async () => {
  const run = await dpo();
  const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8")) as Report;
  assert.deepEqual(
    report.rounds.map((r) => r.name),
    ["base", "bpo"],
  );
  assert.equal(report.rounds[1].model, join(stage(run), "model"));

  // Positives: 3 descriptions and 4 questions of the instruction split, as SFT records.
  const root = data(run);
  const positives = readRecords(join(root, "positives.jsonl"), "sft", { root });
  const drops = lines(join(root, "drops.jsonl"));
  const positiveDrops = drops.filter((d) => !/\/(injection|weakening)$/.test(d.itemId));
  assert.equal(positives.length + positiveDrops.length, 7);
  const instruction = new Set(readWorldSplit(worldDir, "instruction").map((r) => r.id));
  for (const p of positives) {
    assert.ok(instruction.has(p.provenance.source ?? ""), p.id);
    assert.equal(p.provenance.model, "world:instruction");
  }

  // Pairs: every (positive, generator) gave a pair or a drop; chosen = the positive's answer.
  const pairs = readRecords(join(root, "pairs.jsonl"), "preference", { root });
  const pairDrops = drops.filter((d) => /\/(injection|weakening)$/.test(d.itemId));
  assert.deepEqual(
    [...pairs.map((p) => p.id), ...pairDrops.map((d) => d.itemId)].sort(),
    positives.flatMap((p) => [`${p.id}/injection`, `${p.id}/weakening`]).sort(),
  );
  assert.ok(pairs.length >= 4, `${pairs.length} pairs`);
  const byId = new Map(positives.map((p) => [p.id, p]));
  for (const pair of pairs) {
    const positive = byId.get(pair.id.slice(0, pair.id.lastIndexOf("/")));
    assert.ok(positive, pair.id);
    assert.equal(pair.chosen, positive.messages[1].content);
    assert.deepEqual(pair.prompt, positive.messages.slice(0, 1));
    assert.deepEqual(pair.images, positive.images);
    assert.equal(pair.provenance.seed, stageSeed(0, "bpo"));
    assert.equal(pair.provenance.model, `embedded:${base}`);
    assert.notEqual(pair.rejected, pair.chosen);
  }
  assert.ok(pairs.some((p) => p.id.endsWith("/injection")) && pairs.some((p) => p.id.endsWith("/weakening")));

  // Diagnostics: written beside the data, for both generators, counted over the kept pairs.
  const diagnostics = JSON.parse(readFileSync(join(root, "diagnostics.json"), "utf8")) as BpoDiagnostics;
  assert.equal(diagnostics.generators.injection?.pairs, pairs.filter((p) => p.id.endsWith("/injection")).length);
  assert.equal(diagnostics.generators.weakening?.pairs, pairs.filter((p) => p.id.endsWith("/weakening")).length);
  assert.equal(diagnostics.positives.hallucinated, 0, "the positives are the world's truth");
  const log = readFileSync(join(run, "run.log"), "utf8");
  assert.match(log, /bpo diagnostics: injection: \d+ pairs on scenes/);

  // DPO metrics, and a trained model that loads.
  const metrics = readMetrics(join(stage(run), "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  assert.ok(Number.isFinite(metrics[1]["rewards/margins"]));
  const trained = loadVLM(join(stage(run), "model"));
  assert.equal(trained.model.lora, null);
  trained.model.dispose();
});

test("a rerun of a finished run redoes nothing and changes no file", async () => {
  const run = await dpo();
  const files = ["positives.jsonl", "pairs.jsonl", "drops.jsonl", "diagnostics.json"].map((f) => join(data(run), f));
  const before = files.map(sha256);
  await runRecipe({ recipePath: recipe("dpo"), out: run, deps: quietDeps() });
  assert.deepEqual(files.map(sha256), before);
});

test("sft-positives trains SFT on the chosen sides of the same pairs, for the same steps; balanceYesNo trains on its file", async () => {
  const dpoDir = await dpo();
  const run = join(dir, "sft");
  await runRecipe({
    recipePath: recipe("sft", ["objective: sft-positives", "balanceYesNo: true"], "[]"),
    out: run,
    deps: quietDeps(),
  });
  assert.equal(sha256(join(data(run), "pairs.jsonl")), sha256(join(data(dpoDir), "pairs.jsonl")), "the same pairs");
  const step = (name: string) =>
    (JSON.parse(readFileSync(join(stage(run), "steps", `${name}.json`), "utf8")) as { result: Record<string, number> })
      .result;
  const balanced = readRecords(join(data(run), "pairs-balanced.jsonl"), "preference", { root: data(run) });
  assert.equal(step("yes-no-balance").records, step("pairs").records);
  assert.equal(step("yes-no-balance").kept, balanced.length);
  assert.equal(step("train").examples, balanced.length, "training read the balanced file");
  const metrics = readMetrics(join(stage(run), "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  assert.ok(!("rewards/margins" in metrics[0]), "SFT logs no rewards");
});

test("the contrastive variant runs on the embedded backend; a generator can be turned off", async () => {
  const run = join(dir, "contrastive");
  await runRecipe({
    recipePath: recipe(
      "contrastive",
      ["injection: false", "weakening: { maxTokens: 10, decoding: contrastive }"],
      "[]",
    ),
    out: run,
    deps: quietDeps(),
  });
  const pairs = readRecords(join(data(run), "pairs.jsonl"), "preference", { root: data(run) });
  assert.ok(pairs.length > 0);
  for (const p of pairs) {
    assert.ok(p.id.endsWith("/weakening"), p.id);
    assert.deepEqual(p.provenance.reasons?.[0], "negative:weakening:contrastive");
    assert.equal(p.provenance.sampling?.cd_alpha, 1);
  }
  await assert.rejects(
    runRecipe({
      recipePath: recipe("none", ["injection: false", "weakening: false"], "[]"),
      out: join(dir, "none"),
      deps: quietDeps(),
    }),
    /both false; BPO needs at least one negative generator/,
  );
});

test("a LLaVA file with a missing image is refused with its line, and nothing is written", async () => {
  await dpo(); // builds the world whose images the file names
  const llava = join(dir, "llava.jsonl");
  const entry = (id: string, image: string) =>
    JSON.stringify({
      id,
      image,
      conversations: [
        { from: "human", value: "<image>\nDescribe this image in detail." },
        { from: "gpt", value: "a red star." },
      ],
    });
  writeFileSync(
    llava,
    `${entry("a", "world/images/instruction-s000000.png")}\n${entry("b", "world/images/nope.png")}\n`,
  );
  const run = join(dir, "llava-run");
  await assert.rejects(
    runRecipe({
      recipePath: recipe("llava", [`positives: { source: file, path: ${llava}, format: llava }`], "[]"),
      out: run,
      deps: quietDeps(),
    }),
    new RegExp(`${llava} line 2 \\(id "b"\\): image "world/images/nope.png" not found`),
  );
  assert.ok(!existsSync(join(data(run), "positives.jsonl")), "no positives written");
  assert.ok(!existsSync(join(data(run), "drops.jsonl")), "no drops written");

  // With the image there, the file's answers are the positives.
  writeFileSync(llava, `${entry("a", "world/images/instruction-s000000.png")}\n`);
  const ok = join(dir, "llava-ok");
  await runRecipe({
    recipePath: recipe("llava-ok", [`positives: { source: file, path: ${llava}, format: llava }`], "[]"),
    out: ok,
    deps: quietDeps(),
  });
  const positives = readRecords(join(data(ok), "positives.jsonl"), "sft", { root: data(ok) });
  assert.deepEqual(
    positives.map((p) => [p.id, p.provenance.model, p.provenance.reasons]),
    [["a", `dataset:${llava}`, ["positive", "style:description"]]],
  );
});

test("a sharegpt file (TRL's typed messages) is read as the positives; a missing image is refused with its line", async () => {
  const images = join(dir, "sharegpt-images");
  mkdirSync(images, { recursive: true });
  writeFileSync(join(images, "a.png"), (await testImage(5, 32)).bytes);
  const path = join(dir, "sharegpt.jsonl");
  const entry = (id: string, image: string) =>
    JSON.stringify({
      id,
      messages: [
        { role: "user", content: [{ type: "image" }, { type: "text", text: "Describe this image in detail." }] },
        { role: "assistant", content: [{ type: "text", text: "a red star." }] },
      ],
      images: [image],
    });
  const positives = `positives: { source: file, path: ${path}, format: sharegpt, imageFolder: ${images} }`;
  writeFileSync(path, `${entry("a", "a.png")}\n${entry("b", "nope.png")}\n`);
  const run = join(dir, "sharegpt-run");
  await assert.rejects(
    runRecipe({ recipePath: recipe("sharegpt", [positives], "[]"), out: run, deps: quietDeps() }),
    new RegExp(`${path} line 2 \\(id "b"\\): image "nope.png" not found in ${images}`),
  );
  assert.ok(!existsSync(join(data(run), "positives.jsonl")), "no positives written");
  assert.ok(!existsSync(join(data(run), "drops.jsonl")), "no drops written");

  writeFileSync(path, `${entry("a", "a.png")}\n`);
  const ok = join(dir, "sharegpt-ok");
  await runRecipe({ recipePath: recipe("sharegpt-ok", [positives], "[]"), out: ok, deps: quietDeps() });
  const records = readRecords(join(data(ok), "positives.jsonl"), "sft", { root: data(ok) });
  assert.deepEqual(
    records.map((p) => [p.id, p.messages[0].content, p.provenance.model, p.provenance.reasons]),
    [["a", "<image>\nDescribe this image in detail.", `dataset:${path}`, ["positive", "style:description"]]],
  );
});
