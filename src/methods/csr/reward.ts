// CSR's calibrated reward of a sentence and the score of a path (METHODS.md section 3; Zhou et
// al. 2024, arXiv 2405.14622, eq. for R(s)):
//
//   R(s) = λ · R_I(s) + (1 - λ) · R_T(s)
//
// R_I: image-sentence relevance from the CLIP-style scorer, 100 · cos(image, sentence), clamped
// at 0 as the paper clamps it; R_T: the policy's own length-normalized log-likelihood of the
// sentence (the mean of its tokens' raw log-probs).
//
// `mix: paper` (the default) mixes raw scores, with R_T brought to R_I's scale: R_T enters as
// 100 · exp(mean log-prob), the geometric-mean probability of the sentence's tokens in percent,
// so both terms lie in [0, 100] and λ weighs like with like (a raw mean log-prob, about -0.1 to
// -3, next to a relevance of 20 to 40, would make λ meaningless). A path's score is its summed
// reward over its sentences.
//
// `mix: rank-fraction` is the released code (inference_csr/utils.py calculate_ranks,
// construct.py dfs): among the siblings of one node, each sentence's rank by LM score and by
// relevance, best first, as (index + 1) / siblings (1/n for the best, 1 for the worst), mixed as
// λ · relevance rank + (1 - λ) · LM rank; a path's score is that sum over the path's nodes
// counting the root (sentences + 1), lowest best. Here negated, so that higher is better in both
// mixes. Ties keep sibling order (Python's stable sort).

export type RewardMix = "paper" | "rank-fraction";

export interface RewardOptions {
  /** λ, the weight of relevance (the paper: 0.9; 0 = the ablation without calibration). */
  lambda: number;
  mix: RewardMix;
}

/** What the reward reads of a sentence. */
export interface ScoredSentence {
  /** 100 · cos(image, sentence), before the clamp. */
  relevance: number;
  /** The policy's raw log-prob of each token. */
  logprobs: readonly number[];
  /** The proposer's score (rank-fraction ranks siblings by it, as the code ranks by HF's score). */
  lmScore: number;
}

export function checkRewardOptions(o: RewardOptions): void {
  if (!(o.lambda >= 0 && o.lambda <= 1)) throw new RangeError(`csr reward: lambda ${o.lambda} must be in [0, 1]`);
}

/** R_T on R_I's scale: 100 · exp(mean log-prob). */
export function selfScore(logprobs: readonly number[]): number {
  if (logprobs.length === 0) throw new RangeError("csr reward: a sentence without tokens has no self score");
  return 100 * Math.exp(logprobs.reduce((a, b) => a + b, 0) / logprobs.length);
}

/** R_I: relevance clamped at 0. */
export const relevanceReward = (relevance: number) => Math.max(0, relevance);

/** (index + 1) / n of each value when sorted best (highest) first; ties keep input order. */
export function rankFractions(values: readonly number[]): number[] {
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  const out = new Array<number>(values.length);
  order.forEach((i, index) => {
    out[i] = (index + 1) / values.length;
  });
  return out;
}

/** The reward of each of one node's candidate sentences (siblings). */
export function siblingRewards(siblings: readonly ScoredSentence[], o: RewardOptions): number[] {
  checkRewardOptions(o);
  for (const [i, s] of siblings.entries())
    if (!Number.isFinite(s.relevance)) throw new RangeError(`csr reward: sibling ${i} has relevance ${s.relevance}`);
  if (o.mix === "paper")
    return siblings.map((s) => o.lambda * relevanceReward(s.relevance) + (1 - o.lambda) * selfScore(s.logprobs));
  const clip = rankFractions(siblings.map((s) => s.relevance));
  const lm = rankFractions(siblings.map((s) => s.lmScore));
  return siblings.map((_, i) => -(o.lambda * clip[i] + (1 - o.lambda) * lm[i]));
}

/** A path's score from its summed reward: over its sentences (paper), or its nodes with the root (code). */
export function pathScore(total: number, sentences: number, mix: RewardMix): number {
  if (!Number.isInteger(sentences) || sentences < 1)
    throw new RangeError(`csr reward: a path of ${sentences} sentences has no score`);
  return total / (mix === "paper" ? sentences : sentences + 1);
}
