// The STIC recipe stages end to end on a tiny world and a tiny random-weights VLM (the real
// embedded backend, world benches and trainer): records, training, report; the ablation without
// negatives; and a run killed with SIGKILL in the middle of stage 1, resumed, against one never
// interrupted.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { EmbeddedBackend } from "../../../src/backends/embedded.js";
import { readRecords } from "../../../src/data/dataset.js";
import type { PreferenceRecord, SftRecord } from "../../../src/data/records.js";
import { setNumThreads } from "../../../src/engine/index.js";
import { poolItems } from "../../../src/methods/common/world-items.js";
import { registerBuiltinMethods } from "../../../src/methods/index.js";
import { describeImages } from "../../../src/methods/stic/infused.js";
import { sticPairs } from "../../../src/methods/stic/preferences.js";
import { SCENEWORLD_PROMPTS } from "../../../src/methods/stic/prompts.js";
import { loadVLM } from "../../../src/models/vlm-io.js";
import { stageSeed } from "../../../src/run/recipe.js";
import { type Report, runRecipe } from "../../../src/run/runner.js";
import { readMetrics } from "../../../src/train/metrics.js";
import { quietDeps, tinyWorldStage, writeSticRecipe } from "./stage-fixtures.js";

setNumThreads(1);
registerBuiltinMethods();

const repo = fileURLToPath(new URL("../../..", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { dir, world, worldDir, base } = tinyWorldStage("stic-stages-");
const recipe = writeSticRecipe(join(dir, "stic.yaml"), { world, worldDir, model: base });

/** The uninterrupted run (the first test makes it; the kill test compares against it). */
let cleanRun: Promise<string> | undefined;
function clean(): Promise<string> {
  cleanRun ??= (async () => {
    const out = join(dir, "clean");
    await runRecipe({ recipePath: recipe, out, deps: quietDeps() });
    return out;
  })();
  return cleanRun;
}

const stage = (run: string, name: string) => join(run, "stages", name);
const pairsPath = (run: string) => join(stage(run, "stic-stage1"), "data", "pairs.jsonl");
const infusedPath = (run: string) => join(stage(run, "stic-stage2"), "data", "infused.jsonl");
const readPairs = (run: string) =>
  readRecords(pairsPath(run), "preference", { root: join(stage(run, "stic-stage1"), "data") });
const readInfused = (run: string) =>
  readRecords(infusedPath(run), "sft", { root: join(stage(run, "stic-stage2"), "data") });
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
/** A file's text with the run folder's path replaced (stage models live inside it). */
const relativeText = (path: string, run: string) => readFileSync(path, "utf8").replaceAll(run, "<run>");

/** The names of the weights that differ between two saved models (and a check that all are finite). */
function changedWeights(a: string, b: string): string[] {
  const x = loadVLM(a).model;
  const y = loadVLM(b).model;
  try {
    const ys = y.baseParameters();
    const changed: string[] = [];
    for (const [name, t] of x.baseParameters()) {
      const u = ys.get(name);
      assert.ok(u, `${b} has ${name}`);
      const p = t.toFloat32();
      const q = u.toFloat32();
      assert.equal(p.length, q.length, name);
      assert.ok(
        q.every((v) => Number.isFinite(v)),
        `${b}: ${name} is finite`,
      );
      if (p.some((v, i) => v !== q[i])) changed.push(name);
    }
    return changed;
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** The decoder linears LoRA adapts (the default targetModules): the only weights a merge changes. */
const LORA_TARGET = /^decoder\.layers\.\d+\.(self_attn\.(q|k|v|o)_proj|mlp\.(gate|up|down)_proj)\.weight$/;

test("both STIC stages run end to end: records, trained models, metrics and the report", async () => {
  const run = await clean();

  // The report: the base and both stages on both benches.
  const report = JSON.parse(readFileSync(join(run, "report.json"), "utf8")) as Report;
  assert.deepEqual(
    report.rounds.map((r) => r.name),
    ["base", "stic-stage1", "stic-stage2"],
  );
  assert.equal(report.rounds[0].model, base);
  assert.equal(report.rounds[1].model, join(stage(run, "stic-stage1"), "model"));
  for (const round of report.rounds) assert.deepEqual(Object.keys(round.metrics), ["pope-random", "capabilities"]);

  // Stage 1: preference pairs, valid (schema, images in the store, unique ids), made by STIC.
  const pairs: PreferenceRecord[] = readPairs(run);
  const drops = readFileSync(join(stage(run, "stic-stage1"), "data", "drops.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as { itemId: string; reason: string });
  assert.ok(pairs.length >= 2, `${pairs.length} pairs`);
  assert.equal(pairs.length + drops.length, 7, "every image gave a pair or a drop");
  const pool = new Set(poolItems(worldDir, 99, 0).map((i) => i.id));
  const seed1 = stageSeed(0, "stic-stage1");
  for (const p of pairs) {
    assert.ok(pool.has(p.id), `${p.id} is a pool image`);
    assert.equal(p.provenance.method, "stic");
    assert.equal(p.provenance.stage, "stic-stage1");
    assert.equal(p.provenance.model, `embedded:${base}`);
    assert.equal(p.provenance.seed, seed1);
    assert.equal(p.provenance.source, p.id);
    assert.equal(p.provenance.sampling?.max_tokens, 12);
    assert.notEqual(p.chosen, p.rejected);
    assert.match(p.provenance.reasons?.[0] ?? "", /^rejected:(hallucination-prompt|corrupted):/);
  }
  for (const d of drops) assert.ok(pool.has(d.itemId) && !pairs.some((p) => p.id === d.itemId), d.itemId);
  // The pairs are the ones of the pool items the stage drew (images: 7), in order.
  assert.deepEqual(
    [...pairs.map((p) => p.id), ...drops.map((d) => d.itemId)].sort(),
    poolItems(worldDir, 7, seed1)
      .map((i) => i.id)
      .sort(),
  );

  // The stage-1 model: the input model with its LoRA-adapted decoder weights changed, nothing
  // else; it loads.
  const model1 = join(stage(run, "stic-stage1"), "model");
  const changed = changedWeights(base, model1);
  assert.ok(changed.length > 0, "training changed some weight");
  for (const name of changed) assert.match(name, LORA_TARGET);
  const loaded = loadVLM(model1);
  assert.equal(loaded.model.lora, null);
  assert.equal(loaded.model.config.vision.imageSize, 32);
  loaded.model.dispose();

  // DPO metrics: one line per step with the rewards (policy = reference at step 1: zero margins).
  const metrics = readMetrics(join(stage(run, "stic-stage1"), "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  for (const m of metrics) {
    for (const key of ["loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "logps/chosen"]) {
      assert.ok(Number.isFinite(m[key]), `step ${m.step}: ${key} = ${m[key]}`);
    }
  }
  // Policy and reference differ only by float rounding at step 1 (the gradient pass and the
  // no-grad reference pass may take different kernels); after one update the margin moves.
  assert.ok(Math.abs(metrics[0]["rewards/margins"]) < 1e-5, `step 1 margin ${metrics[0]["rewards/margins"]}`);
  assert.ok(Math.abs(metrics[1]["rewards/margins"]) > 1e-4, `step 2 margin ${metrics[1]["rewards/margins"]}`);

  // Stage 2: description-infused SFT records from the stage-1 model, one per question.
  const infused: SftRecord[] = readInfused(run);
  assert.ok(infused.length >= 1);
  assert.equal(new Set(infused.map((r) => r.id)).size, infused.length);
  for (const r of infused) {
    assert.equal(r.provenance.method, "stic");
    assert.equal(r.provenance.stage, "stic-stage2");
    assert.equal(r.provenance.model, `embedded:${model1}`);
    assert.match(r.messages[0].content, /^<image>\nImage description:\n.+\n\n\S/s);
  }
  const changed2 = changedWeights(model1, join(stage(run, "stic-stage2"), "model"));
  assert.ok(changed2.length > 0, "stage 2 changed some weight");
  for (const name of changed2) assert.match(name, LORA_TARGET);
  const metrics2 = readMetrics(join(stage(run, "stic-stage2"), "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics2.map((m) => m.step),
    [1, 2],
  );
  assert.ok(!("rewards/margins" in metrics2[0]), "SFT logs no rewards");
});

test("the ablation without negatives (objective: sft-chosen) trains on the same pairs' chosen answers", async () => {
  const run = join(dir, "no-negatives");
  const path = writeSticRecipe(join(dir, "no-negatives.yaml"), {
    world,
    worldDir,
    model: base,
    stages: ["stage1"],
    objective: "sft-chosen",
    benches: [],
  });
  await runRecipe({ recipePath: path, out: run, deps: quietDeps() });
  const dpoRun = await clean();
  // The same stage name and seed: the same pairs, whatever the objective.
  assert.equal(readFileSync(pairsPath(run), "utf8"), readFileSync(pairsPath(dpoRun), "utf8"));
  const model = join(stage(run, "stic-stage1"), "model");
  const changed = changedWeights(base, model);
  assert.ok(changed.length > 0, "training changed some weight");
  for (const name of changed) assert.match(name, LORA_TARGET);
  assert.notEqual(
    sha256(join(model, "model.safetensors")),
    sha256(join(stage(dpoRun, "stic-stage1"), "model", "model.safetensors")),
  );
  const metrics = readMetrics(join(stage(run, "stic-stage1"), "train", "metrics.jsonl"));
  assert.deepEqual(
    metrics.map((m) => m.step),
    [1, 2],
  );
  assert.ok(metrics.every((m) => Number.isFinite(m.loss) && !("rewards/margins" in m)));
});

test("selfCheck trains on the pairs whose chosen side the input model doubts less; not with oracleFilter", async () => {
  const run = join(dir, "self-check");
  const path = writeSticRecipe(join(dir, "self-check.yaml"), {
    world,
    worldDir,
    model: base,
    stages: ["stage1"],
    benches: [],
    extra1: ["selfCheck: { doubt: -0.5, batch: 4 }"],
  });
  const lines: string[] = [];
  await runRecipe({ recipePath: path, out: run, deps: quietDeps(lines) });
  const dpoRun = await clean();
  // The same pairs as the unfiltered run; the kept ones are a subset, whole and in order.
  assert.equal(readFileSync(pairsPath(run), "utf8"), readFileSync(pairsPath(dpoRun), "utf8"));
  const all = readFileSync(pairsPath(run), "utf8")
    .split("\n")
    .filter((l) => l !== "");
  const checkedPath = join(stage(run, "stic-stage1"), "data", "pairs-self-checked.jsonl");
  const kept = readFileSync(checkedPath, "utf8")
    .split("\n")
    .filter((l) => l !== "");
  assert.ok(kept.length > 0 && kept.length < all.length, `kept ${kept.length} of ${all.length}`);
  let cursor = 0;
  for (const line of kept) {
    cursor = all.indexOf(line, cursor) + 1;
    assert.ok(cursor > 0, "every kept pair is one of the stage's pairs, in order");
  }
  assert.ok(lines.some((l) => new RegExp(`self-check kept ${kept.length} of ${all.length} pairs`).test(l)));
  assert.ok(existsSync(join(stage(run, "stic-stage1"), "model", "model.safetensors")));

  const both = writeSticRecipe(join(dir, "both-filters.yaml"), {
    world,
    worldDir,
    model: base,
    stages: ["stage1"],
    benches: [],
    extra1: ["selfCheck: {}", "oracleFilter: true"],
  });
  await assert.rejects(
    runRecipe({ recipePath: both, out: join(dir, "both-filters"), deps: quietDeps() }),
    /oracleFilter and selfCheck are two filters of the same pairs; choose one/,
  );
});

test("embedded generation does not depend on batch composition (what a resumed chunk relies on)", async () => {
  // After a kill between a chunk's records and its drops, a rerun regenerates only the chunk's
  // dropped items: other batches than the first time. Requests are seeded by id, and the batched
  // forward must not change the samples either.
  const items = poolItems(worldDir, 6, 3);
  const backend = EmbeddedBackend.load(base);
  try {
    const options = {
      stage: "s",
      imagePath: async () => `images/${"0".repeat(64)}.png`,
      prompts: SCENEWORLD_PROMPTS,
      maxTokens: 12,
    };
    const answers = async (list: typeof items, chunkSize: number) => {
      const r = await sticPairs(backend, list, { ...options, chunkSize }, 5);
      return new Map<string, string>([
        ...r.pairs.map((p): [string, string] => [p.id, `${p.chosen} | ${p.rejected}`]),
        ...r.dropped.map((d): [string, string] => [d.itemId, d.reason]),
      ]);
    };
    const whole = await answers(items, 6);
    assert.deepEqual(await answers(items, 1), whole);
    assert.deepEqual(
      await answers(items.slice(1).reverse(), 2),
      new Map([...whole].filter(([id]) => id !== items[0].id)),
    );
    const described = async (list: typeof items, chunkSize: number) =>
      new Map(
        (await describeImages(backend, list, { prompts: SCENEWORLD_PROMPTS, maxTokens: 12, chunkSize, seed: 5 })).map(
          (d) => [d.id, d.description],
        ),
      );
    assert.deepEqual(await described([...items].reverse(), 4), await described(items, 6));
  } finally {
    await backend.close();
  }
});

test("training killed between checkpoints, or before the merged model is saved, resumes to the same model", async () => {
  const run = join(dir, "train-resume");
  const path = writeSticRecipe(join(dir, "train-resume.yaml"), {
    world,
    worldDir,
    model: base,
    stages: ["stage1"],
    benches: [],
    train1: "{ lr: 1.0e-3, maxSteps: 3, batchSize: 2, saveEvery: 1 }",
  });
  await runRecipe({ recipePath: path, out: run, deps: quietDeps() });
  const s1 = stage(run, "stic-stage1");
  const weights = join(s1, "model", "model.safetensors");
  const want = sha256(weights);
  const metricsPath = join(s1, "train", "metrics.jsonl");
  const losses = () => readMetrics(metricsPath).map((m) => [m.step, m.loss]);
  const wantLosses = losses();
  assert.deepEqual(
    wantLosses.map(([step]) => step),
    [1, 2, 3],
  );
  assert.deepEqual(readdirSync(join(s1, "train")).sort(), ["checkpoint-2", "checkpoint-3", "metrics.jsonl"]);

  // Killed during step 3's save: checkpoint-2 is the latest whole one, a save left its temp folder.
  rmSync(join(s1, "stage.json"));
  rmSync(join(s1, "steps", "train.json"));
  rmSync(join(s1, "model"), { recursive: true });
  rmSync(join(s1, "train", "checkpoint-3"), { recursive: true });
  const torn = join(s1, "train", ".tmp-checkpoint-3-1");
  mkdirSync(torn);
  writeFileSync(join(torn, "partial"), "x");
  const lines: string[] = [];
  await runRecipe({ recipePath: path, out: run, deps: quietDeps(lines) });
  assert.match(lines.join(""), /resuming training at step 2/);
  assert.equal(sha256(weights), want, "the resumed training gives the same model");
  assert.deepEqual(losses(), wantLosses, "step 3 again, once");
  assert.ok(!existsSync(torn), "the unfinished save is removed");

  // Killed after the last checkpoint, before the train step was recorded (the model may be stale).
  rmSync(join(s1, "stage.json"));
  rmSync(join(s1, "steps", "train.json"));
  const lines2: string[] = [];
  await runRecipe({ recipePath: path, out: run, deps: quietDeps(lines2) });
  assert.match(lines2.join(""), /resuming training at step 3/);
  assert.equal(sha256(weights), want);
  assert.deepEqual(losses(), wantLosses);
});

/** A resumed run's records, drops, images, models, training metrics and report equal the uninterrupted run's. */
function assertSameRun(resumed: string, run: string): void {
  // The records: equal, no id twice (readRecords refuses duplicates; checked again here).
  const got = readPairs(resumed);
  assert.equal(new Set(got.map((r) => r.id)).size, got.length);
  assert.deepEqual(got, readPairs(run));
  assert.equal(readFileSync(pairsPath(resumed), "utf8"), readFileSync(pairsPath(run), "utf8"));
  const infused = readInfused(resumed);
  assert.equal(new Set(infused.map((r) => r.id)).size, infused.length);
  // Stage-2 records name the stage-1 model they came from, inside each run's folder.
  assert.equal(relativeText(infusedPath(resumed), resumed), relativeText(infusedPath(run), run));
  for (const s of ["stic-stage1", "stic-stage2"]) {
    const drops = (r: string) => readFileSync(join(stage(r, s), "data", "drops.jsonl"), "utf8");
    assert.equal(drops(resumed), drops(run), `${s}: drops`);
    assert.deepEqual(
      readdirSync(join(stage(resumed, s), "data", "images")).sort(),
      readdirSync(join(stage(run, s), "data", "images")).sort(),
      `${s}: images`,
    );
    const model = (r: string) => sha256(join(stage(r, s), "model", "model.safetensors"));
    assert.equal(model(resumed), model(run), `${s}: model weights`);
    const losses = (r: string) => readMetrics(join(stage(r, s), "train", "metrics.jsonl")).map((m) => [m.step, m.loss]);
    assert.deepEqual(losses(resumed), losses(run), `${s}: training metrics`);
  }
  // The report, the models' paths aside.
  assert.equal(relativeText(join(resumed, "report.json"), resumed), relativeText(join(run, "report.json"), run));
  assert.ok(JSON.parse(readFileSync(join(resumed, "manifest.json"), "utf8")).finishedAt);
}

test("killed between a chunk's records and its drops: the dropped items are redone alone, with the same results", async () => {
  // The state such a kill leaves, made from a finished run: stage 1 unfinished, its last record
  // line and every drop line not written (the drops' items then go to the backend without the
  // rest of their chunks), plus a torn tail in both files.
  const run = await clean();
  const resumed = join(dir, "torn");
  cpSync(run, resumed, { recursive: true });
  const s1 = stage(resumed, "stic-stage1");
  for (const p of ["stage.json", "steps", "model", "train"]) rmSync(join(s1, p), { recursive: true });
  for (const p of ["stages/stic-stage2", "eval/stic-stage1", "eval/stic-stage2", "report.json"])
    rmSync(join(resumed, p), { recursive: true });
  const pairLines = readFileSync(pairsPath(resumed), "utf8").trimEnd().split("\n");
  const dropsPath = join(s1, "data", "drops.jsonl");
  const dropLines = readFileSync(dropsPath, "utf8").trimEnd().split("\n");
  assert.ok(dropLines.length >= 1 && dropLines[0] !== "", "the seed gives a dropped item (the case under test)");
  writeFileSync(pairsPath(resumed), `${pairLines.slice(0, -1).join("\n")}\n${pairLines.at(-1)!.slice(0, 40)}`);
  writeFileSync(dropsPath, dropLines[0].slice(0, 15));

  await runRecipe({ recipePath: recipe, out: resumed, deps: quietDeps() });
  assertSameRun(resumed, run);
});

test("SIGKILL during stage 1, then a rerun: the same records and report as the run never interrupted", async (t) => {
  const killed = join(dir, "killed");
  const child = spawn(process.execPath, ["--import", "tsx", "test/methods/stic/child-run.ts", recipe, killed], {
    cwd: repo,
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
  // Kill once the pairs file holds a chunk (a whole line).
  const pairs = pairsPath(killed);
  const hasChunk = () => existsSync(pairs) && readFileSync(pairs, "utf8").includes("\n");
  for (let waited = 0; !hasChunk(); waited += 5) {
    if (child.exitCode !== null) assert.fail(`the child ended before the kill: ${stderr}`);
    if (waited > 50_000) assert.fail(`timed out waiting for ${pairs}: ${stderr}`);
    await sleep(5);
  }
  child.kill("SIGKILL");
  assert.equal(await exited, "SIGKILL");
  assert.ok(
    !existsSync(join(killed, "manifest.json")) ||
      !JSON.parse(readFileSync(join(killed, "manifest.json"), "utf8")).finishedAt,
  );
  const steps = (name: string) => {
    const d = join(stage(killed, name), "steps");
    return existsSync(d) ? readdirSync(d).sort() : [];
  };
  const pairsAtKill = readFileSync(pairs, "utf8")
    .split("\n")
    .filter((l) => l !== "").length;
  t.diagnostic(`killed with ${pairsAtKill} pairs written; stage-1 steps done: [${steps("stic-stage1").join(", ")}]`);

  await runRecipe({ recipePath: recipe, out: killed, deps: quietDeps() });
  assertSameRun(killed, await clean());
});
