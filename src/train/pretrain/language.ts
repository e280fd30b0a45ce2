// The language stage: a fresh VLM's decoder learns the world's language from text alone, the
// corpus of src/world/corpus.ts (captions and descriptions of scene graphs drawn under a strong
// co-occurrence prior), before any image. `aligned` then starts from it (--from) and learns to
// read images: the prior the base shows comes from its decoder's text, as in a real VLM whose
// language model was pretrained on human text (DESIGN.md: where the prior lives).
//
// Plain causal language modelling: `<bos> text <eos>`, every token after `<bos>` learned, no chat
// template (the decoder meets the template in `aligned`). The tokenizer is built here, over the
// corpus, the pretraining captions, the instruction texts and the world's vocabulary, so that
// aligned and base reuse it. Only the decoder trains: the tower and projector see no input.

import type { TrainableModel, TrainBatch } from "../../models/trainable.js";
import { VLM } from "../../models/vlm.js";
import { saveVLM } from "../../models/vlm-io.js";
import { corpusTexts, DEFAULT_CORPUS } from "../../world/corpus.js";
import { readWorldSplit } from "../../world/read-split.js";
import { collate } from "../collate.js";
import { sftLossFn } from "../sft-loss.js";
import { Trainer } from "../trainer.js";
import type { TokenizedExample } from "../types.js";
import { buildWorldTokenizer, captionExamples, exampleTexts, WorldDataError } from "../world-data.js";
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
import { lengthGroupedBatches, worldVlmConfig } from "./vlm.js";

const isDecoderKey = (name: string) => !name.startsWith("vision.") && !name.startsWith("projector.");

export async function trainLanguage(run: Run): Promise<PretrainResult> {
  const { world, log } = run;
  const seed = run.seed ?? 0;
  if (run.from !== undefined || run.visionFrom !== undefined) {
    throw new WorldDataError("language starts from scratch: --from and --vision-from are for the later stages");
  }
  const given = Object.entries(run.corpus ?? {}).filter(([, v]) => v !== undefined);
  const corpus = { ...DEFAULT_CORPUS, ...Object.fromEntries(given), seed };
  const texts = corpusTexts(world.config, corpus);
  const captions = exampleTexts(captionExamples(readWorldSplit(world.dir, "pretraining"), seed));
  const tokenizer = buildWorldTokenizer(world.config, [...texts, ...captions, ...instructionTexts(world, seed)]);
  const model = new VLM(worldVlmConfig(world.config.image.width, tokenizer.vocabSize, run.modelConfig), { seed });
  const maxPositions = model.config.decoder.maxPositions;
  const { bos, eos, pad } = tokenizer.specialIds;
  const examples: TokenizedExample[] = texts.map((text, i) => {
    const inputIds = [bos, ...tokenizer.encode(text), eos];
    if (inputIds.length > maxPositions) {
      throw new WorldDataError(`corpus text ${i}: ${inputIds.length} tokens exceed the model's maxPositions`);
    }
    return { inputIds, labels: inputIds, image: null };
  });
  log(
    `[language] new decoder: ${countParams(decoderParameters(model))} parameters, vocabulary ${tokenizer.vocabSize}; ` +
      `corpus ${texts.length} texts (${corpus.scenes} scenes, ${corpus.creatures} creatures, partner rate ${corpus.partnerRate})`,
  );
  const tc = stageTrainConfig(run);
  const groups = lengthGroupedBatches(examples, (e) => e.inputIds.length, tc.batchSize, seed);
  const size = model.config.vision.imageSize;
  const meter = new Throughput();
  const decoder: TrainableModel = {
    forward: (batch, opts) => model.forward(batch, opts),
    trainableParameters: () => decoderParameters(model),
  };
  model.setVisionFrozen(true);
  const trainer = new Trainer<TokenizedExample[], TrainBatch, TrainableModel>({
    config: trainerConfig(run, tc, seed, 1),
    model: decoder,
    dataset: groups,
    collate: (batches) => collate(batches.flat(), { padId: pad, imageShape: [3, size, size] }),
    lossFn: (m, batch) => meter.count(sftLossFn(m, batch)),
    resume: run.resume,
    exportModel: (dir) => saveVLM(dir, model, tokenizer),
    onEvent: progress(run, meter),
  });
  try {
    const result = await trainer.train({ signal: run.signal });
    const data = {
      texts: texts.length,
      corpusScenes: corpus.scenes,
      corpusCreatures: corpus.creatures,
      partnerRate: corpus.partnerRate,
      batches: groups.length,
    };
    const info = trainInfo(run, { seed, from: null, model: model.config, params: model.baseParameters(), tc, data });
    info.vocabSize = tokenizer.vocabSize;
    return finishStage(run, result, info, (dir, metadata) => saveVLM(dir, model, tokenizer, metadata));
  } finally {
    trainer.dispose();
    model.dispose();
  }
}

/** The decoder's weights: token embeddings, blocks, final norm and LM head (no tower, no projector). */
function decoderParameters(model: VLM) {
  return new Map([...model.baseParameters()].filter(([name]) => isDecoderKey(name)));
}
