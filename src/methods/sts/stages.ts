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
// The training images: SceneWorld's pool creatures with their species (the default), or the
// user's labelled images (`labelled: { folder | jsonl }`, src/data/labelled-images.ts) with a
// concepts file covering their labels; rounds 2+ on labelled images take them among round 1's
// (the images whose concepts it selected). The general instruction data of the mix: the world's
// instruction split (the default), or the user's SFT file (`general: { source: file, ... }`,
// ../common/general-data.ts), read and checked when the stage starts, its drawn images checked
// before the answers are made.
//
// Files under `<stage>/data`: `selected.json` (round 1: every image's concept scores and
// selection), `sts.jsonl` (the method's records), `train.jsonl` (the mix trained on),
// `drops.jsonl` (images that did not decode, answers dropped), `general-drops.jsonl` (a general
// file's conversations that cannot train). Steps are stored results (`steps/*.json`): a killed
// stage redoes its unfinished step whole.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { readRecords } from "../../data/dataset.js";
import {
  decodeLabelled,
  describeLabelledSource,
  drawLabelled,
  type LabelledEntry,
  LabelledSourceSchema,
  labelsOf,
  listLabelledSource,
} from "../../data/labelled-images.js";
import type { SftRecord } from "../../data/records.js";
import { defineStageKind, type StageContext, worldOf } from "../../run/stage-kind.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import { seededSubset } from "../../util/prng.js";
import { SPECIES_NAMES } from "../../world/creatures.js";
import type { Dropped } from "../common/chunked-records.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import {
  checkGeneralImages,
  describeGeneralFile,
  type GeneralFile,
  GeneralSourceSchema,
  generalFileRecords,
  needGeneral,
  readGeneralFile,
  writeGeneralDrops,
} from "../common/general-data.js";
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
    images: z
      .number()
      .int()
      .min(1)
      .describe("labelled images (a seeded subset): the pool's creatures, or `labelled`'s (rounds 2+: of round 1's)"),
    labelled: LabelledSourceSchema.optional().describe(
      "the user's labelled images instead of the pool's creatures: {folder} (one sub-folder per class) or {jsonl}",
    ),
    concepts: z
      .union([z.literal("world"), z.object({ file: z.string().min(1) }).strict()])
      .default("world")
      .describe("world: each species' concepts; {file}: a JSON or YAML file of class -> visual features"),
    general: GeneralSourceSchema.prefault({ source: "sceneworld" }).describe(
      "the mix's general instruction data: sceneworld (the instruction split) or {source: file, path, format, imageFolder}",
    ),
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
  needsSplits: (config) => [
    ...(config.labelled === undefined ? (["pool"] as const) : []),
    ...(config.general.source === "sceneworld" ? (["instruction"] as const) : []),
  ],
  sourceProblems: (config) =>
    config.labelled !== undefined && config.concepts === "world"
      ? [
          {
            field: "concepts",
            message:
              "the labelled images' classes need their visual features from a file: concepts: { file: PATH } (concepts: world lists SceneWorld's species)",
          },
        ]
      : [],
  async run(ctx, config) {
    if (config.round > 1 && config.conceptsFrom === undefined)
      throw new Error(
        `${ctx.name}.conceptsFrom: round ${config.round} needs the round-1 stage that selected the concepts`,
      );
    // The files the user gives are read and checked before anything is made.
    const listed = config.labelled === undefined ? null : listLabelledSource(config.labelled);
    const concepts = conceptLists(config, listed);
    const generalFile = config.general.source === "file" ? readGeneralFile(config.general) : null;
    if (generalFile !== null) ctx.log(`${ctx.name}: ${describeGeneralFile(generalFile)}`);
    const earlier =
      config.round === 1
        ? null
        : readSelection(join(ctx.runDir, "stages", config.conceptsFrom as string, "data", "selected.json"));
    const { items, dropped } = await stageItems(ctx, config, listed, earlier);
    if (generalFile !== null) await checkGeneralStep(ctx, config, generalFile, items.length);
    const data = openStageData(ctx, "sts.jsonl");
    const c: RecordContext = {
      stage: ctx.name,
      round: config.round,
      seed: ctx.seed,
      types: config.questionTypes,
      imagePath: storeImage(data.store),
    };
    const selectedPath = join(data.root, "selected.json");
    const selected = earlier ?? (await selectStep(ctx, config, items, concepts, selectedPath));
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
          return { ...writeStageRecords(data, "sft", r.records, [...dropped, ...r.dropped]), fallbacks: 0 };
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
          return { ...writeStageRecords(data, "sft", r.records, dropped), fallbacks: r.fallbacks };
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
      const count = generalCount(method.length, config.share);
      const general =
        generalFile === null
          ? await generalRecords(worldOf(ctx).dir, count, ctx.seed, ctx.name, c.imagePath)
          : await fileGeneral(ctx, generalFile, count, data.root, c.imagePath);
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

/** The classes' concepts: the world's species, or a file checked against the species or the user's labels. */
function conceptLists(config: StsConfig, listed: readonly LabelledEntry[] | null): ConceptLists {
  const choice = config.concepts;
  if (listed === null || config.labelled === undefined)
    return choice === "world" ? worldConceptLists() : loadConceptsFile(choice.file, SPECIES_NAMES);
  if (choice === "world")
    throw new Error("sts: labelled images need concepts: { file: PATH } (concepts: world lists SceneWorld's species)");
  return loadConceptsFile(choice.file, labelsOf(listed), {
    others: "keep",
    classesFrom: describeLabelledSource(config.labelled),
  });
}

/**
 * The stage's labelled images and the drops among them: a seeded subset of the pool's creatures or
 * of the user's (rounds 2+: of round 1's images, the ones `earlier` selected concepts for), each
 * decoded (one that is not a usable image is a reason-coded drop).
 */
async function stageItems(
  ctx: StageContext,
  config: StsConfig,
  listed: readonly LabelledEntry[] | null,
  earlier: ReadonlyMap<string, readonly string[]> | null,
): Promise<{ items: LabelledItem[]; dropped: Dropped[] }> {
  if (listed === null || config.labelled === undefined)
    return { items: labelledCreatures(worldOf(ctx).dir, config.images, ctx.seed, earlier ?? undefined), dropped: [] };
  const pool = earlier === null ? listed : listed.filter((e) => earlier.has(e.id));
  const drawn = drawLabelled(pool, { n: config.images, seed: ctx.seed });
  const read = await decodeLabelled(drawn);
  const drops: Record<string, number> = {};
  for (const d of read.dropped) drops[d.reason] = (drops[d.reason] ?? 0) + 1;
  ctx.log(
    `${ctx.name}: ${describeLabelledSource(config.labelled)}: ${read.items.length} of ${drawn.length} images drawn (of ${pool.length}${earlier === null ? "" : " of round 1's"}, ${labelsOf(listed).length} labels) decode${read.dropped.length > 0 ? `; dropped ${JSON.stringify(drops)}` : ""}`,
  );
  for (const d of read.dropped.slice(0, 5)) ctx.log(`  dropped ${d.itemId} (${d.reason}): ${d.message}`);
  if (read.items.length === 0)
    throw new Error(`${ctx.name}: none of the ${drawn.length} labelled images drawn decodes`);
  return {
    items: read.items.map((i) => ({ id: i.id, image: i.image, label: i.label })),
    dropped: read.dropped.map((d) => ({ itemId: d.itemId, reason: d.reason })),
  };
}

/** `count` general records drawn from the user's file (its drops written beside the mix). */
async function fileGeneral(
  ctx: StageContext,
  file: GeneralFile,
  count: number,
  root: string,
  imagePath: RecordContext["imagePath"],
): Promise<SftRecord[]> {
  needGeneral(file, count, `${ctx.name}'s mix`);
  const records = await generalFileRecords(seededSubset(file.conversations, count, ctx.seed), {
    method: "sts",
    stage: ctx.name,
    path: file.path,
    imagePath,
    signal: ctx.signal,
  });
  writeGeneralDrops(root, file);
  return records;
}

/**
 * Before anything is made: the images of the general conversations the mix can draw at most
 * (every answer kept; a smaller mix draws a prefix of the same seeded order) are read and
 * decoded, so that a bad one stops the stage now, naming its file and line.
 */
async function checkGeneralStep(ctx: StageContext, config: StsConfig, file: GeneralFile, items: number) {
  const most = generalCount(items * config.questionTypes.length, config.share);
  const checked = await ctx.step("general-check", async () => {
    const chosen = seededSubset(file.conversations, most, ctx.seed);
    await checkGeneralImages(chosen, { signal: ctx.signal });
    return { conversations: chosen.length };
  });
  ctx.log(`${ctx.name}: the images of ${checked.conversations} general conversations read`);
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
