// The vision stage: the image tower alone, supervised on the pretraining split's scene graphs
// (models/tagger.ts, train/tagger-data.ts), the tower the other stages start from.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { noGrad, type Tensor, tensorFrom, tidy } from "../../engine/index.js";
import { type HeadTargets, VisionTagger } from "../../models/tagger.js";
import { saveTagger } from "../../models/tagger-io.js";
import { readWorldSplit } from "../../world/read-split.js";
import type { WorldRecord } from "../../world/splits.js";
import { taggerAccuracy, taggerTargets, worldTaggerConfig } from "../tagger-data.js";
import { type LossOutput, Trainer } from "../trainer.js";
import { ImageStore, WorldDataError, type WorldInfo } from "../world-data.js";
import {
  countParams,
  type PretrainResult,
  progress,
  type Run,
  stageTrainConfig,
  Throughput,
  trainerConfig,
} from "./common.js";
import { finishStage, trainInfo } from "./ship.js";
import { worldVlmConfig } from "./vlm.js";

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

export async function trainVision(run: Run): Promise<PretrainResult> {
  const { world, log } = run;
  const seed = run.seed ?? 0;
  if (run.from !== undefined || run.visionFrom !== undefined) {
    throw new WorldDataError("vision starts from scratch: --from and --vision-from are for the later stages");
  }
  const records = readWorldSplit(world.dir, "pretraining");
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
    return finishStage(run, result, info, (dir, metadata) => saveTagger(dir, model, metadata));
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** Each head's accuracy on the validation split (what the calibration compares towers by). */
export async function taggerValidation(model: VisionTagger, worldDir: string): Promise<Record<string, number>> {
  const records = readWorldSplit(worldDir, "validation");
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
