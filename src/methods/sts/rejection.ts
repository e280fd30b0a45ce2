// STS rounds 2 to 4: reward-model-free rejection sampling (METHODS.md section 4, step 6). Each
// sampled answer b is scored by InfoNCE against the image's selected concepts (A), with negative
// concepts C:
//   negatives: other-concepts  C = every class's concepts except the image's selected ones (the
//                              paper's reading: the concepts the answer should not match)
//   negatives: all-concepts    C = every concept, the image's own included (released code
//                              src/step2.6_ans_select.py: sample_negative_embeddings filters on a
//                              variable that is never in the list, so nothing is excluded)
// and the kept answer is chosen by:
//   choice: paper           the highest-scoring answer among those naming the label; if none
//                           names it, "This is an image of {label}."
//   choice: released-code   the highest-scoring answer of all; kept if it names the label, else
//                           the fallback (build_qa)
import { fallbackAnswer, namesLabel } from "./questions.js";

export type Choice = "paper" | "released-code";
export type Negatives = "other-concepts" | "all-concepts";

export interface ScoredAnswer {
  text: string;
  score: number;
}

export interface Chosen {
  answer: string;
  /** Index of the kept sample, or null for the fallback. */
  index: number | null;
  score: number | null;
}

/** The answer kept among one question's samples (ties: the earlier sample). */
export function chooseAnswer(samples: readonly ScoredAnswer[], label: string, choice: Choice): Chosen {
  const candidates = samples
    .map((s, index) => ({ ...s, index }))
    .filter((s) => choice === "released-code" || namesLabel(s.text, label));
  let best: (ScoredAnswer & { index: number }) | null = null;
  for (const c of candidates) if (best === null || c.score > best.score) best = c;
  if (best === null || !namesLabel(best.text, label))
    return { answer: fallbackAnswer(label), index: null, score: null };
  return { answer: best.text.trim(), index: best.index, score: best.score };
}

/** The negative concepts of an image: all concepts, less its selected ones unless all-concepts. */
export function negativeConcepts(all: readonly string[], selected: readonly string[], negatives: Negatives): string[] {
  const unique = [...new Set(all)];
  if (negatives === "all-concepts") return unique;
  const own = new Set(selected);
  return unique.filter((c) => !own.has(c));
}
