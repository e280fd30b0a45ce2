// CSR's sentence reward and path score on hand-computed cases.
import assert from "node:assert/strict";
import { test } from "node:test";
import { pathScore, rankFractions, selfScore, siblingRewards } from "../../../src/methods/csr/reward.js";

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);

test("the paper's mix: relevance clamped at 0, self score as 100 * exp(mean log-prob)", () => {
  // Sentence 1: relevance 30, log-probs [-0.2, -0.4] -> mean -0.3, self 100 e^-0.3 = 74.0818;
  //   R = 0.9 * 30 + 0.1 * 74.0818 = 34.40818.
  // Sentence 2: relevance -5 -> clamped 0; log-probs [0] -> self 100; R = 0.1 * 100 = 10.
  const r = siblingRewards(
    [
      { relevance: 30, logprobs: [-0.2, -0.4], lmScore: -0.3 },
      { relevance: -5, logprobs: [0], lmScore: 0 },
    ],
    { lambda: 0.9, mix: "paper" },
  );
  close(r[0], 0.9 * 30 + 0.1 * 100 * Math.exp(-0.3));
  close(r[1], 10);
  close(selfScore([-0.2, -0.4]), 74.08182206817179);
  // lambda 0 (no calibration): the self score alone.
  close(
    siblingRewards([{ relevance: 30, logprobs: [-0.2, -0.4], lmScore: 0 }], { lambda: 0, mix: "paper" })[0],
    74.08182206817179,
  );
});

test("the released code's rank fractions: best 1/n, worst 1, ties in sibling order, negated", () => {
  // [5, 9, 5]: best first 9 (index 1) -> 1/3, then 5 (index 0) -> 2/3, then 5 (index 2) -> 1.
  assert.deepEqual(rankFractions([5, 9, 5]), [2 / 3, 1 / 3, 1]);
  // Relevance [10, 20, 30] -> ranks [1, 2/3, 1/3]; LM [-1, -3, -2] -> ranks [1/3, 1, 2/3];
  // R = -(0.9 * clip + 0.1 * lm): [-(0.9 + 1/30), -(0.6 + 0.1), -(0.3 + 0.2/3)].
  const r = siblingRewards(
    [
      { relevance: 10, logprobs: [-1], lmScore: -1 },
      { relevance: 20, logprobs: [-1], lmScore: -3 },
      { relevance: 30, logprobs: [-1], lmScore: -2 },
    ],
    { lambda: 0.9, mix: "rank-fraction" },
  );
  close(r[0], -(0.9 + 0.1 / 3));
  close(r[1], -0.7);
  close(r[2], -(0.3 + 0.2 / 3));
});

test("a path's score: over sentences (paper), over nodes with the root (released code)", () => {
  close(pathScore(60, 3, "paper"), 20);
  close(pathScore(-2, 3, "rank-fraction"), -0.5);
  assert.throws(() => pathScore(1, 0, "paper"), /0 sentences/);
  assert.throws(() => siblingRewards([], { lambda: 1.5, mix: "paper" }), /lambda 1.5/);
  assert.throws(() => selfScore([]), /without tokens/);
});
