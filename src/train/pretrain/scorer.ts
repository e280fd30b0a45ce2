// The scorer stage: the CLIP-style image-text model, contrastive on the pretraining split's
// image-caption pairs.
import { type Tensor, tensorFrom } from "../../engine/index.js";
import { type ClipConfigInput, ClipModel, tokenizeTexts } from "../../models/clip.js";
import { saveClip } from "../../models/clip-io.js";
import { loadVisionTowerInto } from "../../models/tagger-io.js";
import type { Tokenizer } from "../../models/tokenizer.js";
import { readWorldSplit } from "../../world/read-split.js";
import { type LossOutput, Trainer } from "../trainer.js";
import {
  buildWorldTokenizer,
  captionExamples,
  captionPairs,
  exampleTexts,
  ImageStore,
  WorldDataError,
} from "../world-data.js";
import {
  countParams,
  instructionTexts,
  type PretrainResult,
  progress,
  type Run,
  stageTrainConfig,
  Throughput,
  trainerConfig,
} from "./common.js";
import { finishStage, trainInfo } from "./ship.js";

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

export async function trainScorer(run: Run): Promise<PretrainResult> {
  const { world, log } = run;
  const seed = run.seed ?? 0;
  if (run.from !== undefined) throw new WorldDataError("scorer starts from scratch: --from is for base");
  const records = readWorldSplit(world.dir, "pretraining");
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
    return finishStage(run, result, info, (dir, metadata) => saveClip(dir, model, tokenizer, metadata));
  } finally {
    trainer.dispose();
    model.dispose();
  }
}
