// CSR's sentence-level search (METHODS.md section 3; the released code's inference_csr/sample.py
// sentence_level_beam_search_tree): per prompt a tree whose nodes are answers grown one sentence
// at a time. Level by level, every active node of every prompt proposes candidate next sentences
// (one CandidateGenerator call for all of them, candidates.ts); a candidate failing the cleanups
// is dropped (cleanup.ts); the others are scored, relevance by the image-text scorer for all of
// them in one call, and rewarded among their siblings (reward.ts). A candidate whose answer
// ended, or reached `maxCharacters`, finishes a path (a candidate that is only the answer's end
// finishes its parent's path as it stands); of the others, each prompt keeps its
// `best` and its `worst` by the selection key for the next level (all of them when there are no
// more than best + worst), and releases the rest. The search of a prompt ends when it has no
// active node left.
//
// Selection key (`selectBy`): `reward`, the path's calibrated score so far (the paper's
// reward-guided search), or `lm-score`, its summed proposer score (the released code ranks by
// HF's cumulative sequence score and adds relevance only after the search).
import type { ImageTextScorer } from "../../backends/types.js";
import type { CandidateGenerator, CandidateSentence, SearchPrompt } from "./candidates.js";
import { type CleanupReason, sentenceDefect } from "./cleanup.js";
import { pathScore, type RewardOptions, relevanceReward, selfScore, siblingRewards } from "./reward.js";

export interface SearchOptions {
  reward: RewardOptions;
  /** Nodes kept per prompt and level: the best and the worst (the released code: 1 and 2). */
  keep: { best: number; worst: number };
  selectBy: "reward" | "lm-score";
  /** An answer this long (characters) is finished (the released code: 1,024). */
  maxCharacters: number;
}

/** A path from the root: its answer and what each of its sentences scored. */
export interface SearchPath {
  node: string;
  response: string;
  /** Summed sentence rewards. */
  reward: number;
  /** Summed proposer scores. */
  lmScore: number;
  /** Per sentence: R_I (clamped relevance) and R_T (self score on R_I's scale). */
  relevance: number[];
  self: number[];
  finish: CandidateSentence["finish"] | "characters";
}

export interface PromptSearch {
  prompt: SearchPrompt;
  /** Finished paths, in the order they finished. */
  finished: SearchPath[];
  /** Candidates dropped by the cleanups, per reason. */
  cleaned: Partial<Record<CleanupReason, number>>;
  /** Sentences proposed and scored (cleaned ones included). */
  sentences: number;
}

export function checkSearchOptions(o: SearchOptions): void {
  const { best, worst } = o.keep;
  if (!Number.isInteger(best) || !Number.isInteger(worst) || best < 0 || worst < 0 || best + worst < 1)
    throw new RangeError(`csr search: keep best ${best}, worst ${worst}: non-negative integers, at least one node`);
  if (!Number.isInteger(o.maxCharacters) || o.maxCharacters < 1)
    throw new RangeError(`csr search: maxCharacters ${o.maxCharacters} must be a positive integer`);
}

/** The path's score (the pair's ranking, pairs.ts). */
export const scoreOfPath = (path: SearchPath, mix: RewardOptions["mix"]) =>
  pathScore(path.reward, path.relevance.length, mix);

const ROOT: Omit<SearchPath, "node" | "finish"> = { response: "", reward: 0, lmScore: 0, relevance: [], self: [] };

/** The search over `prompts`, level by level; the generator's nodes are all released at the end. */
export async function sentenceSearch(
  prompts: readonly SearchPrompt[],
  generator: CandidateGenerator,
  scorer: ImageTextScorer,
  options: SearchOptions,
  signal?: AbortSignal,
): Promise<PromptSearch[]> {
  checkSearchOptions(options);
  const results: PromptSearch[] = prompts.map((prompt) => ({ prompt, finished: [], cleaned: {}, sentences: 0 }));
  let active: Active[] = prompts.map((p, i) => ({ item: i, path: { ...ROOT, node: p.id, finish: "sentence" } }));
  try {
    while (active.length > 0) {
      signal?.throwIfAborted();
      const candidates = await generator.expand(
        active.map((a) => ({ node: a.path.node, prompt: prompts[a.item], prefix: a.path.response })),
      );
      const children = await scoreLevel(active, candidates, results, generator, scorer, options);
      active = selectNext(children, results, generator, options);
    }
  } finally {
    await generator.close();
  }
  return results;
}

type Active = { item: number; path: SearchPath };

/** Cleans and scores one level's candidates; returns the children (paths one sentence longer). */
async function scoreLevel(
  active: Active[],
  candidates: CandidateSentence[][],
  results: PromptSearch[],
  generator: CandidateGenerator,
  scorer: ImageTextScorer,
  o: SearchOptions,
): Promise<{ item: number; path: SearchPath; final: boolean }[]> {
  const kept = active.map((a, i) =>
    candidates[i].filter((c) => {
      results[a.item].sentences++;
      if (c.final && c.sentence === "") {
        // The answer ended right after the parent's last sentence: the parent's path is finished
        // as it stands (once, however many candidates say so). Not a sentence to clean or score.
        const finished = results[a.item].finished;
        if (a.path.relevance.length > 0 && !finished.some((p) => p.node === a.path.node))
          finished.push({ ...a.path, finish: c.finish });
        generator.release([c.node]);
        return false;
      }
      const defect = sentenceDefect(c.sentence);
      if (defect === null) return true;
      const cleaned = results[a.item].cleaned;
      cleaned[defect] = (cleaned[defect] ?? 0) + 1;
      generator.release([c.node]);
      return false;
    }),
  );
  const pairs = kept.flatMap((cs, i) =>
    cs.map((c) => ({ image: results[active[i].item].prompt.image, text: c.sentence })),
  );
  const relevance = pairs.length > 0 ? await scorer.score(pairs) : [];
  let at = 0;
  return kept.flatMap((cs, i) => {
    const parent = active[i].path;
    const scored = cs.map((c) => ({ ...c, relevance: relevance[at++] }));
    const rewards = siblingRewards(scored, o.reward);
    return scored.map((c, j) => {
      const long = c.response.length >= o.maxCharacters;
      const path: SearchPath = {
        node: c.node,
        response: c.response,
        reward: parent.reward + rewards[j],
        lmScore: parent.lmScore + c.lmScore,
        relevance: [...parent.relevance, relevanceReward(c.relevance)],
        self: [...parent.self, selfScore(c.logprobs)],
        finish: c.final || !long ? c.finish : "characters",
      };
      return { item: active[i].item, path, final: c.final || long };
    });
  });
}

/** Finished children go to their prompt's results; of the others, each prompt's best and worst stay active. */
function selectNext(
  children: { item: number; path: SearchPath; final: boolean }[],
  results: PromptSearch[],
  generator: CandidateGenerator,
  o: SearchOptions,
): Active[] {
  const pools = new Map<number, SearchPath[]>();
  for (const c of children) {
    if (c.final) {
      results[c.item].finished.push(c.path);
      generator.release([c.path.node]);
    } else {
      pools.set(c.item, [...(pools.get(c.item) ?? []), c.path]);
    }
  }
  const key = (p: SearchPath) => (o.selectBy === "reward" ? p.reward : p.lmScore);
  const next: Active[] = [];
  for (const [item, pool] of pools) {
    const { best, worst } = o.keep;
    // Stable: equal keys keep candidate order.
    const sorted = [...pool].sort((a, b) => key(b) - key(a));
    const keep =
      sorted.length <= best + worst ? sorted : [...sorted.slice(0, best), ...sorted.slice(sorted.length - worst)];
    generator.release(sorted.filter((p) => !keep.includes(p)).map((p) => p.node));
    for (const path of keep) next.push({ item, path });
  }
  return next;
}
