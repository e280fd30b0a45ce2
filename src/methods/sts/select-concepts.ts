// STS concept selection from InfoNCE scores (METHODS.md section 4; released code
// src/step1.2_concepts_gen.py): keep the concepts scoring strictly above mean + 0.4·std of the
// class's scores, std being the sample standard deviation (n - 1, torch.std's default); when fewer
// than 3 pass, the top 3 by score (all of them for a class with fewer). Returned best first.

export interface SelectionOptions {
  /** The paper's 0.4. */
  stdFactor: number;
  /** The paper's 3. */
  atLeast: number;
}

export const PAPER_SELECTION: SelectionOptions = { stdFactor: 0.4, atLeast: 3 };

export interface ScoredConcept {
  concept: string;
  score: number;
}

/** mean + factor · sample std of the scores (std 0 for one score). */
export function selectionThreshold(scores: readonly number[], stdFactor: number): number {
  if (scores.length === 0) throw new RangeError("concept selection: no scores");
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const variance = scores.length < 2 ? 0 : scores.reduce((s, x) => s + (x - mean) ** 2, 0) / (scores.length - 1);
  return mean + stdFactor * Math.sqrt(variance);
}

/** The selected concepts, best first; ties keep the concepts' order. */
export function selectConcepts(
  concepts: readonly string[],
  scores: readonly number[],
  options: SelectionOptions = PAPER_SELECTION,
): ScoredConcept[] {
  if (concepts.length !== scores.length)
    throw new RangeError(`concept selection: ${scores.length} scores for ${concepts.length} concepts`);
  for (const [i, s] of scores.entries())
    if (!Number.isFinite(s)) throw new RangeError(`concept selection: concept '${concepts[i]}' has score ${s}`);
  const threshold = selectionThreshold(scores, options.stdFactor);
  const ranked = concepts
    .map((concept, i) => ({ concept, score: scores[i], i }))
    .sort((x, y) => y.score - x.score || x.i - y.i);
  const above = ranked.filter((c) => c.score > threshold);
  const kept = above.length >= options.atLeast ? above : ranked.slice(0, options.atLeast);
  return kept.map(({ concept, score }) => ({ concept, score }));
}
