// STS's rejection sampling: the best-scoring answer naming the label, else the fallback; the
// released code's choice and negatives.
import assert from "node:assert/strict";
import { test } from "node:test";
import { chooseAnswer, negativeConcepts } from "../../../src/methods/sts/rejection.js";

const samples = [
  { text: "This is a bosk with a fan tail.", score: -3 },
  { text: "An arbel, with a fan tail and a red body.", score: -1 }, // best score, wrong label
  { text: "This is a bosk: spots on its body, a long beak.", score: -2 },
];

test("paper: the highest score among the answers naming the label", () => {
  assert.deepEqual(chooseAnswer(samples, "bosk", "paper"), {
    answer: "This is a bosk: spots on its body, a long beak.",
    index: 2,
    score: -2,
  });
  // Ties: the earlier sample.
  const tied = [
    { text: "a bosk", score: 0 },
    { text: "bosk again", score: 0 },
  ];
  assert.equal(chooseAnswer(tied, "bosk", "paper").index, 0);
});

test("paper: no answer names the label, so the fallback", () => {
  assert.deepEqual(chooseAnswer(samples, "corla", "paper"), {
    answer: "This is an image of corla.",
    index: null,
    score: null,
  });
  assert.equal(chooseAnswer([], "corla", "paper").answer, "This is an image of corla.");
});

test("released-code: the top answer of all, the fallback when it lacks the label", () => {
  // The top answer (-1) names arbel, not bosk: the fallback, though two samples name bosk.
  assert.equal(chooseAnswer(samples, "bosk", "released-code").answer, "This is an image of bosk.");
  assert.equal(chooseAnswer(samples, "arbel", "released-code").index, 1);
});

test("negatives: the other concepts (paper) or every concept, the image's own included (code)", () => {
  const all = ["a fan tail", "a red body", "a long beak", "a fan tail"];
  assert.deepEqual(negativeConcepts(all, ["a fan tail"], "other-concepts"), ["a red body", "a long beak"]);
  assert.deepEqual(negativeConcepts(all, ["a fan tail"], "all-concepts"), ["a fan tail", "a red body", "a long beak"]);
});
