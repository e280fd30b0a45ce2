// COMPACT's filters (src/methods/compact/filters.ts), each with a case it drops and one it keeps,
// and the word-overlap formula on hand-computed pairs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { isUninformative, questionWords, screenQuestion, wordOverlap } from "../../../src/methods/compact/filters.js";

const options = { minConfidence: 70, duplicateOverlap: 0.6 };
const q = (question: string, answer = "blue", confidence = 95) => ({ question, answer, confidence });

test("uninformative answers: the paper's list and the released code's additions, any case, end punctuation", () => {
  for (const a of ["none", "Unknown", " not visible. ", "N/A", "not applicable", "Unclear!", "unavailable", ""])
    assert.equal(isUninformative(a), true, JSON.stringify(a));
  for (const a of ["no", "blue", "3", "none of them", "nothing else", "n/a blue"])
    assert.equal(isUninformative(a), false, JSON.stringify(a));
});

test("word sets: lower-cased, punctuation stripped from word ends", () => {
  assert.deepEqual([...questionWords("What color is the STAR?")], ["what", "color", "is", "the", "star"]);
  assert.deepEqual([...questionWords("  Is it red-orange ?  ")], ["is", "it", "red-orange"]);
});

test("overlap |A ∩ B| / min(|A|, |B|) on hand-computed pairs", () => {
  // A = {what, color, is, the, star} (5), B = {what, shape, is, the, red, star} (6):
  // A ∩ B = {what, is, the, star} (4); min = 5; 4 / 5 = 0.8.
  assert.equal(wordOverlap("What color is the star?", "What shape is the red star?"), 0.8);
  // A = {how, many, circles, are, there} (5), B = {is, the, circle, left, of, star} (6): none shared.
  assert.equal(wordOverlap("How many circles are there?", "Is the circle left of the star?"), 0);
  // A = {a, b, c, d, e} (5), B = {a, b, c, x, y, z} (6): 3 / 5 = 0.6 exactly.
  assert.equal(wordOverlap("a b c d e", "a b c x y z"), 0.6);
  // A repeated word counts once: {is, the, star} vs {the, star}: 2 / 2 = 1.
  assert.equal(wordOverlap("Is the the star", "the star"), 1);
  assert.equal(wordOverlap("", "the star"), 0);
});

test("each filter drops one case and keeps another", () => {
  const kept = ["What color is the star?"];
  // Uninformative answer.
  assert.equal(screenQuestion(q("How many hearts?", "unknown"), kept, options), "uninformative-answer");
  assert.equal(screenQuestion(q("How many hearts?", "2"), kept, options), null);
  // Confidence below 70 (70 itself passes).
  assert.equal(screenQuestion(q("How many hearts?", "2", 69), kept, options), "low-confidence");
  assert.equal(screenQuestion(q("How many hearts?", "2", 70), kept, options), null);
  assert.equal(screenQuestion(q("How many hearts?", "2", Number.NaN), kept, options), "low-confidence");
  // Near-duplicate: 0.8 > 0.6 with the kept question; 0.6 itself is not above the threshold.
  assert.equal(screenQuestion(q("What shape is the red star?"), kept, options), "near-duplicate");
  assert.equal(screenQuestion(q("a b c x y z"), ["a b c d e"], options), null);
  assert.equal(screenQuestion(q("a b c d x y"), ["a b c d e"], options), "near-duplicate"); // 4 / 5
  // Nothing kept yet: no duplicate.
  assert.equal(screenQuestion(q("What shape is the red star?"), [], options), null);
});

test("filters apply in the released code's order: answer, confidence, duplicate", () => {
  const kept = ["What color is the star?"];
  assert.equal(screenQuestion(q("What color is the star?", "none", 10), kept, options), "uninformative-answer");
  assert.equal(screenQuestion(q("What color is the star?", "red", 10), kept, options), "low-confidence");
  // The option values matter: a stricter overlap threshold drops what 0.6 keeps.
  assert.equal(
    screenQuestion(q("a b c x y z"), ["a b c d e"], { ...options, duplicateOverlap: 0.5 }),
    "near-duplicate",
  );
  assert.equal(screenQuestion(q("x", "2", 85), [], { ...options, minConfidence: 90 }), "low-confidence");
});
