// STS's concept selection: above mean + 0.4 · sample std, at least 3, best first.
import assert from "node:assert/strict";
import { test } from "node:test";
import { selectConcepts, selectionThreshold } from "../../../src/methods/sts/select-concepts.js";

test("the threshold is mean + 0.4 · sample std (n - 1), by hand", () => {
  // Scores 1, 2, 3, 4, 10: mean 4; squared deviations 9 + 4 + 1 + 0 + 36 = 50; sample variance
  // 50 / 4 = 12.5; std 3.5355...; threshold 4 + 0.4 · 3.5355 = 5.4142...
  const t = selectionThreshold([1, 2, 3, 4, 10], 0.4);
  assert.ok(Math.abs(t - (4 + 0.4 * Math.sqrt(12.5))) < 1e-12, `${t}`);
});

test("enough concepts above the threshold: exactly those, best first", () => {
  // Scores 10, 9, 8.5, 1, 1, 1: mean 5.0833, sample std 4.4319 (sum of squared deviations 98.21),
  // threshold 6.856: three pass.
  const concepts = ["a", "b", "c", "d", "e", "f"];
  const got = selectConcepts(concepts, [1, 9, 1, 10, 8.5, 1], { stdFactor: 0.4, atLeast: 3 });
  assert.deepEqual(
    got.map((c) => c.concept),
    ["d", "b", "e"],
  );
  // With atLeast 2 the same three (more than the minimum pass).
  assert.equal(selectConcepts(concepts, [1, 9, 1, 10, 8.5, 1], { stdFactor: 0.4, atLeast: 2 }).length, 3);
});

test("fewer than 3 above the threshold: the top 3; a class of 2 concepts keeps both", () => {
  // 1, 2, 3, 4, 10: only 10 passes 5.414; the top 3 are 10, 4, 3.
  const got = selectConcepts(["p", "q", "r", "s", "t"], [1, 2, 3, 4, 10]);
  assert.deepEqual(
    got.map((c) => [c.concept, c.score]),
    [
      ["t", 10],
      ["s", 4],
      ["r", 3],
    ],
  );
  // Equal scores: none is strictly above mean + 0 std; the top 3 in the concepts' order.
  assert.deepEqual(
    selectConcepts(["w", "x", "y", "z"], [2, 2, 2, 2]).map((c) => c.concept),
    ["w", "x", "y"],
  );
  assert.deepEqual(
    selectConcepts(["x", "y"], [0, 1]).map((c) => c.concept),
    ["y", "x"],
  );
  assert.throws(() => selectConcepts(["x"], [Number.NaN]), /concept 'x' has score NaN/);
  assert.throws(() => selectConcepts(["x", "y"], [1]), /1 scores for 2 concepts/);
});
