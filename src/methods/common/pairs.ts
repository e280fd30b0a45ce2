// Pair builders: how a preference method turns its answers into (chosen, rejected) pairs.
//   chosenAgainstEach: one chosen answer against each rejected one (BPO: the ground-truth answer
//     against every negative; METHODS.md section 2, "every pair of completions with different
//     scores").
//   bestAgainstWorst: among scored candidates, the highest score chosen and the lowest rejected
//     (CSR's finished responses by cumulative reward; METHODS.md section 3).
// Both are pure and generic over the answer type; the method makes records of the pairs.

export interface Pair<T> {
  chosen: T;
  rejected: T;
}

export type EachDropReason = "same-as-chosen" | "duplicate";

/**
 * A pair of `chosen` with each of `rejected`, in order. A rejected answer whose key equals the
 * chosen one's teaches nothing and is dropped ("same-as-chosen"); one whose key came earlier
 * would weigh its pair twice and is dropped ("duplicate").
 */
export function chosenAgainstEach<T>(
  chosen: T,
  rejected: readonly T[],
  key: (answer: T) => string,
): { pairs: Pair<T>[]; dropped: Record<EachDropReason, number> } {
  const dropped: Record<EachDropReason, number> = { "same-as-chosen": 0, duplicate: 0 };
  const own = key(chosen);
  const seen = new Set<string>();
  const pairs: Pair<T>[] = [];
  for (const r of rejected) {
    const k = key(r);
    if (k === own) dropped["same-as-chosen"]++;
    else if (seen.has(k)) dropped.duplicate++;
    else pairs.push({ chosen, rejected: r });
    seen.add(k);
  }
  return { pairs, dropped };
}

export interface ScoredPair<T> extends Pair<T> {
  scores: { chosen: number; rejected: number };
}

export type BestWorstDropReason = "too-few-candidates" | "no-score-gap";

/**
 * The best candidate against the worst by `score`, or why there is no pair: fewer than two
 * candidates, or every score equal (nothing to prefer). Ties are broken as a stable sort by
 * score, best first, would: chosen is the first of the best, rejected the last of the worst (in
 * input order). A score that is not a finite number is an error naming its candidate.
 */
export function bestAgainstWorst<T>(
  candidates: readonly T[],
  score: (candidate: T) => number,
): ScoredPair<T> | BestWorstDropReason {
  if (candidates.length < 2) return "too-few-candidates";
  const scores = candidates.map((c, i) => {
    const s = score(c);
    if (!Number.isFinite(s)) throw new RangeError(`bestAgainstWorst: candidate ${i} has score ${s}`);
    return s;
  });
  let best = 0;
  let worst = 0;
  scores.forEach((s, i) => {
    if (s > scores[best]) best = i;
    if (s <= scores[worst]) worst = i;
  });
  if (scores[best] === scores[worst]) return "no-score-gap";
  return {
    chosen: candidates[best],
    rejected: candidates[worst],
    scores: { chosen: scores[best], rejected: scores[worst] },
  };
}
