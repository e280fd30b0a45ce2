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
// arm's records: what is trained on), `general-drops.jsonl` (a general file's conversations that
// cannot train). The images the teacher sees come from the instruction split's scenes (the
// paper's images are LLaVA-665K's own), or from the recipe's `images:` when it has them (a served
// teacher then: the world's needs scene graphs), drawn in a seeded order until the budget's
// COMPACT conversations are made; an image of `images:` that does not decode is a reason-coded
// drop. The general instruction examples, which the budget counts, are the world's (the default)
// or the conversations of the user's SFT file (`general: { source: file, ... }`,
// ../common/general-data.ts): then the fractions count the file's usable conversations, and the
// drawn ones' images are checked before the teacher is asked or anything is written.
import { join } from "node:path";
import { z } from "zod";
import { createBackend } from "../../backends/index.js";
import { RecordWriter, readRecords } from "../../data/dataset.js";
import { decodeEntry, describeImageSource, listImageSource, type SourceEntry } from "../../data/image-source.js";
import type { SftRecord } from "../../data/records.js";
import { DEFAULT_MAX_PIXELS } from "../../images/codec.js";
import { defineStageKind, type StageContext, worldOf } from "../../run/stage-kind.js";
import { seededSubset } from "../../util/prng.js";
import type { WorldRecord } from "../../world/splits.js";
import { type Dropped, generateInChunks, readDrops } from "../common/chunked-records.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import {
  checkGeneralImages,
  describeGeneralFile,
  type GeneralConversation,
  GeneralSourceSchema,
  readGeneralFile,
  storeGeneralRecords,
  writeGeneralDrops,
} from "../common/general-data.js";
import { openStageData, type StageData, storeImage } from "../common/stage-data.js";
import type { KChoice } from "./combinations.js";
import {
  answerTurns,
  type Budget,
  budgetPlan,
  type GeneralExample,
  generalExamples,
  generalRecords,
  instructionBasis,
  mixGeneral,
  questionsByK,
  readWorldImage,
  type TeacherItem,
  teacherImages,
  writeTrainingFile,
} from "./data-budget.js";
import { PAPER_TEACHER_SAMPLING, servedTeacher } from "./served-teacher.js";
import { compactChunk, METHOD, type SynthesisOptions } from "./synthesize.js";
import { type CompactImage, type Teacher, worldTeacher } from "./teacher.js";

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
    general: GeneralSourceSchema.prefault({ source: "sceneworld" }).describe(
      "the general instruction examples the budget counts: sceneworld (the instruction split) or {source: file, path, format, imageFolder}",
    ),
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
  // The instruction split: the world's general examples, and the teacher's images unless the recipe gives its own.
  needsSplits: (config, sources) =>
    config.general.source === "sceneworld" || (config.data === "compact" && !sources.images) ? ["instruction"] : [],
  sourceProblems: (config, sources) => {
    const problems: { field: string; message: string }[] = [];
    if (config.data === "compact" && sources.images && config.teacher.kind === "world")
      problems.push({
        field: "teacher",
        message:
          "the COMPACT questions are written about the recipe's images:, and the world teacher composes them from SceneWorld's scene graphs, which those images lack; use teacher: { kind: served, backend: { baseUrls, model } }",
      });
    const readsSplit = config.general.source === "sceneworld" || (config.data === "compact" && !sources.images);
    if (config.instructionImages !== undefined && !readsSplit)
      problems.push({
        field: "instructionImages",
        message:
          "limits the instruction split, which this stage does not read (its general examples come from a file and its images from images:); remove it",
      });
    return problems;
  },
  // The teacher is its own model (the world's oracle, or its own served endpoint): the input model only trains.
  needs: () => ({ weights: true }),
  async run(ctx, config) {
    const data = openStageData(ctx, "train.jsonl");
    const fromImages = config.data === "compact" && ctx.images !== null;
    if (fromImages && config.teacher.kind === "world")
      throw new Error(
        `${ctx.name}.teacher: the world teacher needs SceneWorld's scene graphs, and the questions are written about the recipe's images:; use teacher: { kind: served, backend: { baseUrls, model } }`,
      );
    const readsSplit = config.general.source === "sceneworld" || (config.data === "compact" && !fromImages);
    const basis = readsSplit ? instructionBasis(worldOf(ctx).dir, config.instructionImages) : [];
    const general = generalSide(ctx, config, data, basis);
    const budget = budgetPlan(general.examples.length, config.budget);
    ctx.log(
      `${ctx.name}: arm ${config.data}${config.data === "compact" ? ` (k ${config.k})` : ""}; ${general.describe}; budget ${config.data === "full-budget" ? general.examples.length : budget.total} records${config.data === "compact" ? ` (${budget.method} COMPACT + ${budget.general} general)` : ""}`,
    );
    const made = await ctx.step("records", async () => {
      let records: SftRecord[];
      let compact = 0;
      if (config.data === "compact") {
        // The general examples the mix will draw (mixGeneral: the first budget.general of their
        // seeded order), checked before the teacher is asked.
        await general.check(seededSubset(general.examples, budget.general, ctx.seed));
        const images = fromImages ? await ownTeacherImages(ctx) : worldTeacherImages(ctx, basis);
        const synth = await synthesize(ctx, data, config, images, budget);
        compact = synth.length;
        const drawn = mixGeneral(synth, general.examples, budget.general, ctx.seed);
        records = [...synth, ...(await general.records(drawn))];
      } else {
        const chosen =
          config.data === "full-budget" ? general.examples : seededSubset(general.examples, budget.total, ctx.seed);
        await general.check(chosen);
        records = await general.records(chosen);
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

/**
 * The general examples the budget counts, and how to check and store the ones drawn (always
 * some of `examples`: the world's GeneralExamples or a file's conversations; the stage sees them
 * as `{id}` through the methods' bivariance).
 */
interface GeneralSide<E extends { id: string }> {
  examples: E[];
  /** For the log: how many, of what. */
  describe: string;
  /** Reads and decodes the images of `chosen` (a file's; the world's are the world's own): an error names the file and line. */
  check(chosen: E[]): Promise<void>;
  records(chosen: E[]): Promise<SftRecord[]>;
}

function generalSide(
  ctx: StageContext,
  config: CompactConfig,
  data: StageData,
  basis: readonly WorldRecord[],
): GeneralSide<{ id: string }> {
  const g = config.general;
  if (g.source === "sceneworld") {
    const examples = generalExamples(basis);
    const world: GeneralSide<GeneralExample> = {
      examples,
      describe: `${examples.length} general instruction examples of ${basis.length} images`,
      check: async () => {},
      records: (chosen) => generalRecords(chosen, worldOf(ctx).dir, data.store, ctx.name),
    };
    return world;
  }
  const file = readGeneralFile(g);
  const fromFile: GeneralSide<GeneralConversation> = {
    examples: file.conversations,
    describe: describeGeneralFile(file),
    check: (chosen) => checkGeneralImages(chosen, { signal: ctx.signal }),
    records: async (chosen) => {
      writeGeneralDrops(data.root, file);
      return storeGeneralRecords(chosen, {
        method: METHOD,
        stage: ctx.name,
        path: file.path,
        imagePath: storeImage(data.store),
        signal: ctx.signal,
      });
    },
  };
  return fromFile;
}

/** Images for the teacher, in the order it is asked about them, each read when its chunk comes up (`{id}` to the stage, as above). */
interface TeacherImages<I extends { id: string }> {
  items: I[];
  /** Names them in the error of a budget the teacher could not fill: `instruction scenes`. */
  what: string;
  /** The chunk's images; one that cannot be read is a drop with a reason code. */
  load(chunk: I[]): Promise<{ images: CompactImage[]; dropped: Dropped[] }>;
}

/** The instruction split's scenes in the run's seeded order (the SceneWorld path). */
function worldTeacherImages(ctx: StageContext, basis: readonly WorldRecord[]): TeacherImages<{ id: string }> {
  const scenes: TeacherImages<TeacherItem> = {
    items: teacherImages(basis, ctx.seed),
    what: "instruction scenes",
    load: async (chunk) => ({
      images: chunk.map((item) => ({
        ...item,
        image: readWorldImage(worldOf(ctx).dir, item.imagePath, `image ${item.id}`),
      })),
      dropped: [],
    }),
  };
  return scenes;
}

/** The recipe's images: every entry of the source in the run's seeded order, decoded chunk by chunk. */
async function ownTeacherImages(ctx: StageContext): Promise<TeacherImages<{ id: string }>> {
  const spec = ctx.images as NonNullable<StageContext["images"]>;
  const entries = await listImageSource(spec);
  const own: TeacherImages<SourceEntry> = {
    items: seededSubset(entries, entries.length, ctx.seed),
    what: `images of ${describeImageSource(spec)}`,
    load: async (chunk) => {
      const out = { images: [] as CompactImage[], dropped: [] as Dropped[] };
      for (const entry of chunk) {
        const decoded = await decodeEntry(entry, DEFAULT_MAX_PIXELS);
        if (decoded.ok) out.images.push({ id: entry.id, image: decoded.image, source: entry.source });
        else {
          out.dropped.push({ itemId: entry.id, reason: decoded.drop.reason });
          ctx.log(`  dropped ${entry.id} (${decoded.drop.reason}): ${decoded.drop.message}`);
        }
      }
      return out;
    },
  };
  return own;
}

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
  source: TeacherImages<{ id: string }>,
  budget: Budget,
): Promise<SftRecord[]> {
  if (budget.method < 1)
    throw new Error(
      `${ctx.name}: the budget leaves no COMPACT conversation (${JSON.stringify(budget)}); raise budget.fraction`,
    );
  const images = source.items;
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
        make: async (chunk) => {
          const loaded = await source.load(chunk);
          const outcome = await compactChunk(loaded.images, teacher, options, storeImage(data.store));
          return { ...outcome, dropped: [...loaded.dropped, ...outcome.dropped] };
        },
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
        `${ctx.name}: the teacher made ${result.records} COMPACT conversations from all ${images.length} ${source.what}, fewer than the budget's ${budget.method}; lower budget.fraction or ${source.what === "instruction scenes" ? "raise instructionImages" : "give more images"}`,
      );
  } finally {
    bar.done();
    writer.close();
    await teacher.close();
  }
  return readRecords(path, "sft", { root: data.root }).slice(0, budget.method);
}
