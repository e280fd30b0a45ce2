// CSR's preference records (METHODS.md section 3, step 4): of a prompt's finished paths, the one
// with the highest score (summed reward over length, reward.ts pathScore) is chosen and the one
// with the lowest rejected (common/pairs.ts bestAgainstWorst; ties: the earlier path chosen, the
// later rejected). Each record carries, in provenance.scores, both paths' scores, their mean
// relevance (R_I over their sentences: the figure the paper plots across iterations) and mean
// self score (R_T on R_I's scale), and how many paths finished. relevanceSummary averages those
// over a stage's records.
import { type PreferenceRecord, parsePreferenceRecord } from "../../data/records.js";
import type { ChatImage } from "../../images/chat-image.js";
import { type BestWorstDropReason, bestAgainstWorst } from "../common/pairs.js";
import type { RewardMix } from "./reward.js";
import { type PromptSearch, type SearchPath, scoreOfPath } from "./search.js";

export type CsrDropReason = "no-finished-path" | BestWorstDropReason;

export interface CsrRecordContext {
  stage: string;
  model: string;
  seed: number;
  mix: RewardMix;
  /** Search settings for provenance.sampling. */
  sampling: Record<string, number | string | boolean>;
  imagePath: (image: ChatImage) => Promise<string>;
  /** The source item of the prompt (world record id). */
  source: string;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The pair of one prompt's search, or why it has none. */
export async function csrRecord(
  search: PromptSearch,
  ctx: CsrRecordContext,
): Promise<PreferenceRecord | CsrDropReason> {
  if (search.finished.length === 0) return "no-finished-path";
  const pair = bestAgainstWorst<SearchPath>(search.finished, (p) => scoreOfPath(p, ctx.mix));
  if (typeof pair === "string") return pair;
  const { prompt } = search;
  const record = {
    kind: "preference" as const,
    id: prompt.id,
    images: [await ctx.imagePath(prompt.image)],
    prompt: prompt.messages,
    chosen: pair.chosen.response,
    rejected: pair.rejected.response,
    provenance: {
      method: "csr",
      stage: ctx.stage,
      model: ctx.model,
      seed: ctx.seed,
      sampling: ctx.sampling,
      scores: {
        chosen: pair.scores.chosen,
        rejected: pair.scores.rejected,
        chosen_relevance: mean(pair.chosen.relevance),
        rejected_relevance: mean(pair.rejected.relevance),
        chosen_self: mean(pair.chosen.self),
        rejected_self: mean(pair.rejected.self),
        chosen_sentences: pair.chosen.relevance.length,
        rejected_sentences: pair.rejected.relevance.length,
        finished_paths: search.finished.length,
      },
      reasons: [`chosen:${pair.chosen.finish}`, `rejected:${pair.rejected.finish}`],
      source: ctx.source,
    },
  };
  return parsePreferenceRecord(record, `csr pair for prompt ${prompt.id}`);
}

export interface RelevanceSummary {
  pairs: number;
  /** Means over the pairs of each side's mean sentence relevance (R_I) and self score (R_T scaled). */
  chosenRelevance: number;
  rejectedRelevance: number;
  chosenSelf: number;
  rejectedSelf: number;
  chosenWords: number;
  rejectedWords: number;
}

const words = (text: string) => text.split(/\s+/).filter((w) => w !== "").length;

/** What the paper plots per iteration: the scorer's relevance of chosen and rejected responses. */
export function relevanceSummary(records: readonly PreferenceRecord[]): RelevanceSummary {
  const score = (r: PreferenceRecord, key: string) => {
    const v = r.provenance.scores?.[key];
    if (v === undefined) throw new Error(`csr record ${r.id}: provenance.scores.${key} is missing`);
    return v;
  };
  const over = (f: (r: PreferenceRecord) => number) => (records.length === 0 ? Number.NaN : mean(records.map(f)));
  return {
    pairs: records.length,
    chosenRelevance: over((r) => score(r, "chosen_relevance")),
    rejectedRelevance: over((r) => score(r, "rejected_relevance")),
    chosenSelf: over((r) => score(r, "chosen_self")),
    rejectedSelf: over((r) => score(r, "rejected_self")),
    chosenWords: over((r) => words(r.chosen)),
    rejectedWords: over((r) => words(r.rejected)),
  };
}
