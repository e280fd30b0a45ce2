// BPO as a recipe stage (Pi et al., ECCV 2024, arXiv 2403.08730; METHODS.md section 2; reference
// code pipilurj/bootstrapped-preference-optimization-BPO-), `bpo-preferences`:
//
//   1. positives (positives.ts): the answers of an existing SFT set, checked and stored whole in
//      one step (`data/positives.jsonl`; drops with reason codes in `data/drops.jsonl`);
//   2. pairs (negatives.ts): per positive, one negative from each generator that is on (error
//      injection, injection.ts; image weakening, weakening.ts), paired with the positive and
//      filtered (filters.ts), made with the input model in durable chunks (`data/pairs.jsonl`);
//   3. diagnostics (diagnostics.ts, SceneWorld positives only): how often each generator's
//      errors are prior partners of present objects (`data/diagnostics.json`, and the log);
//   4. `balanceYesNo` (not in the paper; yes-no-balance.ts): per generator, as many pairs that
//      prefer "yes" to "no" as the reverse (`data/pairs-balanced.jsonl`);
//   5. training: DPO (β 0.1) on the pairs with LoRA, merged; or, with `objective: sft-positives`
//      (the paper's ablation), SFT on the chosen sides of the same pairs: the same positives,
//      each as often as it is paired, so both train on the same data for the same steps.
import { join, resolve } from "node:path";
import { z } from "zod";
import { readRecords } from "../../data/dataset.js";
import { mimeTypeOfPath } from "../../data/image-store.js";
import { SftFileFields } from "../../data/sft-file.js";
import { worldVocabulary } from "../../eval/world-benches.js";
import { CLIP_NORMALIZE } from "../../images/diffusion-noise.js";
import { writeJsonAtomic } from "../../run/atomic.js";
import { defineStageKind, type StageContext, worldOf } from "../../run/stage-kind.js";
import { DpoOptionsSchema } from "../../train/dpo.js";
import { seededSubset } from "../../util/prng.js";
import { readWorldSplit } from "../../world/read-split.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import { makeRecords, openStageData, type StageData, storeImage, writeStageRecords } from "../common/stage-data.js";
import { type BpoDiagnostics, bpoDiagnostics, diagnosticsLines } from "./diagnostics.js";
import { MAX_WORDS } from "./filters.js";
import { bpoPairs, GENERATORS, type Generator, type PairItem } from "./negatives.js";
import {
  canonicalPositives,
  llavaPositives,
  type PositiveCandidate,
  positiveOf,
  positiveRecords,
  sharegptPositives,
  worldPositives,
} from "./positives.js";
import { writeYesNoBalanced } from "./yes-no-balance.js";

const unit = z.number().min(0).max(1);
const count = z.number().int().min(0);

const PositivesSchema = z.discriminatedUnion("source", [
  z
    .object({
      source: z.literal("sceneworld"),
      descriptions: count.default(1000).describe("instruction-split descriptions (one per image, a seeded subset)"),
      questions: count.default(1000).describe("instruction-split questions with their answers (a seeded subset)"),
    })
    .strict(),
  z
    .object({
      source: z.literal("file"),
      ...SftFileFields,
      items: z.number().int().min(1).optional().describe("a seeded subset of the answers (default: all)"),
      style: z
        .enum(["auto", "description", "qa"])
        .default("auto")
        .describe("which rewrite prompt a served model gets; auto: description when the question asks to describe"),
    })
    .strict(),
]);

const InjectionSchema = z
  .object({
    mode: z
      .enum(["rewrite", "prior-continuation"])
      .default("prior-continuation")
      .describe(
        "rewrite: a served instruction model rewrites the answer (the paper's prompts); prior-continuation: the decoder continues a cut answer without the image (the embedded model)",
      ),
    temperature: z.number().min(0).default(0.8).describe("the released error_injection.py's 0.8"),
    topP: z.number().gt(0).max(1).default(0.95),
    maxTokens: z.number().int().min(1).default(160),
    cut: z
      .object({ min: unit.default(0.25), max: unit.default(0.75) })
      .strict()
      .prefault({})
      .refine((c) => c.min <= c.max, { message: "min must be <= max" })
      .describe("prior-continuation: the share of the answer's words kept, drawn per positive"),
    imageless: z
      .enum(["withhold", "gray"])
      .default("withhold")
      .describe("prior-continuation: no image at all, or a uniform grey one"),
  })
  .strict();

const channels = (check: z.ZodNumber, values: readonly [number, number, number]) =>
  z.tuple([check, check, check]).default([...values]);

const WeakeningSchema = z
  .object({
    t: z.number().int().min(0).max(999).default(900).describe("the diffusion step (of 1000); the paper's 900"),
    temperature: z.number().min(0).default(0.2).describe("the paper's 0.2"),
    topP: z.number().gt(0).max(1).default(1),
    maxTokens: z.number().int().min(1).default(160),
    decoding: z
      .enum(["noisy", "contrastive"])
      .default("noisy")
      .describe(
        "noisy: answer from the noised image (the paper); contrastive: the released code's clean image contrasted with the noised one (embedded backend only)",
      ),
    contrast: z
      .object({
        alpha: z.number().min(0).default(1).describe("(1+α)·clean - α·noisy; the code's 1"),
        beta: z.number().gt(0).max(1).default(0.2).describe("plausibility cut-off; the code's 0.2"),
      })
      .strict()
      .prefault({}),
    normalize: z
      .object({
        mean: channels(z.number(), CLIP_NORMALIZE.mean),
        std: channels(z.number().gt(0), CLIP_NORMALIZE.std),
      })
      .strict()
      .prefault({})
      .describe(
        "x0 = (pixel/255 - mean)/std, the space the noise is added in; default CLIP's (LLaVA-1.5's processor, the paper's); 0.5/0.5 for [-1, 1]",
      ),
  })
  .strict();

export const bpoPreferences = defineStageKind({
  type: "bpo-preferences",
  description:
    "BPO: an SFT set's answers against negatives from the policy's own prior (error injection, image weakening), then DPO (or SFT on the positives)",
  schema: z.object({
    positives: PositivesSchema.prefault({ source: "sceneworld" }),
    injection: z
      .union([z.literal(false), InjectionSchema])
      .prefault({})
      .describe("negative 1 (false: off)"),
    weakening: z
      .union([z.literal(false), WeakeningSchema])
      .prefault({})
      .describe("negative 2 (false: off)"),
    maxWords: z
      .number()
      .int()
      .min(1)
      .default(MAX_WORDS)
      .describe("answers over this many words are dropped (the paper's 350)"),
    nearDuplicate: z
      .number()
      .gt(0)
      .max(1)
      .default(1)
      .describe(
        "content-word similarity at or above which a negative is a near-duplicate of its positive (filters.ts)",
      ),
    dropTruncated: z.boolean().default(true).describe("drop negatives that stopped on the token limit"),
    balanceYesNo: z
      .boolean()
      .default(false)
      .describe(
        "not in the paper: per generator, keep as many pairs preferring yes to no as the reverse (yes-no-balance.ts)",
      ),
    chunkSize: z.number().int().min(1).default(32).describe("positives per backend call (and per durable write)"),
    objective: z
      .enum(["dpo", "sft-positives"])
      .default("dpo")
      .describe("sft-positives: the paper's ablation, SFT on the positives of the same pairs"),
    dpo: DpoOptionsSchema.prefault({}),
    lora: LoraSchema.prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: (config) => (config.positives.source === "sceneworld" ? ["instruction"] : []),
  needs: (config) => ({
    backend: { images: 1 },
    weights: true,
    // Contrastive weakening decodes inside the embedded model (every step's full logits,
    // weakening.ts). Declared, so that over an endpoint the run refuses it at start (as CSR's
    // diverse-beam), not after the positives are stored, when the pairs step first calls it.
    ...(config.weakening !== false && config.weakening.decoding === "contrastive"
      ? { embeddedOnly: CONTRASTIVE_NEEDS }
      : {}),
  }),
  async run(ctx, config) {
    const generators = GENERATORS.filter((g) => config[g] !== false);
    if (generators.length === 0)
      throw new Error(`${ctx.name}: injection and weakening are both false; BPO needs at least one negative generator`);
    const positiveData = openStageData(ctx, "positives.jsonl");
    const positives = await ctx.step("positives", async () => {
      const { candidates, origin } = loadCandidates(ctx, config.positives);
      // Checked, then stored: two passes over the candidates.
      const bar = ctx.progress(`${ctx.name} positives`, 2 * candidates.length);
      try {
        const result = await positiveRecords(candidates, {
          stage: ctx.name,
          seed: ctx.seed,
          origin,
          maxWords: config.maxWords,
          imagePath: storeImage(positiveData.store),
          onProgress: (done) => bar.update(done),
          signal: ctx.signal,
        });
        return {
          candidates: candidates.length,
          ...writeStageRecords(positiveData, "sft", result.records, result.dropped),
        };
      } finally {
        bar.done();
      }
    });
    ctx.log(
      `${ctx.name}: ${positives.records} positives of ${positives.candidates} drawn; dropped ${JSON.stringify(positives.drops)}`,
    );

    const data = openStageData(ctx, "pairs.jsonl");
    const items = pairItems(positiveData, generators);
    const options = {
      stage: ctx.name,
      seed: ctx.seed,
      injection: config.injection,
      weakening: config.weakening,
      rules: { maxWords: config.maxWords, nearDuplicate: config.nearDuplicate, dropTruncated: config.dropTruncated },
    };
    const pairs = await ctx.step("pairs", () =>
      makeRecords(ctx, data, {
        kind: "preference",
        label: "pairs",
        items,
        // Whole positives per chunk: one positive's negatives are paired together (negatives.ts).
        chunkSize: config.chunkSize * generators.length,
        make: (backend, chunk) => bpoPairs(backend, chunk.map(withImage(positiveData)), options),
      }),
    );
    ctx.log(
      `${ctx.name}: ${pairs.records} pairs (${generators.join(", ")}); drops so far ${JSON.stringify(pairs.drops)}`,
    );

    if (config.positives.source === "sceneworld") {
      const diagnostics = await ctx.step("diagnostics", () => writeDiagnostics(ctx, data));
      for (const line of diagnosticsLines(diagnostics)) ctx.log(`${ctx.name} diagnostics: ${line}`);
    }
    let trainPath = data.recordsPath;
    if (config.balanceYesNo) {
      trainPath = join(data.root, "pairs-balanced.jsonl");
      const balanced = await ctx.step("yes-no-balance", () =>
        writeYesNoBalanced(data.recordsPath, trainPath, data.root, ctx.seed),
      );
      ctx.log(
        `${ctx.name}: yes/no balance kept ${balanced.kept} of ${balanced.records} pairs; dropped ${JSON.stringify(balanced.dropped)}`,
      );
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

const CONTRASTIVE_NEEDS =
  "its weakening.decoding contrastive needs the model's full next-token logits at every step, which an OpenAI-compatible server does not return (set weakening: { decoding: noisy }, the paper's, to weaken over the endpoint)";

type PositivesConfig = z.output<typeof PositivesSchema>;

function loadCandidates(ctx: StageContext, p: PositivesConfig): { candidates: PositiveCandidate[]; origin: string } {
  if (p.source === "sceneworld") {
    return { candidates: worldPositives(worldOf(ctx).dir, p, ctx.seed), origin: "world:instruction" };
  }
  const path = resolve(p.path);
  const folder = p.imageFolder === undefined ? undefined : resolve(p.imageFolder);
  const read = { canonical: canonicalPositives, llava: llavaPositives, sharegpt: sharegptPositives }[p.format];
  const all = read(path, p.style, folder);
  return {
    candidates: p.items === undefined ? all : seededSubset(all, p.items, ctx.seed),
    origin: `dataset:${p.path}`,
  };
}

/** One item per (stored positive, generator), positive by positive. */
function pairItems(data: StageData, generators: readonly Generator[]): Omit<PairItem, "image">[] {
  return readRecords(data.recordsPath, "sft", { root: data.root }).flatMap((record) => {
    const positive = positiveOf(record);
    return generators.map((generator) => ({ id: `${positive.id}/${generator}`, generator, positive }));
  });
}

/** Reads an item's image from the stage's store when its chunk comes up. */
const withImage =
  (data: StageData) =>
  (item: Omit<PairItem, "image">): PairItem => ({
    ...item,
    image: { bytes: data.store.read(item.positive.imagePath), mimeType: mimeTypeOfPath(item.positive.imagePath) },
  });

function writeDiagnostics(ctx: StageContext, data: StageData): BpoDiagnostics {
  const objects = new Map<string, string[]>();
  for (const r of readWorldSplit(worldOf(ctx).dir, "instruction")) if (r.kind === "scene") objects.set(r.id, r.objects);
  const diagnostics = bpoDiagnostics(readRecords(data.recordsPath, "preference", { root: data.root }), {
    objects,
    shapes: worldOf(ctx).config.objects.shapes,
    pairs: worldOf(ctx).config.priors.pairs,
    table: worldVocabulary().objects,
  });
  writeJsonAtomic(join(data.root, "diagnostics.json"), diagnostics);
  return diagnostics;
}
