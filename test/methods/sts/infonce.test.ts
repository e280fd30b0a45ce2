// STS's InfoNCE score against a case computed by hand (and the negatives' term on its own).
import assert from "node:assert/strict";
import { test } from "node:test";
import { infoNceFromNegatives, infoNceScores, negativeTerms } from "../../../src/methods/sts/infonce.js";

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);

test("score(b) = Σ_a log[e^{s(a,b)/τ} / (e^{s(a,b)/τ} + Σ_c e^{s(b,c)/τ})], by hand", () => {
  // Unit vectors in 2-D. A = {(1,0), (0,1)}, B = {b1 = (1,0), b2 = (0,1)}, C = {(1,0)}, τ = 0.5.
  // s(a1,b1) = 1, s(a2,b1) = 0, s(b1,c) = 1; s(a1,b2) = 0, s(a2,b2) = 1, s(b2,c) = 0.
  // score(b1) = log(e^2/(e^2+e^2)) + log(e^0/(e^0+e^2)) = -ln 2 - ln(1 + e^2)
  // score(b2) = log(e^0/(e^0+e^0)) + log(e^2/(e^2+e^0)) = -ln 2 + 2 - ln(e^2 + 1)
  const A = [
    [1, 0],
    [0, 1],
  ];
  const B = [
    [1, 0],
    [0, 1],
  ];
  const C = [[1, 0]];
  const [s1, s2] = infoNceScores(A, B, C, 0.5);
  close(s1, -Math.log(2) - Math.log(1 + Math.E ** 2), "b1");
  close(s2, -Math.log(2) + 2 - Math.log(Math.E ** 2 + 1), "b2");
  // The negatives' term alone: log Σ_c e^{s(b,c)/τ}.
  const neg = negativeTerms(B, C, 0.5);
  close(neg[0], 2, "neg b1");
  close(neg[1], 0, "neg b2");
  assert.deepEqual(infoNceFromNegatives(A, B, neg, 0.5), [s1, s2]);
});

test("τ = 0.1 with cosines near 1 stays finite (log-sum-exp), and no negatives gives 0 per anchor", () => {
  const v = [0.6, 0.8];
  const [s] = infoNceScores(
    [v, v],
    [v],
    Array.from({ length: 1000 }, () => v),
    0.1,
  );
  // Each anchor: log(e^10 / (e^10 + 1000 e^10)) = -ln 1001.
  close(s, -2 * Math.log(1001), "many identical negatives");
  // No negatives: log(e^x / (e^x + 0)) = 0.
  assert.deepEqual(infoNceScores([v], [v], [], 0.1), [0]);
  assert.throws(() => infoNceScores([v], [v], [v], 0), /tau 0 must be > 0/);
  assert.throws(() => infoNceScores([[1, 0, 0]], [v], [v]), /3 and 2 dimensions/);
});
