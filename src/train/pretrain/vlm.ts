// The VLM stages: aligned (a fresh VLM on captions) and base (aligned, instruction-tuned).
//
// Batching (VLM stages): examples are grouped into micro-batches of similar length, as
// transformers' `group_by_length` does (megabatches of 50 batches, sorted by length, cut into
// batches): a description (~250 tokens) no longer pads a batch of questions (~95 tokens) to
// its length. The groups are fixed per run (the trainer shuffles their order every epoch), so
// the trainer sees one group as one dataset item (its batchSize is 1).
import { loadVisionTowerInto, taggerReadoutHeads } from "../../models/tagger-io.js";
import type { TrainBatch } from "../../models/trainable.js";
import { DEFAULT_VLM_CONFIG, parseVLMConfig, VLM, type VLMConfig } from "../../models/vlm.js";
import { loadVLM, saveVLM } from "../../models/vlm-io.js";
import { withReadout } from "../../models/vlm-readout.js";
import { readWorldSplit } from "../../world/read-split.js";
import { collate } from "../collate.js";
import { epochOrder } from "../data-order.js";
import { sftLossFn } from "../sft-loss.js";
import { Trainer } from "../trainer.js";
import type { TokenizedExample } from "../types.js";
import {
  buildWorldTokenizer,
  captionExamples,
  exampleTexts,
  ImageStore,
  instructionExamples,
  tokenizeWorldExamples,
  unknownWords,
  WorldDataError,
  type WorldExample,
} from "../world-data.js";
import {
  countParams,
  instructionTexts,
  mb,
  type PretrainResult,
  progress,
  type Run,
  stageTrainConfig,
  Throughput,
  trainerConfig,
} from "./common.js";
import { finishStage, readTrainInfo, trainInfo } from "./ship.js";

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

export async function trainVlmStage(run: Run): Promise<PretrainResult> {
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
    return finishStage(run, result, info, (dir, metadata) => saveVLM(dir, model, tokenizer, metadata));
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/**
 * aligned: the language-stage model (--from) or a fresh one with the world tokenizer, its tower
 * from --vision-from; base: the aligned model. A loaded model's tokenizer is checked against
 * the stage's data.
 */
async function prepareVlm(run: Run, seed: number) {
  const { world, log } = run;
  if (run.stage === "aligned") {
    const examples = captionExamples(readWorldSplit(world.dir, "pretraining"), seed);
    const readout = readoutOf(run);
    const readoutConfig = Object.keys(readout).length > 0 ? { readout } : {};
    let { model, tokenizer, from } =
      run.from === undefined
        ? freshVlm(run, examples, seed, readoutConfig)
        : loadChecked(run, run.from, examples, "pretraining captions");
    if (run.visionFrom !== undefined) {
      try {
        if (run.from !== undefined && readoutConfig.readout !== undefined) {
          const plain = model;
          model = withReadout(plain, readout);
          plain.dispose();
        }
        loadVisionTowerInto(run.visionFrom, model.config.vision, model.parameters, readout);
      } catch (error) {
        model.dispose();
        throw error;
      }
      model.setVisionFrozen(!run.trainVision);
      const reads =
        Object.keys(readout).length > 0 ? `, its projector reads heads ${Object.keys(readout).join(", ")}` : "";
      log(`[aligned] vision tower from ${run.visionFrom} (${model.visionFrozen ? "frozen" : "trained"})${reads}`);
    }
    return { model, tokenizer, from, examples };
  }
  if (run.from === undefined) throw new WorldDataError("base needs --from <aligned model dir>");
  if (run.visionFrom !== undefined)
    throw new WorldDataError("base keeps the aligned model's vision tower: no --vision-from");
  const examples = instructionExamples(readWorldSplit(world.dir, "instruction"), seed);
  const { model, tokenizer, from } = loadChecked(run, run.from, examples, "instruction split");
  model.setVisionFrozen(!run.trainVision);
  log(
    `[base] from ${run.from}: ${countParams(model.baseParameters())} parameters (vision tower ${model.visionFrozen ? "frozen" : "trained"})`,
  );
  return { model, tokenizer, from, examples };
}

/**
 * The tagger heads the aligned model's projector reads: run.readout's (checked against the
 * tagger), else every per-patch single-label head of --vision-from; none without a tagger.
 */
function readoutOf(run: Run): Record<string, number> {
  if (run.visionFrom === undefined) {
    if (run.readout !== undefined && run.readout.length > 0)
      throw new WorldDataError("--readout reads heads of the --vision-from tagger: give --vision-from");
    return {};
  }
  const available = taggerReadoutHeads(run.visionFrom);
  if (run.readout === undefined) return available;
  const out: Record<string, number> = {};
  for (const name of run.readout) {
    if (available[name] === undefined) {
      throw new WorldDataError(
        `--readout ${name}: ${run.visionFrom} has no such per-patch head (it has ${Object.keys(available).join(", ")})`,
      );
    }
    out[name] = available[name];
  }
  return out;
}

/** A new VLM at the world's image size, with a tokenizer over the captions and instruction texts. */
function freshVlm(run: Run, examples: readonly WorldExample[], seed: number, extra: Record<string, unknown>) {
  const { world, log } = run;
  const tokenizer = buildWorldTokenizer(world.config, [...exampleTexts(examples), ...instructionTexts(world, seed)]);
  const config = worldVlmConfig(world.config.image.width, tokenizer.vocabSize, { ...extra, ...run.modelConfig });
  if (world.config.image.width !== world.config.image.height) {
    log(`[aligned] the world's images are ${world.config.image.width}x${world.config.image.height}: resized to square`);
  }
  const model = new VLM(config, { seed });
  log(`[aligned] new VLM: ${countParams(model.baseParameters())} parameters, vocabulary ${tokenizer.vocabSize}`);
  return { model, tokenizer, from: null };
}

/** The --from model, refused when its tokenizer does not know the data's words; warns on another world. */
function loadChecked(run: Run, dir: string, examples: readonly WorldExample[], what: string) {
  if (run.modelConfig !== undefined) throw new WorldDataError(`${run.stage} keeps ${dir}'s architecture: no --config`);
  const { model, tokenizer } = loadVLM(dir);
  const unknown = unknownWords(tokenizer, exampleTexts(examples));
  if (unknown.length > 0) {
    model.dispose();
    throw new WorldDataError(
      `the ${what} hold words that ${dir}'s tokenizer does not know (${unknown.slice(0, 20).join(", ")}); was it trained on another world?`,
    );
  }
  const fromInfo = readTrainInfo(dir);
  if (fromInfo?.world.configHash !== undefined && fromInfo.world.configHash !== run.world.configHash) {
    run.log(
      `[${run.stage}] warning: ${dir} was trained on world ${fromInfo.world.configHash.slice(0, 12)}, this is ${run.world.configHash.slice(0, 12)}`,
    );
  }
  return { model, tokenizer, from: { dir, configHash: fromInfo?.world.configHash } };
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
