// The supervised ceiling as a recipe stage (issue 13): supervised-sft fine-tunes its input model
// on the pool split's ground truth (ground-truth.ts), at the budget a method's stage gets (the
// pool images STIC's stage 1 draws, its LoRA and training defaults), so that each method's effect
// can be reported as the fraction of the base-to-ceiling gap it closes. It reads labels: it is a
// reference point, not a self-improvement method, and says so in its description, its log and
// every record's provenance (method "supervised", reasons ["ground-truth"]).
//
// Records need no model: they are made and written whole in one step (writeStageRecords), which a
// rerun after a kill makes again; training then resumes from its checkpoints like every stage's.
import { z } from "zod";
import { defineStageKind, worldOf } from "../../run/stage-kind.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import { openStageData, storeImage, writeStageRecords } from "../common/stage-data.js";
import { groundTruthRecords, poolTruthItems } from "./ground-truth.js";

export const supervisedSft = defineStageKind({
  type: "supervised-sft",
  description:
    "supervised ceiling, reads labels (not a self-improvement method): SFT on the pool split's ground truth, true descriptions and existence answers",
  schema: z.object({
    images: z
      .number()
      .int()
      .min(1)
      .default(2400)
      .describe("pool images, a seeded subset as a method stage draws them (STIC stage 1 describes 2400)"),
    questionsPerImage: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe("plain existence questions per scene, with their true answers (creatures: none)"),
    lora: LoraSchema.prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: () => ["pool"],
  // Trains on the pool's ground-truth captions: nothing asked of a backend, the world's pool only.
  needs: () => ({ weights: true }),
  async run(ctx, config) {
    ctx.log(
      `${ctx.name}: supervised ceiling: reads the pool's ground truth (descriptions, existence answers); not a self-improvement method`,
    );
    const data = openStageData(ctx, "ground-truth.jsonl");
    const made = await ctx.step("records", async () => {
      const items = poolTruthItems(worldOf(ctx).dir, config.images, ctx.seed);
      const bar = ctx.progress(`${ctx.name} records`, items.length);
      try {
        const result = await groundTruthRecords(items, {
          stage: ctx.name,
          seed: ctx.seed,
          questionsPerImage: config.questionsPerImage,
          imagePath: storeImage(data.store),
          onProgress: (done) => bar.update(done),
          signal: ctx.signal,
        });
        return {
          ...writeStageRecords(data, "sft", result.records, result.dropped),
          images: items.length,
          descriptions: result.descriptions,
          questions: result.questions,
          fewerQuestions: result.fewerQuestions,
        };
      } finally {
        bar.done();
      }
    });
    ctx.log(
      `${ctx.name}: ${made.records} ground-truth records from ${made.images} pool images (${made.descriptions} descriptions, ${made.questions} existence questions; ${made.fewerQuestions} scenes had fewer than ${config.questionsPerImage}); dropped ${JSON.stringify(made.drops)}`,
    );
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
