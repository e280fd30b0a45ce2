// CSR as a recipe stage (METHODS.md section 3): `csr-iteration` is one iteration, from its input
// model M_i: the sentence-level search over unlabeled pool images with the calibrated reward
// (search.ts), one preference pair per image (records.ts), DPO on LoRA adapters, merged into
// M_{i+1}, which the runner evaluates. Three iterations are three stages of this kind, each
// starting from the previous one's model (recipes/csr.yaml).
//
// Files: `data/pairs.jsonl` (made in chunks of prompts, resumable), `data/drops.jsonl`
// (no-finished-path, too-few-candidates, no-score-gap), and `data/relevance.json`: the mean
// relevance and self score of the chosen and rejected sides, the figure the paper plots across
// iterations (also the `relevance` step's result in `steps/relevance.json`, and a log line).
//
// The search's candidates come from the embedded generator when the input model is a checkpoint
// (each node keeps its KV cache; diverse group beam search or sampling), else from the served one
// (an OpenAI-compatible endpoint: continued assistant messages, sampling only, nothing kept;
// served-candidates.ts). Relevance is always the embedded CLIP-style scorer (`scorer`). Over a
// served model, training is handed off as every stage's is (trainStageModel): the pairs and
// their exports are written and the run waits for the trained model (README, "Training a served
// model"), so three iterations are three hand-offs.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { EmbeddedBackend, EmbeddedImageTextScorer, imageInput } from "../../backends/embedded.js";
import type { VisionLanguageModel } from "../../backends/types.js";
import { readRecords } from "../../data/dataset.js";
import type { PreferenceRecord } from "../../data/records.js";
import { defineStageKind, type StageContext } from "../../run/stage-kind.js";
import { DpoOptionsSchema } from "../../train/dpo.js";
import { writeFileAtomic } from "../../util/atomic-file.js";
import type { Dropped } from "../common/chunked-records.js";
import { LoraSchema, TrainSchema, trainStageModel } from "../common/fine-tune.js";
import { makeRecords, openStageData, storeImage } from "../common/stage-data.js";
import { stagePoolItems } from "../common/world-items.js";
import type { CandidateGenerator } from "./candidates.js";
import { EmbeddedCandidateGenerator } from "./embedded-candidates.js";
import { csrPrompts } from "./prompts.js";
import { csrRecord, relevanceSummary } from "./records.js";
import { sentenceSearch } from "./search.js";
import {
  candidateOptions,
  csrSearchSampling,
  type SearchConfig,
  SearchConfigSchema,
  searchOptions,
} from "./search-config.js";
import { ServedCandidateGenerator } from "./served-candidates.js";

export const csrIteration = defineStageKind({
  type: "csr-iteration",
  description: "CSR: one iteration of sentence-level search with the calibrated reward, pairs, DPO",
  schema: SearchConfigSchema.extend({
    images: z.number().int().min(1).default(200).describe("unlabeled pool images, one prompt each"),
    scorer: z.string().min(1).default("assets/scorer").describe("the CLIP-style scorer's folder (relevance R_I)"),
    chunkSize: z.number().int().min(1).default(8).describe("prompts searched together (and written per chunk)"),
    dpo: DpoOptionsSchema.prefault({}),
    lora: LoraSchema.prefault({}),
    train: TrainSchema.prefault({}),
  }),
  needsSplits: () => ["pool"],
  needs: (config) => ({
    // Over an endpoint: the image with each request, and the candidates' log-probs (R_T).
    backend: { images: 1, generationLogprobs: true },
    weights: true,
    poolImages: true,
    ...(config.proposal.kind === "diverse-beam" ? { embeddedOnly: DIVERSE_BEAM_NEEDS } : {}),
  }),
  async run(ctx, config) {
    if (!existsSync(join(config.scorer, "config.json")))
      throw new Error(`${ctx.name}.scorer: ${config.scorer} holds no scorer checkpoint (config.json)`);
    const data = openStageData(ctx, "pairs.jsonl");
    const scorer = EmbeddedImageTextScorer.load(config.scorer);
    const pool = await stagePoolItems(ctx, config.images);
    const items = pool.items;
    const source = new Map(items.map((item) => [item.id, item.source]));
    const made = await ctx
      .step("pairs", () =>
        makeRecords(ctx, data, {
          kind: "preference",
          label: "search",
          items,
          predropped: pool.dropped,
          chunkSize: config.chunkSize,
          make: async (backend, chunk) => {
            const searches = await sentenceSearch(
              csrPrompts(chunk, ctx.seed),
              candidateGenerator(backend, config, ctx),
              scorer,
              searchOptions(config),
              ctx.signal,
            );
            const records: PreferenceRecord[] = [];
            const dropped: Dropped[] = [];
            for (const search of searches) {
              const out = await csrRecord(search, {
                stage: ctx.name,
                model: backend.name,
                seed: ctx.seed,
                mix: config.reward.mix,
                sampling: csrSearchSampling(config),
                imagePath: storeImage(data.store),
                source: source.get(search.prompt.id) ?? search.prompt.id,
              });
              if (typeof out === "string") dropped.push({ itemId: search.prompt.id, reason: out });
              else records.push(out);
            }
            return { records, dropped };
          },
        }),
      )
      .finally(() => scorer.close());
    ctx.log(`${ctx.name}: ${made.records} pairs; dropped ${JSON.stringify(made.drops)}`);
    await ctx.step("relevance", () => writeRelevance(ctx, data.root, data.recordsPath));
    return trainStageModel({
      ctx,
      datasetRoot: data.root,
      recordsPath: data.recordsPath,
      objective: { kind: "dpo", dpo: config.dpo },
      lora: config.lora,
      train: config.train,
    });
  },
});

/** Why `proposal.kind: diverse-beam` cannot run over an endpoint (the run refuses it at start). */
const DIVERSE_BEAM_NEEDS =
  "its proposal.kind diverse-beam (diverse group beam search) steps the embedded model's decoder, which an OpenAI-compatible server does not expose (set proposal: { kind: sampling } to search over the endpoint)";

/** The embedded generator on the embedded backend, the served one on any other. */
function candidateGenerator(backend: VisionLanguageModel, config: SearchConfig, ctx: StageContext): CandidateGenerator {
  const options = candidateOptions(config);
  if (backend instanceof EmbeddedBackend) {
    const { model } = backend;
    return new EmbeddedCandidateGenerator(model, backend.tokenizer, {
      ...options,
      seed: ctx.seed,
      pixels: (r) => imageInput(r.prompt.image, model.config.vision.imageSize, `pool image ${r.prompt.id}`),
    });
  }
  const { proposal, maxSentenceTokens, stopMark } = options;
  if (proposal.kind !== "sampling")
    throw new Error(`${ctx.name}.proposal.kind: ${backend.name}: ${DIVERSE_BEAM_NEEDS}`);
  return new ServedCandidateGenerator(backend, { proposal, maxSentenceTokens, stopMark, seed: ctx.seed });
}

/** The stage's relevance summary, logged and written to data/relevance.json. */
function writeRelevance(ctx: StageContext, root: string, recordsPath: string) {
  const records = readRecords(recordsPath, "preference", { root });
  const summary = relevanceSummary(records);
  writeFileAtomic(join(root, "relevance.json"), `${JSON.stringify(summary, null, 2)}\n`);
  const f = (x: number) => x.toFixed(2);
  ctx.log(
    `${ctx.name}: relevance chosen ${f(summary.chosenRelevance)}, rejected ${f(summary.rejectedRelevance)}; self chosen ${f(summary.chosenSelf)}, rejected ${f(summary.rejectedSelf)}; words chosen ${f(summary.chosenWords)}, rejected ${f(summary.rejectedWords)} (${summary.pairs} pairs)`,
  );
  return summary;
}
