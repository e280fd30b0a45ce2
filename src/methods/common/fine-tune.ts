// Training step of a method stage on the embedded model: read the stage's records, train the
// input model with LoRA adapters (DPO on preference records, or SFT on SFT records or on the
// chosen side of preference records), merge the adapters, and save the result as a model folder.
// Checkpoints go to `<stage>/train` and a killed training resumes from the latest one.
//
// When the input model is served (its weights are not here), the same settings are handed off
// instead: `<stage>/export/` holds the records for TRL and LLaMA-Factory with a config of each
// (src/data/export/handoff.ts), and the stage's result says the run waits for the trained model.

import { join } from "node:path";
import type { z } from "zod";
import { imageInput } from "../../backends/embedded.js";
import { readRecords } from "../../data/dataset.js";
import { type Handoff, writeHandoff } from "../../data/export/handoff.js";
import { guessLlamaFactoryTemplate, type TrainPlan } from "../../data/export/train-plan.js";
import { ImageStore, mimeTypeOfPath } from "../../data/image-store.js";
import type { PreferenceRecord, SftRecord } from "../../data/records.js";
import { type ChatMessage, encodeChat } from "../../models/chat-template.js";
import { LoraConfigSchema } from "../../models/lora-config.js";
import type { Tokenizer } from "../../models/tokenizer.js";
import { loadVLM, saveVLM } from "../../models/vlm-io.js";
import type { StageContext, StageResult } from "../../run/stage-kind.js";
import { checkTrainRules, type TrainConfig, TrainConfigFields } from "../../train/config.js";
import { type DpoExample, type DpoOptions, trainDpo } from "../../train/dpo.js";
import { type SftExample, trainSft } from "../../train/sft.js";
import type { TrainerEvent } from "../../train/trainer.js";

/** A recipe's `lora` block: the model's LoRA settings, with the recipes' defaults for r and alpha. */
export const LoraSchema = LoraConfigSchema.extend({
  r: LoraConfigSchema.shape.r.default(16),
  alpha: LoraConfigSchema.shape.alpha.default(32),
});
export type LoraOptions = z.output<typeof LoraSchema>;

const trainer = TrainConfigFields.shape;

/**
 * A recipe's `train` block: the trainer's own fields and rules, less those the stage sets (seed,
 * outputDir, saveTotalLimit), with the recipes' defaults where the trainer has none (lr,
 * batchSize) or another (saveEvery: a stage checkpoints for resume; the trainer's 0 saves only at
 * the end).
 */
export const TrainSchema = TrainConfigFields.omit({ seed: true, outputDir: true, saveTotalLimit: true })
  .extend({
    lr: trainer.lr.default(1e-4),
    batchSize: trainer.batchSize.default(8),
    saveEvery: trainer.saveEvery.unwrap().default(20).describe("checkpoint every this many steps, for resume"),
  })
  .superRefine(checkTrainRules);
export type TrainOptions = z.output<typeof TrainSchema>;

export type Objective = { kind: "dpo"; dpo: DpoOptions } | { kind: "sft" };

export interface FineTuneOptions {
  ctx: StageContext;
  /** The dataset folder the records' image paths are relative to. */
  datasetRoot: string;
  recordsPath: string;
  objective: Objective;
  /** null: train every weight. */
  lora: LoraOptions | null;
  train: TrainOptions;
  /** Where the trained model is saved (a model folder). */
  out: string;
}

export interface FineTuneResult {
  steps: number;
  examples: number;
  /** Records dropped as longer than the model's context (absent when none were). */
  tooLong?: number;
}

async function pixelsOf(store: ImageStore, path: string, size: number): Promise<Float32Array> {
  const bytes = store.read(path);
  return imageInput({ bytes, mimeType: mimeTypeOfPath(path) }, size, path);
}

/**
 * Each distinct image decoded once: records that share an image share its pixels (collate copies
 * them into the batch). COMPACT's full-budget arm trains 91,453 records on 10,000 images: 0.5 GB
 * of pixels instead of 4.5.
 */
function pixelReader(store: ImageStore, size: number): (path: string) => Promise<Float32Array> {
  const cache = new Map<string, Float32Array>();
  return async (path) => {
    let pixels = cache.get(path);
    if (pixels === undefined) {
      pixels = await pixelsOf(store, path, size);
      cache.set(path, pixels);
    }
    return pixels;
  };
}

/** One image per record: the embedded VLM reads a single image. */
function singleImage(record: { id: string; images: string[] }): string | null {
  if (record.images.length > 1)
    throw new Error(`record ${record.id}: ${record.images.length} images; the embedded model takes one`);
  return record.images[0] ?? null;
}

async function dpoExamples(records: PreferenceRecord[], store: ImageStore, size: number): Promise<DpoExample[]> {
  const out: DpoExample[] = [];
  const pixels = pixelReader(store, size);
  for (const r of records) {
    const path = singleImage(r);
    out.push({
      image: path === null ? null : await pixels(path),
      prompt: r.prompt as ChatMessage[],
      chosen: r.chosen,
      rejected: r.rejected,
      ...(r.reference === undefined ? {} : { reference: r.reference }),
    });
  }
  return out;
}

async function sftExamples(records: (SftRecord | PreferenceRecord)[], store: ImageStore, size: number) {
  const out: SftExample[] = [];
  const pixels = pixelReader(store, size);
  for (const r of records) {
    const path = singleImage(r);
    const messages: ChatMessage[] =
      r.kind === "sft" ? r.messages : [...r.prompt, { role: "assistant", content: r.chosen }];
    out.push({ image: path === null ? null : await pixels(path), messages });
  }
  return out;
}

/** The conversations a record trains on: its messages, or its prompt with each answer. */
function conversations(record: SftRecord | PreferenceRecord): ChatMessage[][] {
  if (record.kind === "sft") return [record.messages];
  return [record.chosen, record.rejected].map((answer) => [
    ...(record.prompt as ChatMessage[]),
    { role: "assistant", content: answer },
  ]);
}

/**
 * The records whose every conversation fits the decoder's context (image tokens included), and
 * the ids of the others. A stage's records can be longer than the model reads (an imported
 * dataset's long answer, a long description): they are dropped and counted, not left to stop the
 * trainer halfway through a stage.
 */
export function fitContext<R extends SftRecord | PreferenceRecord>(
  records: readonly R[],
  tokenizer: Tokenizer,
  model: { numImageTokens: number; config: { decoder: { maxPositions: number } } },
): { kept: R[]; tooLong: string[] } {
  const limit = model.config.decoder.maxPositions;
  const kept: R[] = [];
  const tooLong: string[] = [];
  for (const record of records) {
    const fits = conversations(record).every(
      (messages) =>
        encodeChat(tokenizer, messages, { numImageTokens: model.numImageTokens, addGenerationPrompt: false }).inputIds
          .length <= limit,
    );
    if (fits) kept.push(record);
    else tooLong.push(record.id);
  }
  return { kept, tooLong };
}

export async function fineTune(options: FineTuneOptions): Promise<FineTuneResult> {
  const { ctx, objective, train } = options;
  const { model, tokenizer } = loadVLM(ctx.inputModel);
  try {
    const store = new ImageStore(options.datasetRoot);
    const size = model.config.vision.imageSize;
    const read = readRecords(options.recordsPath, "any", { root: options.datasetRoot });
    const { kept: records, tooLong } = fitContext(read, tokenizer, model);
    if (tooLong.length > 0) {
      const shown = tooLong.slice(0, 3).join(", ");
      ctx.log(
        `${ctx.name}: dropped ${tooLong.length} of ${read.length} records longer than the model's context (decoder.maxPositions ${model.config.decoder.maxPositions}): ${shown}${tooLong.length > 3 ? ", ..." : ""}`,
      );
    }
    if (records.length === 0) {
      throw new Error(
        `${options.recordsPath}: no records to train on${tooLong.length > 0 ? ` (all ${tooLong.length} longer than the model's context)` : ""}`,
      );
    }
    if (options.lora) model.addLora(options.lora);
    const config: TrainConfig = { ...train, saveTotalLimit: 2, seed: ctx.seed, outputDir: `${ctx.stageDir}/train` };
    let bar: ReturnType<StageContext["progress"]> | null = null;
    const onEvent = (e: TrainerEvent) => {
      if (e.kind === "resume") ctx.log(`${ctx.name}: resuming training at step ${e.step}`);
      if (e.kind !== "step") return;
      bar ??= ctx.progress(`${ctx.name} train`, e.totalSteps, e.step - 1);
      bar.update(e.step);
    };
    const trainOptions = { resume: true, onEvent, signal: ctx.signal };
    let result: { step: number };
    if (objective.kind === "dpo") {
      const prefs = records.filter((r): r is PreferenceRecord => r.kind === "preference");
      if (prefs.length !== records.length) throw new Error(`${options.recordsPath}: DPO needs preference records only`);
      result = await trainDpo(
        model,
        tokenizer,
        await dpoExamples(prefs, store, size),
        config,
        objective.dpo,
        trainOptions,
      );
    } else {
      result = await trainSft(model, tokenizer, await sftExamples(records, store, size), config, trainOptions);
    }
    (bar as ReturnType<StageContext["progress"]> | null)?.done();
    ctx.signal.throwIfAborted();
    model.mergeLora();
    saveVLM(options.out, model, tokenizer, { trained_by: ctx.name });
    return { steps: result.step, examples: records.length, ...(tooLong.length > 0 ? { tooLong: tooLong.length } : {}) };
  } finally {
    model.dispose();
  }
}

/** What the stage would train, for a trainer elsewhere (the base model: trainElsewhere, else the served name). */
export function trainPlan(options: Omit<FineTuneOptions, "out">, servedModel: string): TrainPlan {
  const { ctx, objective, lora, train } = options;
  const baseModel = ctx.trainElsewhere.baseModel ?? servedModel;
  return {
    stage: ctx.name,
    objective: objective.kind,
    baseModel,
    template: ctx.trainElsewhere.template ?? guessLlamaFactoryTemplate(baseModel),
    seed: ctx.seed,
    dpo:
      objective.kind === "dpo"
        ? {
            beta: objective.dpo.beta,
            alpha: objective.dpo.alpha,
            reference: objective.dpo.reference,
            rejectedLogp: objective.dpo.rejectedLogp,
            dropout: objective.dpo.dropout,
          }
        : null,
    lora, // the stage's LoRA block is the plan's: r, alpha, dropout, targetModules, modulesToSave
    train: {
      lr: train.lr,
      warmupSteps: train.warmupSteps,
      schedule: train.schedule,
      minLrRatio: train.minLrRatio,
      epochs: train.epochs,
      ...(train.maxSteps === undefined ? {} : { maxSteps: train.maxSteps }),
      batchSize: train.batchSize,
      gradAccumSteps: train.gradAccumSteps,
      maxGradNorm: train.maxGradNorm,
      weightDecay: train.weightDecay,
      betas: train.betas,
      eps: train.eps,
      logEvery: train.logEvery,
      saveEvery: train.saveEvery,
    },
  };
}

/**
 * A stage's training step: fineTune into `<stage>/model` once (a rerun gets the stored result),
 * and that model as the stage's result, evaluated as a round. A `dataOnly` stage skips it: its
 * records stay for a trainer elsewhere, and the input model is the stage's result. A stage whose
 * input model is served hands its training off (`<stage>/export/`, once) and its result waits.
 */
export async function trainStageModel(options: Omit<FineTuneOptions, "out">): Promise<StageResult> {
  const { ctx } = options;
  if (ctx.dataOnly) {
    ctx.log(`${ctx.name}: dataOnly: training skipped; the records are ${options.recordsPath}`);
    return { model: ctx.inputModel, evaluate: false };
  }
  const served = ctx.servedInput;
  if (served !== null) {
    const handoff = await ctx.step(
      "export",
      (): Handoff =>
        writeHandoff({
          records: options.recordsPath,
          out: join(ctx.stageDir, "export"),
          plan: trainPlan(options, served.model),
          source: { run: ctx.runDir, servedModel: served.model, baseUrls: served.baseUrls },
          runCommand: ctx.runCommand,
        }),
    );
    ctx.log(
      `${ctx.name}: the model is served (${served.model}): training handed off to ${handoff.exportDir} (${handoff.records} records, base model ${handoff.baseModel})`,
    );
    return { model: ctx.inputModel, evaluate: false, waiting: handoff };
  }
  const out = join(options.ctx.stageDir, "model");
  await options.ctx.step("train", () => fineTune({ ...options, out }));
  return { model: out, evaluate: true };
}
