import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
// Every assert.ok carries a message: without one, node re-parses this (tsx-compiled) file to
// quote the failing expression.
import { setNumThreads } from "../../../src/engine/index.js";
import { loadClip } from "../../../src/models/clip-io.js";
import { loadTagger } from "../../../src/models/tagger-io.js";
import { VLM } from "../../../src/models/vlm.js";
import { loadVLM } from "../../../src/models/vlm-io.js";
import { readMetrics } from "../../../src/train/metrics.js";
import { type PretrainOptions, pretrain, readTrainInfo, STAGE_DEFAULTS } from "../../../src/train/pretrain/index.js";
import { buildSplit } from "../../../src/world/build.js";
import { configHash, parseWorldConfig } from "../../../src/world/index.js";

setNumThreads(1);
const root = mkdtempSync(join(tmpdir(), "pretrain-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
const world = join(root, "world");
const config = parseWorldConfig({
  seed: 3,
  splits: {
    pretraining: { scenes: 12, creatures: 4 },
    instruction: { scenes: 6, creatures: 2 },
    pool: { scenes: 0, creatures: 0 },
    validation: { scenes: 0, creatures: 0 },
    test: { scenes: 0, creatures: 0 },
  },
});

// 64x64 images in 16x16 patches: 16 image tokens; a one-layer decoder 32 wide.
const TINY_VLM = {
  vision: { patchSize: 16, dim: 16, layers: 1, heads: 2, mlpDim: 32 },
  projectorHidden: 16,
  decoder: { dim: 32, layers: 1, heads: 2, mlpDim: 64 },
};
const TINY_CLIP = {
  vision: { patchSize: 16, dim: 16, layers: 1, heads: 2, mlpDim: 32 },
  text: { dim: 16, layers: 1, heads: 2, mlpDim: 32 },
  embedDim: 16,
};

before(async () => {
  await buildSplit(config, { split: "pretraining", outDir: world });
  await buildSplit(config, { split: "instruction", outDir: world });
});

function run(stage: PretrainOptions["stage"], out: string, extra: Partial<PretrainOptions> = {}) {
  const lines: string[] = [];
  const options: PretrainOptions = {
    stage,
    world,
    out,
    steps: 4,
    batchSize: 4,
    saveEvery: 2,
    logEvery: 1,
    modelConfig: stage === "aligned" ? TINY_VLM : stage === "scorer" ? TINY_CLIP : undefined,
    log: (l) => lines.push(l),
    ...extra,
  };
  return { lines, done: pretrain(options) };
}

test("defaults fit the documented budget: every stage with positive settings", () => {
  for (const d of Object.values(STAGE_DEFAULTS)) {
    assert.ok(d.steps > 0 && d.batchSize > 0 && d.lr > 0 && d.warmupSteps < d.steps, JSON.stringify(d));
  }
});

test("aligned: a fresh VLM on captions, shipped loadable with train-info and metrics", async () => {
  const out = join(root, "aligned");
  const { lines, done } = run("aligned", out);
  const result = await done;
  assert.equal(result.steps, 4);
  assert.equal(result.stopped, false);
  assert.deepEqual(readdirSync(out).sort(), [
    "config.json",
    "metrics.jsonl",
    "model.safetensors",
    "tokenizer.json",
    "train-info.json",
  ]);
  const { model, tokenizer, config: c } = loadVLM(out);
  assert.equal(c.vision.imageSize, 64);
  assert.equal(c.vision.patchSize, 16);
  assert.equal(c.vocabSize, tokenizer.vocabSize);
  model.dispose();
  const info = readTrainInfo(out)!;
  assert.equal(info.stage, "aligned");
  assert.equal(info.world.configHash, configHash(config));
  assert.equal(info.stepsDone, 4);
  assert.equal(info.seed, 0);
  assert.equal(info.data.caption, 16);
  assert.ok(Number.isFinite(info.finalLoss) && info.wallTimeS > 0, JSON.stringify(info));
  assert.match(info.command, /^selfsynth pretrain aligned --world /);
  assert.equal(readMetrics(join(out, "metrics.jsonl")).length, 4);
  // Checkpoints stay in <out>.work (saveTotalLimit 2), never in the shipped directory.
  assert.deepEqual(
    readdirSync(`${out}.work`)
      .filter((f) => f.startsWith("checkpoint-"))
      .sort(),
    ["checkpoint-2", "checkpoint-4"],
  );
  assert.ok(
    lines.some((l) => /^\[aligned\] step 4\/4 {2}loss \d/.test(l)),
    lines.join("\n"),
  );
  // A second run into the same place must be asked to resume.
  await assert.rejects(run("aligned", out).done, /already holds a run: pass --resume/);
});

test("aligned: a run stopped midway resumes from its checkpoint to the same losses", async () => {
  const reference = readMetrics(join(root, "aligned", "metrics.jsonl"));
  const out = join(root, "aligned-resumed");
  const controller = new AbortController();
  const first = run("aligned", out, { signal: controller.signal });
  const stopAt3 = first.lines.push.bind(first.lines);
  first.lines.push = (...l: string[]) => {
    if (l.some((x) => x.includes("step 3/4"))) controller.abort();
    return stopAt3(...l);
  };
  const stopped = await first.done;
  assert.equal(stopped.stopped, true);
  assert.equal(stopped.steps, 3);
  assert.equal(existsSync(out), false, "nothing shipped before the end");
  const second = run("aligned", out, { resume: true });
  const result = await second.done;
  assert.equal(result.steps, 4);
  assert.ok(
    second.lines.some((l) => l.includes("resumed from") && l.includes("at step 2")),
    second.lines.join("\n"),
  );
  const resumed = readMetrics(join(out, "metrics.jsonl"));
  assert.deepEqual(
    resumed.map((m) => m.step),
    [1, 2, 3, 4],
  );
  resumed.forEach((m, i) => {
    assert.ok(Math.abs(m.loss - reference[i].loss) < 1e-4, `step ${m.step}: ${m.loss} vs ${reference[i].loss}`);
  });
  // Resuming a finished run re-ships the same model.
  await run("aligned", out, { resume: true }).done;
  assert.equal(readTrainInfo(out)?.stepsDone, 4);
});

test("base: instruction tuning from aligned keeps its tokenizer and architecture", async () => {
  const aligned = join(root, "aligned");
  const out = join(root, "base");
  await assert.rejects(run("base", out).done, /base needs --from/);
  const result = await run("base", out, { from: aligned, steps: 3 }).done;
  assert.equal(result.steps, 3);
  const { model, tokenizer, config: c } = loadVLM(out);
  const before = loadVLM(aligned);
  assert.deepEqual(c, before.config);
  assert.deepEqual(tokenizer.toJSON(), before.tokenizer.toJSON());
  const changed = [...model.baseParameters()].filter(([name, t]) => {
    const a = t.toArray();
    const b = before.model.baseParameters().get(name)!.toArray();
    return a.some((v, i) => v !== b[i]);
  });
  assert.ok(changed.length > 0, "training changed the weights");
  model.dispose();
  before.model.dispose();
  const info = readTrainInfo(out)!;
  assert.equal(info.stage, "base");
  assert.equal(info.from?.dir, aligned);
  assert.equal(info.from?.configHash, configHash(config));
  assert.equal(info.data.description, 8);
  assert.ok(info.data.question > 8, JSON.stringify(info.data));
});

test("scorer: a CLIP model on image-caption pairs, loadable, resumable", async () => {
  const out = join(root, "scorer");
  const result = await run("scorer", out, { batchSize: 8 }).done;
  assert.equal(result.steps, 4);
  const { model, tokenizer } = loadClip(out);
  assert.equal(model.config.vision.imageSize, 64);
  assert.equal(model.config.embedDim, 16);
  assert.equal(tokenizer.vocabSize, model.config.vocabSize);
  model.dispose();
  const info = readTrainInfo(out)!;
  assert.equal(info.stage, "scorer");
  assert.equal(info.data.pairs, 16);
  const again = await run("scorer", out, { batchSize: 8, steps: 6, resume: true }).done.catch((e: Error) => e);
  // A longer run from the finished one's checkpoint continues (the data order does not change).
  assert.ok(!(again instanceof Error), String(again));
  assert.equal(readTrainInfo(out)?.stepsDone, 6);
});

test("vision: a tagger whose tower aligned and base keep frozen and the scorer fine-tunes", async () => {
  const vision = join(root, "vision");
  const result = await run("vision", vision, { modelConfig: TINY_VLM, batchSize: 8 }).done;
  assert.equal(result.steps, 4);
  const tagger = loadTagger(vision);
  const tower = new Map([...tagger.visionParameters()].map(([n, t]) => [n, t.toFloat32()]));
  tagger.dispose();
  assert.ok(tower.has("vision.stem.0.weight"), "the conv stem is the world models' stem");
  assert.equal(readTrainInfo(vision)?.stage, "vision");

  const aligned = join(root, "aligned-from-vision");
  await run("aligned", aligned, { visionFrom: vision }).done;
  const base = join(root, "base-from-vision");
  await run("base", base, { from: aligned, steps: 2 }).done;
  for (const dir of [aligned, base]) {
    const { model } = loadVLM(dir);
    for (const [name, values] of tower) {
      assert.deepEqual(model.parameters.get(name)?.toFloat32(), values, `${dir}: ${name} stayed frozen`);
    }
    model.dispose();
    assert.equal(readTrainInfo(dir)?.vision?.frozen, true, dir);
  }
  assert.equal(readTrainInfo(aligned)?.vision?.from, vision);

  const scorer = join(root, "scorer-from-vision");
  await run("scorer", scorer, { visionFrom: vision, batchSize: 8 }).done;
  assert.equal(readTrainInfo(scorer)?.vision?.from, vision);
  // A tower of another shape is refused by name.
  await assert.rejects(
    run("aligned", join(root, "mismatch"), {
      visionFrom: vision,
      modelConfig: { ...TINY_VLM, vision: { ...TINY_VLM.vision, dim: 32 } },
    }).done,
    /its vision tower .* differs/,
  );
});

test("language: the decoder learns the corpus alone; aligned starts from it with its tokenizer", async () => {
  const language = join(root, "language");
  const corpus = { scenes: 20, creatures: 4, partnerRate: 1 };
  const result = await run("language", language, { modelConfig: TINY_VLM, corpus }).done;
  assert.equal(result.steps, 4);
  const info = readTrainInfo(language)!;
  assert.equal(info.stage, "language");
  assert.deepEqual([info.data.texts, info.data.partnerRate], [48, 1]);
  const trained = loadVLM(language);
  // Only the decoder moved: the tower and projector keep the values a fresh model of the same
  // seed starts with.
  const init = new VLM(trained.config, { seed: 0 });
  const same = (name: string) => {
    const b = init.baseParameters().get(name)!.toArray();
    return trained.model
      .baseParameters()
      .get(name)!
      .toArray()
      .every((v, i) => v === b[i]);
  };
  assert.ok(same("projector.fc1.weight") && same("vision.pos_embed"), "tower and projector untouched");
  assert.ok(!same("decoder.embed_tokens.weight") && !same("lm_head.weight"), "the decoder trained");
  init.dispose();
  // aligned from it keeps its tokenizer and its decoder as the starting point.
  const aligned = join(root, "aligned-from-language");
  await run("aligned", aligned, { from: language, modelConfig: undefined, steps: 2 }).done;
  const after = loadVLM(aligned);
  assert.deepEqual(after.tokenizer.toJSON(), trained.tokenizer.toJSON());
  assert.deepEqual(after.config, trained.config);
  assert.equal(readTrainInfo(aligned)?.from?.dir, language);
  after.model.dispose();
  trained.model.dispose();
  await assert.rejects(
    run("aligned", join(root, "aligned-bad"), { from: language, modelConfig: TINY_VLM }).done,
    /keeps .* architecture: no --config/,
  );
});
