// STS as a recipe stage (METHODS.md section 4; Shi et al., ICLR 2025): one `sts-round` stage per
// round, each fine-tuning the previous round's model (the runner chains them) and evaluated.
//
//   round 1   the policy describes each training image (describe), the class's concepts are
//             selected per image by InfoNCE (select), answers are written for three question
//             types from the label and the selected concepts and kept if they name the label
//             (answers), mixed 1:1 with general instruction data, SFT
//   round 2+  the selected concepts of round 1's stage (`conceptsFrom`); the model samples answers
//             to the bare questions, rejection sampling keeps one per question (answers), mixed,
//             SFT
//
// Files under `<stage>/data`: `selected.json` (round 1: every image's concept scores and
// selection), `sts.jsonl` (the method's records), `train.jsonl` (the mix trained on),
// `drops.jsonl`. Steps are stored results (`steps/*.json`): a killed stage redoes its
// unfinished step whole.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { readRecords } from "../../data/dataset.js";
import { defineStageKind, type StageContext, worldOf } from "../../run/stage-kind.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { SPECIES_NAMES } from "../../world/creatures.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import { generalCount, mixRecords } from "../common/mixer.js";
import { openStageData, storeImage, writeStageRecords } from "../common/stage-data.js";
import { type ConceptLists, loadConceptsFile, worldConceptLists } from "./concepts.js";
import { clipEmbedder } from "./embedder.js";
import { PAPER_TAU } from "./infonce.js";
import { generalRecords, type LabelledItem, labelledCreatures } from "./items.js";
import { QUESTION_TYPES } from "./questions.js";
import { type ImageSelection, selectForImages } from "./selection.js";
import { describeImages, type RecordContext, rejectionRecords, round1Records } from "./synthesize.js";

const DescribeSchema = z
  .object({
    prompts: z.number().int().min(1).max(3).default(3).describe("description instructions used (the paper: 3)"),
    samples: z.number().int().min(1).default(10).describe("samples per instruction (the paper: 10)"),
    temperature: z.number().min(0).default(1.0).describe("the paper: 1.0"),
    maxTokens: z.number().int().min(1).default(64),
  })
  .strict();

const SelectionSchema = z
  .object({
    similarity: z
      .enum(["text", "image-text"])
      .default("text")
      .describe("text: descriptions vs concepts by the text tower (paper); image-text: the image vs concepts"),
    tau: z.number().gt(0).default(PAPER_TAU).describe("InfoNCE temperature (the paper: 0.1)"),
    stdFactor: z.number().default(0.4).describe("keep concepts above mean + stdFactor * std (the paper: 0.4)"),
    atLeast: z.number().int().min(1).default(3).describe("keep at least this many (the paper: 3)"),
  })
  .strict();

const SynthesisSchema = z
  .object({
    writer: z
      .enum(["world", "policy"])
      .default("world")
      .describe(
        "round 1: world = SceneWorld's writer of label-plus-concept answers; policy = the model prompted with them (the paper)",
      ),
    temperature: z.number().min(0).default(0.3).describe("the policy writer's (the paper: 0.3)"),
    maxTokens: z.number().int().min(1).default(64),
  })
  .strict();

const SamplingSchema = z
  .object({
    samples: z.number().int().min(1).default(3).describe("answers per question (the paper: 3)"),
    temperature: z.number().min(0).default(0.7).describe("the paper: 0.7"),
    topP: z.number().gt(0).max(1).default(0.6).describe("the paper: 0.6"),
    maxTokens: z.number().int().min(1).default(64),
    choice: z.enum(["paper", "released-code"]).default("paper").describe("rejection.ts"),
    negatives: z.enum(["other-concepts", "all-concepts"]).default("other-concepts").describe("rejection.ts"),
  })
  .strict();

export const stsRound = defineStageKind({
  type: "sts-round",
  description:
    "STS: concept selection by InfoNCE, label-and-concept answers (round 1) or rejection sampling (rounds 2+), mixed 1:1 with general data; SFT",
  schema: z.object({
    round: z.number().int().min(1).describe("1: synthesis from label and concepts; 2+: rejection sampling"),
    conceptsFrom: z.string().min(1).optional().describe("rounds 2+: the round-1 stage whose selected.json is read"),
    images: z.number().int().min(1).describe("labelled creature images of the pool (a seeded subset)"),
    concepts: z
      .union([z.literal("world"), z.object({ file: z.string().min(1) }).strict()])
      .default("world")
      .describe("world: each species' concepts; {file}: a JSON or YAML file of class -> visual features"),
    scorer: z.string().min(1).default("assets/scorer").describe("the CLIP-style scorer (text tower embeddings)"),
    questionTypes: z
      .array(z.enum(QUESTION_TYPES))
      .min(1)
      .default([...QUESTION_TYPES]),
    describe: DescribeSchema.prefault({}),
    selection: SelectionSchema.prefault({}),
    synthesis: SynthesisSchema.prefault({}),
    sampling: SamplingSchema.prefault({}),
    share: z.number().min(0).lt(1).default(0.5).describe("general records' share of the mix (the paper: 1:1)"),
    chunkSize: z.number().int().min(1).default(32).describe("requests per backend call"),
    lora: z.union([z.literal(false), LoraSchema]).prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: () => ["pool", "instruction"],
  async run(ctx, config) {
    if (config.round > 1 && config.conceptsFrom === undefined)
      throw new Error(
        `${ctx.name}.conceptsFrom: round ${config.round} needs the round-1 stage that selected the concepts`,
      );
    const data = openStageData(ctx, "sts.jsonl");
    const items = labelledCreatures(worldOf(ctx).dir, config.images, ctx.seed);
    const concepts = conceptLists(config.concepts);
    const c: RecordContext = {
      stage: ctx.name,
      round: config.round,
      seed: ctx.seed,
      types: config.questionTypes,
      imagePath: storeImage(data.store),
    };
    const selectedPath = join(data.root, "selected.json");
    const selected =
      config.round === 1
        ? await selectStep(ctx, config, items, concepts, selectedPath)
        : readSelection(join(ctx.runDir, "stages", config.conceptsFrom as string, "data", "selected.json"));
    const made = await ctx.step("answers", async () => {
      const bar = ctx.progress(`${ctx.name} answers`, items.length);
      const backend =
        config.round === 1 && config.synthesis.writer === "world" ? null : await ctx.openModel(ctx.inputModel);
      try {
        if (config.round === 1) {
          const r = await round1Records(
            backend,
            items,
            selected,
            { ...config.synthesis, chunkSize: config.chunkSize },
            c,
            (n) => bar.update(n),
          );
          return { ...writeStageRecords(data, "sft", r.records, r.dropped), fallbacks: 0 };
        }
        const embedder = clipEmbedder(config.scorer);
        try {
          const all = [...new Set([...concepts.values()].flat())];
          const o = { ...config.sampling, chunkSize: config.chunkSize, tau: config.selection.tau };
          const r = await rejectionRecords(
            backend as NonNullable<typeof backend>,
            embedder,
            items,
            selected,
            all,
            o,
            c,
            (n) => bar.update(n),
          );
          return { ...writeStageRecords(data, "sft", r.records, []), fallbacks: r.fallbacks };
        } finally {
          embedder.close();
        }
      } finally {
        bar.done();
        await backend?.close();
      }
    });
    ctx.log(
      `${ctx.name}: round ${config.round}: ${made.records} answers (${made.fallbacks} fallbacks); drops ${JSON.stringify(made.drops)}`,
    );
    const mixed = await ctx.step("mix", async () => {
      const method = readRecords(data.recordsPath, "sft", { root: data.root });
      const general = await generalRecords(
        worldOf(ctx).dir,
        generalCount(method.length, config.share),
        ctx.seed,
        ctx.name,
        c.imagePath,
      );
      const records = mixRecords(method, general, { share: config.share, seed: ctx.seed });
      writeFileAtomic(join(data.root, "train.jsonl"), records.map((r) => `${JSON.stringify(r)}\n`).join(""));
      return { records: records.length, method: method.length, general: records.length - method.length };
    });
    ctx.log(`${ctx.name}: trains on ${mixed.records} records (${mixed.method} STS, ${mixed.general} general)`);
    return trainStageModel({
      ctx,
      datasetRoot: data.root,
      recordsPath: join(data.root, "train.jsonl"),
      objective: { kind: "sft" },
      lora: config.lora === false ? null : config.lora,
      train: config.train,
    });
  },
});

type StsConfig = z.output<typeof stsRound.schema>;

function conceptLists(choice: StsConfig["concepts"]): ConceptLists {
  return choice === "world" ? worldConceptLists() : loadConceptsFile(choice.file, SPECIES_NAMES);
}

/** Round 1's describe and select steps; writes selected.json; the selection by image id. */
async function selectStep(
  ctx: StageContext,
  config: StsConfig,
  items: readonly LabelledItem[],
  concepts: ConceptLists,
  path: string,
): Promise<Map<string, string[]>> {
  const text = config.selection.similarity === "text";
  const described = text
    ? await ctx.step("describe", async () => {
        const backend = await ctx.openModel(ctx.inputModel);
        const bar = ctx.progress(`${ctx.name} descriptions`, items.length);
        try {
          return await describeImages(
            backend,
            items,
            { ...config.describe, chunkSize: config.chunkSize, seed: ctx.seed },
            (n) => bar.update(n),
          );
        } finally {
          bar.done();
          await backend.close();
        }
      })
    : null;
  const selection = await ctx.step("select", async () => {
    const embedder = clipEmbedder(config.scorer);
    try {
      const anchors = described
        ? described.map((d) => embedder.texts(d.descriptions))
        : (await embedder.images(items.map((i) => i.image))).map((e) => [e]);
      const result = selectForImages(
        items.map((item, i) => ({ id: item.id, label: item.label, anchors: anchors[i] })),
        concepts,
        (t) => embedder.texts(t),
        config.selection,
      );
      writeFileAtomic(path, `${JSON.stringify(result, null, 1)}\n`);
      const sizes = result.map((r) => r.selected.length);
      return { images: result.length, meanSelected: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length) };
    } finally {
      embedder.close();
    }
  });
  ctx.log(
    `${ctx.name}: concepts selected for ${selection.images} images (${selection.meanSelected.toFixed(2)} per image)`,
  );
  return readSelection(path);
}

/** A round-1 stage's selected.json as image id -> selected concepts (best first). */
export function readSelection(path: string): Map<string, string[]> {
  if (!existsSync(path)) throw new Error(`${path}: missing; run the round-1 STS stage (conceptsFrom) first`);
  const rows = JSON.parse(readFileSync(path, "utf8")) as ImageSelection[];
  return new Map(rows.map((r) => [r.id, r.selected.map((s) => s.concept)]));
}
