// The trainer's configuration: every field with its default and help text, validated with zod;
// a bad value is reported by its field name. Rules between fields live in one place
// (checkTrainRules), which a recipe's training block (derived from these fields) checks too.
import { z } from "zod";

const positiveInt = z.number().int().min(1);
const nonNegativeInt = z.number().int().min(0);

/** The fields without the rules between them: what other schemas pick from (zod refuses to pick from a refined object). */
export const TrainConfigFields = z
  .object({
    lr: z.number().gt(0).describe("peak learning rate, reached at the end of warmup"),
    warmupSteps: nonNegativeInt.default(0).describe("optimizer steps of linear warmup from 0"),
    schedule: z.enum(["cosine", "constant"]).default("cosine").describe("lr after warmup"),
    minLrRatio: z.number().min(0).max(1).default(0).describe("cosine floor, as a fraction of lr"),
    epochs: positiveInt.default(1).describe("passes over the dataset (ignored when maxSteps is set)"),
    maxSteps: positiveInt.optional().describe("optimizer steps to run; overrides epochs"),
    batchSize: positiveInt.describe("examples per micro-batch"),
    gradAccumSteps: positiveInt.default(1).describe("micro-batches per optimizer step"),
    maxGradNorm: z.number().min(0).default(1).describe("clip the global gradient norm to this; 0 = no clipping"),
    weightDecay: z.number().min(0).default(0).describe("AdamW decoupled weight decay"),
    betas: z
      .tuple([z.number().min(0).lt(1), z.number().min(0).lt(1)])
      .default([0.9, 0.999])
      .describe("AdamW betas"),
    eps: z.number().gt(0).default(1e-8).describe("AdamW epsilon"),
    seed: nonNegativeInt.default(0).describe("seed of the per-epoch shuffle"),
    logEvery: positiveInt.default(1).describe("write a metrics line every this many steps"),
    saveEvery: nonNegativeInt.default(0).describe("checkpoint every this many steps (0 = only at the end)"),
    saveTotalLimit: positiveInt.optional().describe("keep at most this many checkpoints (oldest deleted)"),
    outputDir: z.string().min(1).describe("where checkpoints and metrics.jsonl go"),
  })
  .strict();

/** The rules between fields (for superRefine). */
export function checkTrainRules(c: { warmupSteps: number; maxSteps?: number }, ctx: z.RefinementCtx): void {
  if (c.maxSteps !== undefined && c.warmupSteps > c.maxSteps)
    ctx.addIssue({ code: "custom", path: ["warmupSteps"], message: "must not exceed maxSteps" });
}

export const TrainConfigSchema = TrainConfigFields.superRefine(checkTrainRules);

export type TrainConfig = z.output<typeof TrainConfigSchema>;
export type TrainConfigInput = z.input<typeof TrainConfigSchema>;

export class TrainConfigError extends Error {
  override name = "TrainConfigError";
}

/** Validates a config, filling defaults; the error names every bad field. */
export function parseTrainConfig(input: unknown): TrainConfig {
  const result = TrainConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.join(".") || "(config)"}: ${i.message}`);
  throw new TrainConfigError(`invalid train config: ${problems.join("; ")}`);
}
