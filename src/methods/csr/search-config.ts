// The search fields of a `csr-iteration` stage (recipes/csr.yaml), with the released code's
// values as defaults where the paper gives none, and what they become for the candidate
// generator (embedded-candidates.ts) and the search (search.ts). The proposal is one flat block,
// `kind` choosing which fields apply, so that a profile can switch kind by naming it alone
// (profiles merge into the recipe before validation).
import { z } from "zod";
import type { Proposal } from "./candidates.js";
import type { EmbeddedCandidateOptions } from "./embedded-candidates.js";
import type { SearchOptions } from "./search.js";

const count = (value: number, help: string) => z.number().int().min(1).default(value).describe(help);

export const ProposalSchema = z
  .object({
    kind: z
      .enum(["diverse-beam", "sampling"])
      .default("diverse-beam")
      .describe("diverse-beam: the released code's diverse group beam search; sampling: independent samples"),
    returned: count(5, "candidate sentences per node (beam search's num_return_sequences, or samples)"),
    beams: count(5, "diverse-beam: beams (num_beams)"),
    groups: count(5, "diverse-beam: beam groups (num_beam_groups)"),
    diversityPenalty: z.number().min(0).default(3).describe("diverse-beam: Hamming diversity penalty"),
    temperature: z.number().min(0).default(1).describe("sampling: temperature"),
    topP: z.number().gt(0).max(1).default(1).describe("sampling: nucleus mass"),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.kind !== "diverse-beam") return;
    if (p.beams % p.groups !== 0)
      ctx.addIssue({
        code: "custom",
        path: ["groups"],
        message: `beams ${p.beams} must be a multiple of groups ${p.groups}`,
      });
    if (p.returned > p.beams)
      ctx.addIssue({
        code: "custom",
        path: ["returned"],
        message: `returned ${p.returned} must be at most beams ${p.beams}`,
      });
  });

export const SearchConfigSchema = z.object({
  proposal: ProposalSchema.prefault({}),
  maxSentenceTokens: count(70, "most new tokens of one sentence (the released code's max_new_tokens)"),
  stopMark: z.string().min(1).default(".").describe("a token holding it ends a sentence"),
  maxCharacters: count(1024, "an answer this long is finished (the released code's max_length)"),
  keep: z
    .object({ best: z.number().int().min(0).default(1), worst: z.number().int().min(0).default(2) })
    .strict()
    .prefault({})
    .describe("nodes kept per image and level for expansion: the best and the worst"),
  selectBy: z
    .enum(["reward", "lm-score"])
    .default("reward")
    .describe("what ranks the nodes to keep: the calibrated reward (paper) or the summed LM score (released code)"),
  reward: z
    .object({
      lambda: z.number().min(0).max(1).default(0.9).describe("weight of relevance; 0 = without calibration"),
      mix: z
        .enum(["paper", "rank-fraction"])
        .default("paper")
        .describe("paper: raw scores on one scale; rank-fraction: the released code's sibling ranks"),
    })
    .strict()
    .prefault({}),
  cache: z
    .enum(["kv", "none"])
    .default("kv")
    .describe("kv: each node keeps its KV cache; none: re-encode every node (the released code, for comparison)"),
});
export type SearchConfig = z.output<typeof SearchConfigSchema>;

export function proposalOf(config: SearchConfig): Proposal {
  const p = config.proposal;
  return p.kind === "sampling"
    ? { kind: "sampling", n: p.returned, temperature: p.temperature, topP: p.topP }
    : {
        kind: "diverse-beam",
        beams: p.beams,
        groups: p.groups,
        returned: p.returned,
        diversityPenalty: p.diversityPenalty,
      };
}

/** The candidate generator's options, less what the stage supplies (seed, pixels). */
export function candidateOptions(config: SearchConfig): Omit<EmbeddedCandidateOptions, "seed" | "pixels"> {
  return {
    proposal: proposalOf(config),
    maxSentenceTokens: config.maxSentenceTokens,
    stopMark: config.stopMark,
    cache: config.cache,
  };
}

export function searchOptions(config: SearchConfig): SearchOptions {
  return {
    reward: config.reward,
    keep: config.keep,
    selectBy: config.selectBy,
    maxCharacters: config.maxCharacters,
  };
}

/** The search's settings as a record's provenance.sampling. */
export function csrSearchSampling(config: SearchConfig): Record<string, number | string> {
  const p = proposalOf(config);
  return {
    ...Object.fromEntries(Object.entries(p).map(([k, v]) => [`proposal_${k}`, v])),
    max_sentence_tokens: config.maxSentenceTokens,
    max_characters: config.maxCharacters,
    keep_best: config.keep.best,
    keep_worst: config.keep.worst,
    select_by: config.selectBy,
    lambda: config.reward.lambda,
    mix: config.reward.mix,
  };
}
