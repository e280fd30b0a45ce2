// STS's information-bottleneck score, estimated with InfoNCE (METHODS.md section 4; Shi et al.,
// ICLR 2025, arXiv 2502.14044; released code sycny/SelfSynthX src/step1.2_concepts_gen.py and
// src/step2.6_ans_select.py, compute_info_nce_scores). For each b in B:
//
//   score(b) = Σ_{a∈A} log[ exp(s(a,b)/τ) / (exp(s(a,b)/τ) + Σ_{c∈C} exp(s(b,c)/τ)) ]
//
// s is the cosine of unit-norm embeddings (a dot product here), τ = 0.1. Concept selection uses
// A = the image's descriptions, B = its class's concepts, C = the other images' descriptions;
// rejection sampling uses A = the image's selected concepts, B = the sampled answers, C = the
// negative concepts. Computed in float64 with log-sum-exp, so a small τ cannot overflow.

/** The paper's temperature. */
export const PAPER_TAU = 0.1;

export type Embedding = readonly number[];

export function dot(x: Embedding, y: Embedding): number {
  if (x.length !== y.length) throw new RangeError(`infonce: embeddings of ${x.length} and ${y.length} dimensions`);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

/** log Σ exp(v): -Infinity for an empty list. */
export function logSumExp(values: readonly number[]): number {
  if (values.length === 0) return Number.NEGATIVE_INFINITY;
  const m = Math.max(...values);
  if (m === Number.NEGATIVE_INFINITY) return m;
  let s = 0;
  for (const v of values) s += Math.exp(v - m);
  return m + Math.log(s);
}

/**
 * log Σ_{c∈C} exp(s(b,c)/τ) for each b: the negatives' term, which does not depend on a. Callers
 * that score many images against one concept set compute it once over every description and
 * pass it to infoNceFromNegatives.
 */
export function negativeTerms(B: readonly Embedding[], C: readonly Embedding[], tau = PAPER_TAU): number[] {
  checkTau(tau);
  return B.map((b) => logSumExp(C.map((c) => dot(b, c) / tau)));
}

/** score(b) for each b given its negatives' term (log Σ_c exp(s(b,c)/τ)). */
export function infoNceFromNegatives(
  A: readonly Embedding[],
  B: readonly Embedding[],
  negatives: readonly number[],
  tau = PAPER_TAU,
): number[] {
  checkTau(tau);
  if (negatives.length !== B.length)
    throw new RangeError(`infonce: ${negatives.length} negative terms for ${B.length} b`);
  return B.map((b, j) => {
    let total = 0;
    for (const a of A) {
      const pos = dot(a, b) / tau;
      // log[e^pos / (e^pos + e^neg)] = pos - logsumexp(pos, neg)
      total += pos - logSumExp([pos, negatives[j]]);
    }
    return total;
  });
}

/** score(b) for each b of B (the equation above). */
export function infoNceScores(
  A: readonly Embedding[],
  B: readonly Embedding[],
  C: readonly Embedding[],
  tau = PAPER_TAU,
): number[] {
  return infoNceFromNegatives(A, B, negativeTerms(B, C, tau), tau);
}

function checkTau(tau: number): void {
  if (!(tau > 0)) throw new RangeError(`infonce: tau ${tau} must be > 0`);
}

/**
 * log Σ_{c∈C} exp(s(b,c)/τ) less the terms of some of C's members, as a log: the whole pool's
 * term with one image's own descriptions taken out (C = the other images' descriptions).
 * -Infinity when nothing is left.
 */
export function logSubtractExp(total: number, removed: readonly number[]): number {
  if (removed.length === 0) return total;
  const rest = Math.exp(total) - removed.reduce((s, v) => s + Math.exp(v), 0);
  // Relative rounding: a remainder below 1e-12 of the total is nothing left.
  return rest <= Math.exp(total) * 1e-12 ? Number.NEGATIVE_INFINITY : Math.log(rest);
}
