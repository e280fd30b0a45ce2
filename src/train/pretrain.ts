// The shipped models' training (DESIGN.md, SceneWorld: shipped checkpoints), three stages on a
// built world (`selfsynth world build`):
//
//   aligned  a fresh VLM (image encoder + projector + decoder, all trained) on the captions of
//            the pretraining split: the starting point before instruction tuning (COMPACT's).
//   base     `aligned` fine-tuned on the instruction split (descriptions and questions, biased
//            by the world's co-occurrence priors): the model the methods improve.
//   scorer   the CLIP-style image-text model, contrastive on the pretraining image-caption pairs.
//
//   vision   the image tower alone, supervised on the pretraining split's scene graphs (tagger.ts,
//            tagger-data.ts): aligned, base and scorer start from it (--vision-from); aligned and
//            base keep it frozen, as LLaVA keeps its CLIP tower.
//
// Each stage writes `<out>/` (the loadable model: config.json, model.safetensors, tokenizer.json,
// plus train-info.json and metrics.jsonl), and keeps its resumable training checkpoints in
// `<out>.work/` (never shipped). `<out>/` is assembled in a temporary directory and swapped
// into place, so it is always a complete model.
//
// Batching (VLM stages): examples are grouped into micro-batches of similar length, as
// transformers' `group_by_length` does (megabatches of 50 batches, sorted by length, cut into
// batches): a description (~250 tokens) no longer pads a batch of questions (~95 tokens) to
// its length. The groups are fixed per run (the trainer shuffles their order every epoch), so
// the trainer sees one group as one dataset item (its batchSize is 1).
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { getNumThreads, noGrad, setNumThreads, type Tensor, tensorFrom, tidy, torchVersion } from "../engine/index.js";
import { type ClipConfig, type ClipConfigInput, ClipModel, tokenizeTexts } from "../models/clip.js";
import { saveClip } from "../models/clip-io.js";
import { type HeadTargets, VisionTagger } from "../models/tagger.js";
import { loadVisionTowerInto, saveTagger } from "../models/tagger-io.js";
import type { Tokenizer } from "../models/tokenizer.js";
import type { VisionConfig } from "../models/vision.js";
import { DEFAULT_VLM_CONFIG, parseVLMConfig, VLM, type VLMConfig } from "../models/vlm.js";
import { loadVLM, saveVLM } from "../models/vlm-io.js";
import type { WorldRecord } from "../world/splits.js";
import { latestCheckpoint } from "./checkpoint.js";
import { collate } from "./collate.js";
import { epochOrder } from "./data-order.js";
import { readMetrics } from "./metrics.js";
import { sftLossFn } from "./sft-loss.js";
import { taggerAccuracy, taggerTargets, worldTaggerConfig } from "./tagger-data.js";
import { type LossOutput, Trainer, type TrainerEvent } from "./trainer.js";
import type { TokenizedExample, TrainBatch } from "./types.js";
import {
  buildWorldTokenizer,
  captionExamples,
  captionPairs,
  exampleTexts,
  ImageStore,
  instructionExamples,
  readSplit,
  readWorld,
  tokenizeWorldExamples,
  unknownWords,
  WorldDataError,
  type WorldExample,
  type WorldInfo,
} from "./world-data.js";

export const STAGES = ["vision", "aligned", "base", "scorer"] as const;
export type Stage = (typeof STAGES)[number];

/**
 * Defaults per stage, set for the budget of under an hour on 2 cores (scripts/make-assets.sh).
 * Measured 2026-12-02, 2 threads, the default world (64x64 images; the tower's 8x8 patches
 * merged 2x2 into 16 image tokens), the default models:
 *   vision   ~400 images/s: ~0.16 s per step of 64; 3,000 steps (8 min, ~8.7 epochs of 22k);
 *   aligned  with the tower frozen, ~0.3 s per step of 32 captions; 2,000 steps (10 min,
 *            ~2.9 epochs);
 *   base     ~0.32 s per step of 32 length-grouped examples; 2,000 steps (11 min, ~0.7 epoch
 *            of the ~90k instruction examples);
 *   scorer   ~0.36 s per step of 128 pairs; 1,000 steps (6 min).
 * Tokens count every non-padding position, the image tokens included. The calibration behind
 * the vision and base budgets is in README (Shipped models).
 */
export const STAGE_DEFAULTS: Record<Stage, StageDefaults> = {
  vision: { steps: 3000, batchSize: 64, lr: 1e-3, warmupSteps: 50, weightDecay: 0.01 },
  aligned: { steps: 2000, batchSize: 32, lr: 1e-3, warmupSteps: 100, weightDecay: 0.01 },
  base: { steps: 2000, batchSize: 32, lr: 3e-4, warmupSteps: 50, weightDecay: 0.01 },
  scorer: { steps: 1000, batchSize: 128, lr: 1e-3, warmupSteps: 50, weightDecay: 0.01 },
};

export interface StageDefaults {
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
}

export interface PretrainOptions {
  stage: Stage;
  /** A built world directory (world-config.json, <split>.jsonl, images/). */
  world: string;
  /** The model directory to write. */
  out: string;
  /** Where checkpoints and the metrics go while training (default `<out>.work/`). */
  workDir?: string;
  /** base: the aligned model to start from. */
  from?: string;
  /** aligned and scorer: a vision-stage model whose tower they start from. */
  visionFrom?: string;
  /** aligned and base: train the vision tower too (default: frozen when it came pretrained). */
  trainVision?: boolean;
  steps?: number;
  batchSize?: number;
  lr?: number;
  warmupSteps?: number;
  threads?: number;
  seed?: number;
  resume?: boolean;
  /** Checkpoint every this many steps (default 250; the last step always saves). */
  saveEvery?: number;
  /** Metrics line and progress line every this many steps (default 10). */
  logEvery?: number;
  /** Overrides of the model config (aligned: a partial VLMConfig, scorer: a partial ClipConfig). */
  modelConfig?: Record<string, unknown>;
  /** Recorded in train-info.json (the CLI passes its argv). */
  command?: string;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

export interface PretrainResult {
  out: string;
  workDir: string;
  steps: number;
  stopped: boolean;
  info: TrainInfo;
}

export interface TrainInfo {
  stage: Stage;
  command: string;
  seed: number;
  world: { dir: string; configHash: string; seed: number; splits: Record<string, number> };
  from: { dir: string; configHash?: string } | null;
  /** vision: each head's accuracy on the validation split (taggerAccuracy), when it is built. */
  validation?: Record<string, number>;
  /** The vision-stage model the tower came from, and whether it stayed frozen. */
  vision?: { from: string | null; frozen: boolean };
  model: VLMConfig | ClipConfig | VisionConfig;
  parameters: number;
  vocabSize: number;
  train: {
    steps: number;
    batchSize: number;
    lr: number;
    warmupSteps: number;
    weightDecay: number;
    schedule: string;
    minLrRatio: number;
  };
  data: Record<string, number>;
  stepsDone: number;
  /** Mean training loss over the last finalLossSteps steps. */
  finalLoss: number | null;
  finalLossSteps: number;
  tokensPerS: number | null;
  trainTimeS: number | null;
  wallTimeS: number;
  threads: number;
  versions: { node: string; torch: string };
  finishedAt: string;
}

const MIN_LR_RATIO = 0.1;
const FINAL_LOSS_STEPS = 100;
const SHIPPED_FILES = new Set([
  "config.json",
  "model.safetensors",
  "tokenizer.json",
  "train-info.json",
  "metrics.jsonl",
]);

/** Runs one stage to its last step (or until the signal stops it, leaving a resumable checkpoint). */
export async function pretrain(options: PretrainOptions): Promise<PretrainResult> {
  const started = performance.now();
  const log = options.log ?? console.log;
  if (options.threads !== undefined) setNumThreads(options.threads);
  const world = readWorld(options.world);
  const out = resolve(options.out);
  checkShippedDir(out);
  const workDir = resolve(options.workDir ?? `${out}.work`);
  if (workDir === out) throw new WorldDataError(`the work directory must differ from --out (${out})`);
  if (!options.resume && (latestCheckpoint(workDir) !== null || existsSync(join(workDir, "metrics.jsonl")))) {
    throw new WorldDataError(
      `${workDir} already holds a run: pass --resume (resume: true) to continue it, or delete it to start afresh`,
    );
  }
  const run = { ...options, out, workDir, log, world, started };
  if (options.stage === "scorer") return trainScorer(run);
  if (options.stage === "vision") return trainVision(run);
  return trainVlmStage(run);
}

type Run = Omit<PretrainOptions, "world" | "log"> & {
  out: string;
  workDir: string;
  log: (line: string) => void;
  world: WorldInfo;
  started: number;
};

function stageTrainConfig(run: Run) {
  const d = STAGE_DEFAULTS[run.stage];
  const steps = run.steps ?? d.steps;
  return {
    steps,
    batchSize: run.batchSize ?? d.batchSize,
    lr: run.lr ?? d.lr,
    warmupSteps: Math.min(run.warmupSteps ?? d.warmupSteps, Math.floor(steps / 10)),
    weightDecay: d.weightDecay,
    schedule: "cosine" as const,
    minLrRatio: MIN_LR_RATIO,
  };
}

// --- the VLM stages ---------------------------------------------------------------------------

/** The default VLM at the world's image size (8x8 patches at 64x64: 64 image tokens), with overrides. */
export function worldVlmConfig(
  imageSize: number,
  vocabSize: number,
  override: Record<string, unknown> = {},
): VLMConfig {
  const patchSize = imageSize % 8 === 0 ? imageSize / 8 : DEFAULT_VLM_CONFIG.vision.patchSize;
  const { vision, decoder, ...rest } = override as Partial<VLMConfig>;
  return parseVLMConfig(
    {
      ...DEFAULT_VLM_CONFIG,
      // 2x2 vision tokens per image token (16 at 64x64): the decoder's cost is mostly the image
      // tokens' (64 of a caption's ~95 tokens otherwise), and a wider projector carries the merge.
      tokenMerge: 2,
      projectorHidden: 512,
      ...rest,
      // The conv stem: the ViT's linear patches do not learn SceneWorld's shapes (vision.ts).
      vision: { ...DEFAULT_VLM_CONFIG.vision, imageSize, patchSize, stem: "conv", ...vision },
      decoder: { ...DEFAULT_VLM_CONFIG.decoder, ...decoder },
      vocabSize,
    },
    "model config",
  );
}

async function trainVlmStage(run: Run): Promise<PretrainResult> {
  const { world, log } = run;
  const seed = run.seed ?? 0;
  const { model, tokenizer, from, examples } = await prepareVlm(run, seed);
  const tc = stageTrainConfig(run);
  const images = await ImageStore.load(
    world.dir,
    examples.map((e) => e.image),
    model.config.vision.imageSize,
    { onProgress: (done, total) => log(`[${run.stage}] images ${done}/${total}`) },
  );
  log(`[${run.stage}] ${examples.length} examples, ${images.count} images (${mb(images.byteLength)} in memory)`);
  const tokenized = tokenizeWorldExamples(tokenizer, examples, images, {
    numImageTokens: model.numImageTokens,
    maxPositions: model.config.decoder.maxPositions,
  });
  const groups = lengthGroupedBatches(tokenized, (e) => e.inputIds.length, tc.batchSize, seed);
  const size = model.config.vision.imageSize;
  const meter = new Throughput();
  const trainer = new Trainer<TokenizedExample[], TrainBatch, VLM>({
    config: trainerConfig(run, tc, seed, 1),
    model,
    dataset: groups,
    collate: (batches) => collate(batches.flat(), { padId: tokenizer.specialIds.pad, imageShape: [3, size, size] }),
    lossFn: (m, batch) => meter.count(sftLossFn(m, batch)),
    resume: run.resume,
    exportModel: (dir) => saveVLM(dir, model, tokenizer),
    onEvent: progress(run, meter),
  });
  try {
    const result = await trainer.train({ signal: run.signal });
    const counts = kindCounts(examples);
    const data = { examples: examples.length, images: images.count, batches: groups.length, ...counts };
    const info = trainInfo(run, { seed, from, model: model.config, params: model.baseParameters(), tc, data });
    info.vocabSize = tokenizer.vocabSize;
    info.vision = { from: run.visionFrom ?? null, frozen: model.visionFrozen };
    if (!result.stopped) {
      shipDir(
        run,
        (dir) => saveVLM(dir, model, tokenizer, { stage: run.stage, world_config_hash: world.configHash }),
        info,
      );
    }
    return { out: run.out, workDir: run.workDir, steps: result.step, stopped: result.stopped, info };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** aligned: a fresh model and the world tokenizer; base: the aligned model, its tokenizer checked against the data. */
async function prepareVlm(run: Run, seed: number) {
  const { world, log } = run;
  if (run.stage === "aligned") {
    if (run.from !== undefined) throw new WorldDataError("aligned starts from scratch: --from is for base");
    const records = readSplit(world.dir, "pretraining");
    const examples = captionExamples(records, seed);
    const tokenizer = buildWorldTokenizer(world.config, [...exampleTexts(examples), ...instructionTexts(world, seed)]);
    const config = worldVlmConfig(world.config.image.width, tokenizer.vocabSize, run.modelConfig);
    if (world.config.image.width !== world.config.image.height) {
      log(
        `[aligned] the world's images are ${world.config.image.width}x${world.config.image.height}: resized to square`,
      );
    }
    const model = new VLM(config, { seed });
    log(`[aligned] new VLM: ${countParams(model.baseParameters())} parameters, vocabulary ${tokenizer.vocabSize}`);
    if (run.visionFrom !== undefined) {
      try {
        loadVisionTowerInto(run.visionFrom, config.vision, model.parameters);
      } catch (error) {
        model.dispose();
        throw error;
      }
      model.setVisionFrozen(!run.trainVision);
      log(`[aligned] vision tower from ${run.visionFrom} (${model.visionFrozen ? "frozen" : "trained"})`);
    }
    return { model, tokenizer, from: null, examples };
  }
  if (run.from === undefined) throw new WorldDataError("base needs --from <aligned model dir>");
  if (run.visionFrom !== undefined)
    throw new WorldDataError("base keeps the aligned model's vision tower: no --vision-from");
  if (run.modelConfig !== undefined)
    throw new WorldDataError("base keeps the aligned model's architecture: no --config");
  const { model, tokenizer } = loadVLM(run.from);
  const examples = instructionExamples(readSplit(world.dir, "instruction"), seed);
  const unknown = unknownWords(tokenizer, exampleTexts(examples));
  if (unknown.length > 0) {
    model.dispose();
    throw new WorldDataError(
      `the instruction split holds words that ${run.from}'s tokenizer does not know (${unknown.slice(0, 20).join(", ")}); was it trained on another world?`,
    );
  }
  const fromInfo = readTrainInfo(run.from);
  if (fromInfo?.world.configHash !== undefined && fromInfo.world.configHash !== world.configHash) {
    log(
      `[base] warning: ${run.from} was trained on world ${fromInfo.world.configHash.slice(0, 12)}, this is ${world.configHash.slice(0, 12)}`,
    );
  }
  model.setVisionFrozen(!run.trainVision);
  log(
    `[base] from ${run.from}: ${countParams(model.baseParameters())} parameters (vision tower ${model.visionFrozen ? "frozen" : "trained"})`,
  );
  return { model, tokenizer, from: { dir: run.from, configHash: fromInfo?.world.configHash }, examples };
}

/** The instruction split's texts, when it is built (so aligned's tokenizer covers base's data). */
function instructionTexts(world: WorldInfo, seed: number): string[] {
  if (!existsSync(join(world.dir, "instruction.jsonl"))) return [];
  return exampleTexts(instructionExamples(readSplit(world.dir, "instruction"), seed));
}

function kindCounts(examples: readonly WorldExample[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of examples) out[e.kind] = (out[e.kind] ?? 0) + 1;
  return out;
}

/**
 * Micro-batches of similar length (transformers' group_by_length): a seeded shuffle, cut into
 * megabatches of `factor` batches, each sorted by length (longest first) and cut into batches.
 */
export function lengthGroupedBatches<T>(
  items: readonly T[],
  length: (item: T) => number,
  batchSize: number,
  seed: number,
  factor = 50,
): T[][] {
  const order = epochOrder(items.length, seed, 0);
  const batches: T[][] = [];
  for (let start = 0; start < order.length; start += batchSize * factor) {
    const mega = order.slice(start, start + batchSize * factor).map((i) => items[i]);
    mega.sort((a, b) => length(b) - length(a));
    for (let i = 0; i < mega.length; i += batchSize) batches.push(mega.slice(i, i + batchSize));
  }
  return batches;
}

// --- the scorer -------------------------------------------------------------------------------

interface Pair {
  image: Uint8Array;
  text: string;
}

interface ClipBatch {
  pixels: Tensor;
  ids: Tensor;
  mask: Tensor;
  pairs: number;
  duplicates: number;
}

/** The default scorer at the world's image size (8x8 patches at 64x64), with overrides. */
export function worldClipConfig(imageSize: number, vocabSize: number, override: Record<string, unknown> = {}) {
  const { vision, text, ...rest } = override as ClipConfigInput;
  const patchSize = imageSize % 8 === 0 ? imageSize / 8 : 4;
  return {
    ...rest,
    vision: { imageSize, patchSize, stem: "conv", ...vision },
    text: { ...text },
    vocabSize,
  } as ClipConfigInput;
}

/**
 * Stacks pairs, dropping any whose caption (lower-cased, spaces collapsed) already appears in
 * the batch: two identical captions would each be the other image's false negative in InfoNCE.
 */
export function clipCollate(pairs: Pair[], tokenizer: Tokenizer, imageSize: number, maxLength: number): ClipBatch {
  const seen = new Set<string>();
  const kept = pairs.filter((p) => {
    const key = p.text.toLowerCase().replace(/\s+/g, " ").trim();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const n = 3 * imageSize * imageSize;
  const data = new Float32Array(kept.length * n);
  kept.forEach((p, i) => {
    for (let j = 0; j < n; j++) data[i * n + j] = p.image[j] / 255;
  });
  const { ids, mask } = tokenizeTexts(
    tokenizer,
    kept.map((p) => p.text),
    maxLength,
  );
  const pixels = tensorFrom(data, [kept.length, 3, imageSize, imageSize]);
  return { pixels, ids, mask, pairs: kept.length, duplicates: pairs.length - kept.length };
}

async function trainScorer(run: Run): Promise<PretrainResult> {
  const { world, log } = run;
  const seed = run.seed ?? 0;
  if (run.from !== undefined) throw new WorldDataError("scorer starts from scratch: --from is for base");
  const records = readSplit(world.dir, "pretraining");
  const raw = captionPairs(records);
  const tokenizer = buildWorldTokenizer(world.config, [
    ...exampleTexts(captionExamples(records, seed)),
    ...instructionTexts(world, seed),
  ]);
  const model = new ClipModel(worldClipConfig(world.config.image.width, tokenizer.vocabSize, run.modelConfig), {
    seed,
  });
  const size = model.config.vision.imageSize;
  log(`[scorer] new CLIP scorer: ${countParams(model.parameters())} parameters, vocabulary ${tokenizer.vocabSize}`);
  if (run.visionFrom !== undefined) {
    try {
      loadVisionTowerInto(run.visionFrom, model.config.vision, model.parameters());
    } catch (error) {
      model.dispose();
      throw error;
    }
    log(`[scorer] image tower from ${run.visionFrom} (fine-tuned contrastively)`);
  }
  const images = await ImageStore.load(
    world.dir,
    raw.map((p) => p.image),
    size,
    { onProgress: (done, total) => log(`[scorer] images ${done}/${total}`) },
  );
  const pairs: Pair[] = raw.map((p) => ({ image: images.get(p.image), text: p.text }));
  const tc = stageTrainConfig(run);
  const meter = new Throughput();
  const trainable = { clip: model, trainableParameters: () => model.parameters() };
  const trainer = new Trainer<Pair, ClipBatch, typeof trainable>({
    config: trainerConfig(run, tc, seed, tc.batchSize),
    model: trainable,
    dataset: pairs,
    collate: (batch) => clipCollate(batch, tokenizer, size, model.config.text.maxLength),
    lossFn: (m, b): LossOutput =>
      meter.count({
        // contrastiveLoss is the batch mean; one count per micro-batch makes the step their mean.
        loss: m.clip.contrastiveLoss(b.pixels, b.ids, b.mask),
        count: 1,
        tokens: b.pairs,
        metrics: { "data/duplicates_dropped": b.duplicates, "clip/logit_scale": m.clip.logitScale.item() },
      }),
    resume: run.resume,
    exportModel: (dir) => saveClip(dir, model, tokenizer),
    onEvent: progress(run, meter, "pairs"),
  });
  try {
    const result = await trainer.train({ signal: run.signal });
    const data = { pairs: pairs.length, images: images.count };
    const info = trainInfo(run, { seed, from: null, model: model.config, params: model.parameters(), tc, data });
    info.vocabSize = tokenizer.vocabSize;
    info.vision = { from: run.visionFrom ?? null, frozen: false };
    if (!result.stopped) {
      shipDir(
        run,
        (dir) => saveClip(dir, model, tokenizer, { stage: "scorer", world_config_hash: world.configHash }),
        info,
      );
    }
    return { out: run.out, workDir: run.workDir, steps: result.step, stopped: result.stopped, info };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

// --- the vision tower -------------------------------------------------------------------------

interface TaggerBatch {
  pixels: Tensor;
  targets: Map<string, HeadTargets>;
  size: number;
}

/** The vision tower the VLM stages will use (worldVlmConfig's), with the world's tagging heads. */
export function worldTagger(world: WorldInfo, override: Record<string, unknown> = {}, seed = 0): VisionTagger {
  const vision = worldVlmConfig(world.config.image.width, 16, override).vision;
  return new VisionTagger(worldTaggerConfig(vision, world.config.words.list), { seed });
}

async function trainVision(run: Run): Promise<PretrainResult> {
  const { world, log } = run;
  const seed = run.seed ?? 0;
  if (run.from !== undefined || run.visionFrom !== undefined) {
    throw new WorldDataError("vision starts from scratch: --from and --vision-from are for the later stages");
  }
  const records = readSplit(world.dir, "pretraining");
  const model = worldTagger(world, run.modelConfig, seed);
  const size = model.config.vision.imageSize;
  log(`[vision] new tagger: ${countParams(model.parameters)} parameters, heads ${[...model.heads.keys()].join(", ")}`);
  const images = await ImageStore.load(
    world.dir,
    records.map((r) => r.image),
    size,
    { onProgress: (done, total) => log(`[vision] images ${done}/${total}`) },
  );
  const tc = stageTrainConfig(run);
  const meter = new Throughput();
  const plane = 3 * size * size;
  const trainer = new Trainer<WorldRecord, TaggerBatch, VisionTagger>({
    config: trainerConfig(run, tc, seed, tc.batchSize),
    model,
    dataset: records,
    collate: (batch) => {
      const data = new Float32Array(batch.length * plane);
      batch.forEach((r, i) => {
        data.set(images.pixels(r.image), i * plane);
      });
      return {
        pixels: tensorFrom(data, [batch.length, 3, size, size]),
        targets: taggerTargets(model.config, batch),
        size: batch.length,
      };
    },
    lossFn: (m, b): LossOutput => {
      const { total, byHead } = m.loss(b.pixels, b.targets);
      const metrics: Record<string, number> = {};
      for (const [name, l] of byHead) metrics[`loss/${name}`] = l.item() * b.size;
      // The loss is the batch mean; one count per image makes the step the mean over images.
      return meter.count({ loss: total.mul(b.size), count: b.size, tokens: b.size, metrics });
    },
    resume: run.resume,
    exportModel: (dir) => saveTagger(dir, model),
    onEvent: progress(run, meter, "images"),
  });
  try {
    const result = await trainer.train({ signal: run.signal });
    const data = { images: images.count };
    const info = trainInfo(run, { seed, from: null, model: model.config.vision, params: model.parameters, tc, data });
    if (!result.stopped && existsSync(join(world.dir, "validation.jsonl"))) {
      info.validation = await taggerValidation(model, world.dir);
      log(
        `[vision] validation accuracy: ${Object.entries(info.validation)
          .map(([k, v]) => `${k} ${v.toFixed(3)}`)
          .join(", ")}`,
      );
    }
    if (!result.stopped) {
      shipDir(run, (dir) => saveTagger(dir, model, { stage: "vision", world_config_hash: world.configHash }), info);
    }
    return { out: run.out, workDir: run.workDir, steps: result.step, stopped: result.stopped, info };
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** Each head's accuracy on the validation split (what the calibration compares towers by). */
export async function taggerValidation(model: VisionTagger, worldDir: string): Promise<Record<string, number>> {
  const records = readSplit(worldDir, "validation");
  const size = model.config.vision.imageSize;
  const images = await ImageStore.load(
    worldDir,
    records.map((r) => r.image),
    size,
  );
  const plane = 3 * size * size;
  const sums: Record<string, { correct: number; total: number }> = {};
  for (let i = 0; i < records.length; i += 100) {
    const chunk = records.slice(i, i + 100);
    const logits = noGrad(() =>
      tidy(() => {
        const data = new Float32Array(chunk.length * plane);
        chunk.forEach((r, j) => {
          data.set(images.pixels(r.image), j * plane);
        });
        const out = model.forward(tensorFrom(data, [chunk.length, 3, size, size]));
        return new Map([...out].map(([name, z]) => [name, z.toFloat32()]));
      }),
    );
    for (const [name, acc] of Object.entries(taggerAccuracy(model.config, logits, chunk))) {
      sums[name] ??= { correct: 0, total: 0 };
      sums[name].correct += acc.correct;
      sums[name].total += acc.total;
    }
  }
  return Object.fromEntries(Object.entries(sums).map(([name, a]) => [name, a.total > 0 ? a.correct / a.total : 0]));
}

// --- shared pieces ----------------------------------------------------------------------------

function trainerConfig(run: Run, tc: ReturnType<typeof stageTrainConfig>, seed: number, batchSize: number) {
  return {
    lr: tc.lr,
    warmupSteps: tc.warmupSteps,
    schedule: tc.schedule,
    minLrRatio: tc.minLrRatio,
    maxSteps: tc.steps,
    batchSize,
    weightDecay: tc.weightDecay,
    maxGradNorm: 1,
    seed,
    logEvery: run.logEvery ?? 10,
    saveEvery: run.saveEvery ?? 250,
    saveTotalLimit: 2,
    outputDir: run.workDir,
  };
}

/** Counts what the loss functions process, for the progress lines' rate. */
class Throughput {
  units = 0;

  count(out: LossOutput): LossOutput {
    this.units += out.tokens ?? out.count;
    return out;
  }
}

/** A progress line every logEvery steps: loss, lr, rate since the last line, elapsed and ETA. */
function progress(run: Run, meter: Throughput, unit = "tokens"): (e: TrainerEvent) => void {
  const every = run.logEvery ?? 10;
  let last = { t: performance.now(), units: 0 };
  let first: { t: number; step: number } | null = null; // where this process started stepping
  return (e) => {
    if (e.kind === "resume") {
      run.log(`[${run.stage}] resumed from ${e.dir} at step ${e.step}`);
      return;
    }
    if (e.kind === "checkpoint") return;
    const now = performance.now();
    first ??= { t: last.t, step: e.step - 1 };
    if (e.step % every !== 0 && e.step !== e.totalSteps) return;
    const rate = (meter.units - last.units) / ((now - last.t) / 1000);
    const perStep = (now - first.t) / 1000 / (e.step - first.step);
    run.log(
      `[${run.stage}] step ${e.step}/${e.totalSteps}  loss ${e.loss.toFixed(4)}  lr ${e.lr.toExponential(2)}  ` +
        `${Math.round(rate)} ${unit}/s  elapsed ${duration((now - run.started) / 1000)}  ` +
        `eta ${duration(perStep * (e.totalSteps - e.step))}`,
    );
    last = { t: now, units: meter.units };
  };
}

function trainInfo(
  run: Run,
  p: {
    seed: number;
    from: TrainInfo["from"];
    model: VLMConfig | ClipConfig | VisionConfig;
    params: Map<string, Tensor>;
    tc: ReturnType<typeof stageTrainConfig>;
    data: Record<string, number>;
  },
): TrainInfo {
  const metrics = readMetrics(join(run.workDir, "metrics.jsonl"));
  const last = metrics.at(-1);
  // Batches differ by kind (a batch of descriptions has a higher loss than one of short answers):
  // the final loss is the mean over the last FINAL_LOSS_STEPS steps, not the last window's.
  const tail = metrics.filter((m) => last !== undefined && m.step > last.step - FINAL_LOSS_STEPS);
  const finalLoss = tail.length > 0 ? tail.reduce((a, m) => a + m.loss, 0) / tail.length : null;
  const rates = metrics.map((m) => m.tokens_per_s).filter((r) => r > 0);
  const splits = Object.fromEntries(
    Object.entries(run.world.config.splits).map(([name, s]) => [name, s.scenes + s.creatures]),
  );
  return {
    stage: run.stage,
    command: run.command ?? defaultCommand(run),
    seed: p.seed,
    world: { dir: run.world.dir, configHash: run.world.configHash, seed: run.world.config.seed, splits },
    from: p.from,
    model: p.model,
    parameters: countParams(p.params),
    vocabSize: 0,
    train: {
      steps: p.tc.steps,
      batchSize: p.tc.batchSize,
      lr: p.tc.lr,
      warmupSteps: p.tc.warmupSteps,
      weightDecay: p.tc.weightDecay,
      schedule: p.tc.schedule,
      minLrRatio: p.tc.minLrRatio,
    },
    data: p.data,
    stepsDone: last?.step ?? 0,
    finalLoss,
    finalLossSteps: FINAL_LOSS_STEPS,
    tokensPerS: rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : null,
    trainTimeS: last?.elapsed_s ?? null,
    wallTimeS: (performance.now() - run.started) / 1000,
    threads: getNumThreads(),
    versions: { node: process.version, torch: torchVersion() },
    finishedAt: new Date().toISOString(),
  };
}

function defaultCommand(run: Run): string {
  const parts = ["selfsynth", "pretrain", run.stage, "--world", run.world.dir];
  if (run.from !== undefined) parts.push("--from", run.from);
  parts.push("--out", run.out);
  if (run.steps !== undefined) parts.push("--steps", String(run.steps));
  if (run.batchSize !== undefined) parts.push("--batch-size", String(run.batchSize));
  if (run.lr !== undefined) parts.push("--lr", String(run.lr));
  if (run.seed !== undefined) parts.push("--seed", String(run.seed));
  return parts.join(" ");
}

/** Reads `<dir>/train-info.json` when there is one. */
export function readTrainInfo(dir: string): TrainInfo | null {
  const path = join(dir, "train-info.json");
  if (!existsSync(path)) return null;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as TrainInfo;
  } catch {
    return null;
  }
}

/** Refuses an output directory holding files that shipping it would delete. */
function checkShippedDir(out: string): void {
  if (!existsSync(out)) return;
  const foreign = readdirSync(out).filter((f) => !SHIPPED_FILES.has(f));
  if (foreign.length > 0) {
    throw new WorldDataError(`refusing to replace ${out}: it holds other files (${foreign.sort().join(", ")})`);
  }
}

/** Writes the model, train-info.json and metrics.jsonl into a temporary directory, then swaps it into `out`. */
function shipDir(run: Run, saveModel: (dir: string) => void, info: TrainInfo): void {
  const tmp = join(dirname(run.out), `.${basename(run.out)}.ship-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(dirname(run.out), { recursive: true });
  try {
    saveModel(tmp);
    writeFileSync(join(tmp, "train-info.json"), `${JSON.stringify(info, null, 2)}\n`);
    const metrics = join(run.workDir, "metrics.jsonl");
    if (existsSync(metrics)) cpSync(metrics, join(tmp, "metrics.jsonl"));
    checkShippedDir(run.out);
    if (existsSync(run.out)) {
      const old = `${tmp}.old`;
      renameSync(run.out, old);
      renameSync(tmp, run.out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, run.out);
    }
  } catch (error) {
    rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
  run.log(`[${run.stage}] wrote ${run.out} (loss ${info.finalLoss?.toFixed(4)}, ${duration(info.wallTimeS)})`);
}

function countParams(params: Map<string, Tensor>): number {
  let n = 0;
  for (const t of params.values()) n += t.numel;
  return n;
}

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MB`;

function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}
