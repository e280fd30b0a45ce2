import assert from "node:assert/strict";
import { test } from "node:test";
import { bestAgainstWorst, chosenAgainstEach } from "../../../src/methods/common/pairs.js";

test("chosenAgainstEach: the chosen answer against each rejected one, in order", () => {
  const key = (s: string) => s.trim().toLowerCase();
  const { pairs, dropped } = chosenAgainstEach("A cat.", ["A dog.", " a cat. ", "Two cats.", "a dog.", "A cow."], key);
  assert.deepEqual(pairs, [
    { chosen: "A cat.", rejected: "A dog." },
    { chosen: "A cat.", rejected: "Two cats." },
    { chosen: "A cat.", rejected: "A cow." },
  ]);
  // " a cat. " is the chosen answer again; "a dog." repeats "A dog." under the key.
  assert.deepEqual(dropped, { "same-as-chosen": 1, duplicate: 1 });
  assert.deepEqual(chosenAgainstEach("x", [], key), { pairs: [], dropped: { "same-as-chosen": 0, duplicate: 0 } });
});

test("bestAgainstWorst: highest score chosen, lowest rejected, with their scores", () => {
  const c = (text: string, score: number) => ({ text, score });
  const pair = bestAgainstWorst([c("a", 0.2), c("b", 0.9), c("c", -1.5), c("d", 0.5)], (x) => x.score);
  assert.deepEqual(pair, { chosen: c("b", 0.9), rejected: c("c", -1.5), scores: { chosen: 0.9, rejected: -1.5 } });
  // Two candidates, the better one second.
  assert.deepEqual(
    bestAgainstWorst([c("low", 1), c("high", 2)], (x) => x.score),
    {
      chosen: c("high", 2),
      rejected: c("low", 1),
      scores: { chosen: 2, rejected: 1 },
    },
  );
});

test("bestAgainstWorst: ties as a stable sort best first: the first of the best, the last of the worst", () => {
  const c = (text: string, score: number) => ({ text, score });
  const candidates = [c("a", 0), c("b", 3), c("c", -2), c("d", 3), c("e", -2), c("f", 1)];
  const pair = bestAgainstWorst(candidates, (x) => x.score);
  assert.ok(typeof pair !== "string");
  assert.equal(pair.chosen.text, "b");
  assert.equal(pair.rejected.text, "e");
  // The same candidates reversed: the rule still picks by input order.
  const reversed = bestAgainstWorst([...candidates].reverse(), (x) => x.score);
  assert.ok(typeof reversed !== "string");
  assert.equal(reversed.chosen.text, "d");
  assert.equal(reversed.rejected.text, "c");
});

test("bestAgainstWorst: no pair from fewer than two candidates or equal scores; a score that is no number is an error", () => {
  const id = (x: number) => x;
  assert.equal(bestAgainstWorst([], id), "too-few-candidates");
  assert.equal(bestAgainstWorst([7], id), "too-few-candidates");
  assert.equal(bestAgainstWorst([0.5, 0.5, 0.5], id), "no-score-gap");
  assert.throws(() => bestAgainstWorst([1, Number.NaN, 0], id), /candidate 1 has score NaN/);
  assert.throws(() => bestAgainstWorst([1, 0, Number.POSITIVE_INFINITY], id), /candidate 2 has score Infinity/);
});
