import assert from "node:assert/strict";
import { test } from "node:test";
import {
  contentSimilarity,
  contentWords,
  judgeNegative,
  MAX_WORDS,
  normalizeText,
  wordCount,
  wordEditDistance,
} from "../../../src/methods/bpo/filters.js";

const stop = (text: string) => ({ text, finishReason: "stop" as const });
const words = (n: number, w = "star") => Array.from({ length: n }, () => w).join(" ");

test("word counts split on whitespace, as the paper's len(text.split())", () => {
  assert.equal(wordCount(""), 0);
  assert.equal(wordCount("  a red\nstar,  and\ta ring. "), 6);
  assert.equal(MAX_WORDS, 350);
});

test("answers over 350 words are dropped; 350 exactly is kept", () => {
  const positive = "A red star in the middle.";
  assert.equal(judgeNegative(positive, stop(words(350))), null);
  assert.equal(judgeNegative(positive, stop(words(351))), "negative-too-long");
  assert.equal(
    judgeNegative(positive, stop(words(12)), { maxWords: 10, nearDuplicate: 1, dropTruncated: true }),
    "negative-too-long",
  );
});

test("identical after normalization: case, punctuation and spacing do not count", () => {
  assert.equal(normalizeText("  A red STAR, in the middle!\n"), "a red star in the middle");
  assert.equal(judgeNegative("A red star, in the middle.", stop("a red star in   the middle")), "identical");
});

test("near-duplicate: the same content words in order; a changed object or colour is a real negative", () => {
  const positive = "There is a large red star in the top left corner.";
  // Only function words differ ("There is a" / "the"): the content words are the same.
  assert.deepEqual(contentWords(positive), ["large", "red", "star", "in", "top", "left", "corner"]);
  assert.equal(judgeNegative(positive, stop("A large red star is in top left corner.")), "near-duplicate");
  // One colour changed: similarity 1 - 1/7 = 0.857, below the default threshold of 1: kept.
  const swapped = "There is a large blue star in the top left corner.";
  assert.equal(contentSimilarity(positive, swapped), 1 - 1 / 7);
  assert.equal(judgeNegative(positive, stop(swapped)), null);
  // A threshold of 0.85 makes that small edit a near-duplicate too.
  assert.equal(
    judgeNegative(positive, stop(swapped), { maxWords: 350, nearDuplicate: 0.85, dropTruncated: true }),
    "near-duplicate",
  );
  assert.equal(contentSimilarity("the a", "is"), 1, "two texts without content words");
});

test("word edit distance by hand", () => {
  assert.equal(wordEditDistance(["a", "b", "c"], ["a", "c"]), 1);
  assert.equal(wordEditDistance(["a", "b"], ["b", "a"]), 2);
  assert.equal(wordEditDistance([], ["x", "y"]), 2);
  assert.equal(wordEditDistance(["red", "star", "left"], ["blue", "star", "right", "up"]), 3);
});

test("empty and truncated negatives are dropped (truncated only when asked)", () => {
  assert.equal(judgeNegative("A star.", stop("   ")), "empty-negative");
  const cut = { text: "A ring and", finishReason: "length" as const };
  assert.equal(judgeNegative("A star.", cut), "negative-truncated");
  assert.equal(judgeNegative("A star.", cut, { maxWords: 350, nearDuplicate: 1, dropTruncated: false }), null);
});
