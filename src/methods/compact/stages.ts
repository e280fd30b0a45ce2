// COMPACT as a recipe stage (METHODS.md section 5; issue 19): compact-sft makes the training data
// of one arm of the data-budget comparison and fine-tunes its input model on it (the recipe's
// model: `assets/aligned`, the checkpoint before instruction tuning), evaluated as a round.
//
//   data: compact        COMPACT conversations from the teacher (synthesize.ts) plus a random
//                        share of the general instruction examples (mixRecords), `budget.fraction`
//                        of the instruction budget in all; `k: 1` gives the k = 1 only arm
//   data: random-subset  a random subset of the general instruction examples of the same size
//   data: full-budget    every general instruction example: the examples `base` was tuned on,
//                        trained as the other arms are (base: every weight, 2,000 steps of 32)
//
// Files under `<stage>/data`: `compact.jsonl` (every COMPACT conversation made, in image order;
// resumable chunk by chunk), `drops.jsonl` (reason-coded attempts and images), `train.jsonl` (the
// arm's records: what is trained on). The images the teacher sees come from the instruction
// split's scenes (the paper's images are LLaVA-665K's own), drawn in a seeded order until the
// budget's COMPACT conversations are made.
import { join } from "node:path";
import { z } from "zod";
import { createBackend } from "../../backends/index.js";
import { RecordWriter, readRecords } from "../../data/dataset.js";
import type { SftRecord } from "../../data/records.js";
import { defineStageKind, type StageContext, worldOf } from "../../run/stage-kind.js";
import { seededSubset } from "../../util/prng.js";
import type { WorldRecord } from "../../world/splits.js";
import { generateInChunks, readDrops } from "../common/chunked-records.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import { openStageData, type StageData, storeImage } from "../common/stage-data.js";
import type { KChoice } from "./combinations.js";
import {
  answerTurns,
  type Budget,
  budgetPlan,
  generalExamples,
  generalRecords,
  instructionBasis,
  mixGeneral,
  questionsByK,
  readWorldImage,
  teacherImages,
  writeTrainingFile,
} from "./data-budget.js";
import { PAPER_TEACHER_SAMPLING, servedTeacher } from "./served-teacher.js";
import { compactChunk, type SynthesisOptions } from "./synthesize.js";
import { type Teacher, worldTeacher } from "./teacher.js";

const ServedBackendSchema = z
  .object({
    baseUrls: z.array(z.string().url()).min(1).describe("OpenAI-compatible base URLs, e.g. http://host:8000/v1"),
    model: z.string().min(1).describe("the model name the servers know"),
    concurrency: z.number().int().min(1).optional().describe("requests in flight per endpoint (default 16)"),
    timeoutMs: z.number().int().min(1).optional().describe("deadline of one attempt (default 120 s)"),
  })
  .strict();

export const TeacherSchema = z
  .discriminatedUnion("kind", [
    z.object({ kind: z.literal("world") }).strict(),
    z
      .object({
        kind: z.literal("served"),
        backend: ServedBackendSchema,
        temperature: z.number().min(0).default(PAPER_TEACHER_SAMPLING.temperature),
        topP: z.number().gt(0).max(1).default(PAPER_TEACHER_SAMPLING.topP),
        maxTokens: z.number().int().min(1).default(512),
        verifyMaxTokens: z.number().int().min(1).default(256),
      })
      .strict(),
  ])
  .describe(
    "world: SceneWorld's composer (an oracle on the scene graph); served: a VLM behind an OpenAI-compatible API",
  );

const BudgetSchema = z
  .object({
    fraction: z.number().gt(0).max(1).default(0.1).describe("the arm's records / general instruction examples"),
    general: z
      .number()
      .min(0)
      .lt(1)
      .default(0.05)
      .describe("general examples mixed into the COMPACT data / general instruction examples"),
  })
  .strict()
  .refine((b) => b.general < b.fraction, {
    message: "general must be below fraction (COMPACT needs a share)",
    path: ["general"],
  });

const PerImageSchema = z
  .object({
    questions: z
      .tuple([z.number().int().min(1), z.number().int().min(1)])
      .default([2, 3])
      .describe("kept questions wanted per image, [min, max], drawn per image"),
    keepAtLeast: z.number().int().min(1).default(2).describe("an image with fewer kept questions gives no record"),
    attempts: z.number().int().min(1).default(10).describe("teacher questions asked per image at most"),
  })
  .strict()
  .refine((p) => p.questions[0] <= p.questions[1], { message: "min above max", path: ["questions"] })
  .refine((p) => p.keepAtLeast <= p.questions[1], {
    message: "above the most questions wanted",
    path: ["keepAtLeast"],
  });

const FiltersSchema = z
  .object({
    minConfidence: z
      .number()
      .min(0)
      .max(100)
      .default(70)
      .describe("drop questions the teacher is less sure of (paper: 70)"),
    confidence: z
      .enum(["teacher", "released-code"])
      .default("teacher")
      .describe("released-code: every confidence is 90, as the released generator writes it"),
    duplicateOverlap: z
      .number()
      .min(0)
      .max(1)
      .default(0.6)
      .describe("drop a question whose word overlap with a kept one exceeds this"),
  })
  .strict();

export const compactSft = defineStageKind({
  type: "compact-sft",
  description:
    "COMPACT: k-capability questions from a teacher, filtered and verified, mixed with general instruction data; SFT (or an arm of the data-budget comparison)",
  schema: z.object({
    data: z
      .enum(["compact", "random-subset", "full-budget"])
      .default("compact")
      .describe("compact: COMPACT + general; random-subset: general examples, same size; full-budget: all of them"),
    instructionImages: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe("limit the instruction split to a seeded subset of this many images (default: all)"),
    budget: BudgetSchema.prefault({}),
    k: z
      .union([z.literal("per-question"), z.literal(1), z.literal(2), z.literal(3)])
      .default("per-question")
      .describe("per-question: k drawn per question (paper); 1, 2 or 3: one k for the run (released code)"),
    kWeights: z
      .tuple([z.number().min(0), z.number().min(0), z.number().min(0)])
      .default([1, 1, 1])
      .refine((w) => w.some((x) => x > 0), "some weight must be positive")
      .describe("relative frequency of k = 1, 2, 3 with k: per-question"),
    perImage: PerImageSchema.prefault({}),
    filters: FiltersSchema.prefault({}),
    teacher: TeacherSchema.prefault({ kind: "world" }),
    chunkSize: z.number().int().min(1).default(64).describe("images per teacher batch (and per durable write)"),
    lora: z
      .union([z.literal(false), LoraSchema])
      .prefault({})
      .describe("LoRA adapters (the paper), or false to train every weight (as `base` was trained)"),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: () => ["instruction"],
  // The teacher is its own model (the world's oracle, or its own served endpoint): the input model only trains.
  needs: () => ({ weights: true }),
  async run(ctx, config) {
    const data = openStageData(ctx, "train.jsonl");
    const basis = instructionBasis(worldOf(ctx).dir, config.instructionImages);
    const examples = generalExamples(basis);
    const budget = budgetPlan(examples.length, config.budget);
    ctx.log(
      `${ctx.name}: arm ${config.data}${config.data === "compact" ? ` (k ${config.k})` : ""}; ${examples.length} general instruction examples of ${basis.length} images; budget ${config.data === "full-budget" ? examples.length : budget.total} records${config.data === "compact" ? ` (${budget.method} COMPACT + ${budget.general} general)` : ""}`,
    );
    const made = await ctx.step("records", async () => {
      let records: SftRecord[];
      let compact = 0;
      if (config.data === "compact") {
        const synth = await synthesize(ctx, data, config, basis, budget);
        compact = synth.length;
        const drawn = mixGeneral(synth, examples, budget.general, ctx.seed);
        records = [...synth, ...(await generalRecords(drawn, worldOf(ctx).dir, data.store, ctx.name))];
      } else {
        const chosen = config.data === "full-budget" ? examples : seededSubset(examples, budget.total, ctx.seed);
        records = await generalRecords(chosen, worldOf(ctx).dir, data.store, ctx.name);
      }
      writeTrainingFile(data.root, data.recordsPath, records);
      return {
        records: records.length,
        compact,
        general: records.length - compact,
        turns: answerTurns(records),
        questionsByK: questionsByK(records.slice(0, compact)),
      };
    });
    ctx.log(
      `${ctx.name}: trains on ${made.records} records (${made.compact} COMPACT, ${made.general} general; ${made.turns} answer turns; COMPACT questions by k ${JSON.stringify(made.questionsByK)})`,
    );
    return trainStageModel({
      ctx,
      datasetRoot: data.root,
      recordsPath: data.recordsPath,
      objective: { kind: "sft" },
      lora: config.lora === false ? null : config.lora,
      train: config.train,
    });
  },
});

type CompactConfig = z.output<typeof compactSft.schema>;

function openTeacher(ctx: StageContext, config: CompactConfig): Teacher {
  const t = config.teacher;
  if (t.kind === "world") return worldTeacher({ synonymRate: worldOf(ctx).config.language.synonymRate });
  const { baseUrls, model, concurrency, timeoutMs } = t.backend;
  const backend = createBackend({ kind: "openai", baseUrls, model, concurrency, timeoutMs });
  return servedTeacher(backend, { ...t, seed: ctx.seed });
}

/**
 * COMPACT conversations until the budget's `method` are made (chunk by chunk, resumable: a rerun
 * skips the images already answered), the first `method` of them in image order.
 */
async function synthesize(
  ctx: StageContext,
  data: StageData,
  config: CompactConfig,
  basis: readonly WorldRecord[],
  budget: Budget,
): Promise<SftRecord[]> {
  if (budget.method < 1)
    throw new Error(
      `${ctx.name}: the budget leaves no COMPACT conversation (${JSON.stringify(budget)}); raise budget.fraction`,
    );
  const images = teacherImages(basis, ctx.seed);
  const path = join(data.root, "compact.jsonl");
  const k: KChoice = config.k === "per-question" ? { weights: config.kWeights } : { fixed: config.k };
  const options: SynthesisOptions = {
    stage: ctx.name,
    seed: ctx.seed,
    k,
    questions: config.perImage.questions,
    keepAtLeast: config.perImage.keepAtLeast,
    attempts: config.perImage.attempts,
    ...config.filters,
  };
  const teacher = openTeacher(ctx, config);
  const writer = RecordWriter.open(path, "sft", { root: data.root });
  const bar = ctx.progress(`${ctx.name} COMPACT conversations`, budget.method);
  try {
    let result = { records: writer.size };
    // Image prefixes one chunk longer each time, until enough conversations are made.
    for (let end = 0; result.records < budget.method && end < images.length; ) {
      end = Math.min(images.length, end + config.chunkSize);
      result = await generateInChunks({
        items: images.slice(0, end),
        chunkSize: config.chunkSize,
        writer,
        dropsPath: data.dropsPath,
        signal: ctx.signal,
        make: (chunk) =>
          compactChunk(
            chunk.map((item) => ({
              ...item,
              image: readWorldImage(worldOf(ctx).dir, item.imagePath, `image ${item.id}`),
            })),
            teacher,
            options,
            storeImage(data.store),
          ),
      });
      bar.update(Math.min(result.records, budget.method));
    }
    const drops: Record<string, number> = {};
    for (const d of readDrops(data.dropsPath)) drops[d.reason] = (drops[d.reason] ?? 0) + 1;
    ctx.log(
      `${ctx.name}: COMPACT (teacher ${teacher.name}): ${result.records} conversations; drops ${JSON.stringify(drops)}`,
    );
    if (result.records < budget.method)
      throw new Error(
        `${ctx.name}: the teacher made ${result.records} COMPACT conversations from all ${images.length} instruction scenes, fewer than the budget's ${budget.method}; lower budget.fraction or raise instructionImages`,
      );
  } finally {
    bar.done();
    writer.close();
    await teacher.close();
  }
  return readRecords(path, "sft", { root: data.root }).slice(0, budget.method);
}
