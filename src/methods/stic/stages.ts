// STIC as recipe stages (METHODS.md section 1):
//   stic-preferences: stage 1. Preference pairs from unlabeled pool images (preferences.ts), then
//     DPO with STIC's likelihood term on LoRA adapters, merged into the next model. With
//     `objective: sft-chosen` the same pairs train SFT on the chosen answers only: the paper's
//     ablation without negatives. `oracleFilter` (a diagnostic that reads the pool's scene
//     graphs) trains only on the pairs whose chosen side hallucinates less; `selfCheck`, its
//     label-free counterpart, on the pairs whose chosen side names fewer objects the policy
//     itself doubts, or a lower share of them with `rule: rate` (self-check.ts).
//   stic-infused-sft: stage 2. The stage-1 model describes the images of an instruction subset;
//     SFT on the questions with the description prefixed (infused.ts).
// Each stage writes its records under `<stage>/data` (content-addressed images, JSONL records,
// drops with reasons), resumable item by item, then trains (resumable from checkpoints).
import { join } from "node:path";
import { z } from "zod";
import { worldVocabulary } from "../../eval/world-benches.js";
import { defineStageKind, worldOf } from "../../run/stage-kind.js";
import { DpoOptionsSchema } from "../../train/dpo.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import { GenerationSchema } from "../common/generation.js";
import { makeRecords, openStageData, storeImage } from "../common/stage-data.js";
import { instructionQuestions, stagePoolItems } from "../common/world-items.js";
import { describeImages, infusedRecords } from "./infused.js";
import { writeOracleFiltered } from "./oracle-filter.js";
import { sticPairs } from "./preferences.js";
import { PromptSetIdSchema, sticPromptSet } from "./prompts.js";
import { SelfCheckSchema, writeSelfChecked } from "./self-check.js";

const promptSetId = PromptSetIdSchema.default("sceneworld").describe(
  "sceneworld: prompts the embedded models know; paper: for instruction-following models",
);

export const sticPreferences = defineStageKind({
  type: "stic-preferences",
  description: "STIC stage 1: description preference pairs from unlabeled images, then DPO (or SFT on chosen)",
  schema: z.object({
    images: z.number().int().min(1).default(1000).describe("unlabeled pool images to describe"),
    prompts: promptSetId,
    generation: GenerationSchema.prefault({}),
    corruptImage: z
      .boolean()
      .default(true)
      .describe("false: the released code (the corruption branch sees the clean image)"),
    hallucinationRate: z.number().min(0).max(1).default(0.5),
    objective: z.enum(["dpo", "sft-chosen"]).default("dpo").describe("sft-chosen: the ablation without negatives"),
    oracleFilter: z
      .boolean()
      .default(false)
      .describe(
        "diagnostic, reads ground truth: train only on pairs whose chosen side names fewer absent objects than the rejected one",
      ),
    selfCheck: z
      .union([z.literal(false), SelfCheckSchema])
      .default(false)
      .describe(
        "label-free: train only on pairs whose chosen side names fewer objects the input model doubts ({} = defaults)",
      ),
    dpo: DpoOptionsSchema.prefault({}),
    lora: LoraSchema.prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: () => ["pool"],
  // The oracle filter reads the pool's scene graphs: only the world's pool has them.
  needs: (config) => ({
    backend: { images: 1, scoring: config.selfCheck !== false },
    weights: true,
    poolImages: !config.oracleFilter,
  }),
  async run(ctx, config) {
    if (config.oracleFilter && config.selfCheck !== false)
      throw new Error(`${ctx.name}: oracleFilter and selfCheck are two filters of the same pairs; choose one`);
    const data = openStageData(ctx, "pairs.jsonl");
    const pairs = await ctx.step("pairs", async () => {
      const pool = await stagePoolItems(ctx, config.images);
      return makeRecords(ctx, data, {
        kind: "preference",
        label: "pairs",
        items: pool.items,
        predropped: pool.dropped,
        chunkSize: config.generation.chunkSize,
        make: async (backend, chunk) => {
          const result = await sticPairs(
            backend,
            chunk,
            {
              stage: ctx.name,
              imagePath: storeImage(data.store),
              prompts: sticPromptSet(config.prompts),
              temperature: config.generation.temperature,
              maxTokens: config.generation.maxTokens,
              chunkSize: chunk.length,
              corruptImage: config.corruptImage,
              hallucinationRate: config.hallucinationRate,
            },
            ctx.seed,
          );
          return { records: result.pairs, dropped: result.dropped };
        },
      });
    });
    ctx.log(`${ctx.name}: ${pairs.records} pairs; dropped ${JSON.stringify(pairs.drops)}`);
    let trainPath = data.recordsPath;
    if (config.selfCheck !== false) {
      const check = config.selfCheck;
      trainPath = join(data.root, "pairs-self-checked.jsonl");
      const kept = await ctx.step("self-check", async () => {
        const backend = await ctx.openModel(ctx.inputModel);
        const bar = ctx.progress(`${ctx.name} self-check`, pairs.records);
        try {
          return await writeSelfChecked({
            backend,
            recordsPath: data.recordsPath,
            out: trainPath,
            root: data.root,
            table: worldVocabulary().objects,
            check,
            onProgress: (done) => bar.update(done),
            signal: ctx.signal,
          });
        } finally {
          bar.done();
          await backend.close();
        }
      });
      ctx.log(
        `${ctx.name}: self-check kept ${kept.kept} of ${kept.pairs} pairs (rule ${check.rule}); doubted objects per side: chosen ${kept.doubted.chosen.toFixed(2)}, rejected ${kept.doubted.rejected.toFixed(2)}`,
      );
    }
    if (config.oracleFilter) {
      trainPath = join(data.root, "pairs-oracle.jsonl");
      const kept = await ctx.step("oracle-filter", async () =>
        writeOracleFiltered(data.recordsPath, trainPath, data.root, worldOf(ctx)),
      );
      ctx.log(`${ctx.name}: oracle filter kept ${kept.kept} of ${kept.pairs} pairs (${JSON.stringify(kept.dropped)})`);
    }
    return trainStageModel({
      ctx,
      datasetRoot: data.root,
      recordsPath: trainPath,
      objective: config.objective === "dpo" ? { kind: "dpo", dpo: config.dpo } : { kind: "sft" },
      lora: config.lora,
      train: config.train,
    });
  },
});

export const sticInfusedSft = defineStageKind({
  type: "stic-infused-sft",
  description: "STIC stage 2: SFT on instruction questions with the model's own image description prefixed",
  schema: z.object({
    questions: z.number().int().min(1).default(1000).describe("instruction questions (one per image)"),
    prompts: promptSetId,
    generation: GenerationSchema.prefault({}),
    lora: LoraSchema.prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: () => ["instruction"],
  needs: () => ({ backend: { images: 1 }, weights: true }),
  async run(ctx, config) {
    const data = openStageData(ctx, "infused.jsonl");
    const sampling = { temperature: config.generation.temperature, max_tokens: config.generation.maxTokens };
    const made = await ctx.step("records", () =>
      makeRecords(ctx, data, {
        kind: "sft",
        label: "describe",
        items: instructionQuestions(worldOf(ctx).dir, config.questions, ctx.seed),
        chunkSize: config.generation.chunkSize,
        make: async (backend, chunk) => {
          const descriptions = await describeImages(backend, chunk, {
            prompts: sticPromptSet(config.prompts),
            temperature: sampling.temperature,
            maxTokens: sampling.max_tokens,
            chunkSize: chunk.length,
            seed: ctx.seed,
          });
          const result = await infusedRecords(chunk, descriptions, {
            stage: ctx.name,
            model: backend.name,
            imagePath: storeImage(data.store),
            seed: ctx.seed,
            sampling,
          });
          return { records: result.records, dropped: result.dropped };
        },
      }),
    );
    ctx.log(`${ctx.name}: ${made.records} records; dropped ${JSON.stringify(made.drops)}`);
    return trainStageModel({
      ctx,
      datasetRoot: data.root,
      recordsPath: data.recordsPath,
      objective: { kind: "sft" },
      lora: config.lora,
      train: config.train,
    });
  },
});
