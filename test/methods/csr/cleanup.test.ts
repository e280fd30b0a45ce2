// CSR's cleanups of candidate sentences, one hand-made case per rule and the edges of each.
import assert from "node:assert/strict";
import { test } from "node:test";
import { sentenceDefect } from "../../../src/methods/csr/cleanup.js";

test("fluent sentences stay", () => {
  assert.equal(sentenceDefect("there is a red circle at the top left."), null);
  assert.equal(sentenceDefect("a b c."), null); // 6 characters: at least 4
});

test("short: fewer than 4 characters once odd characters are removed", () => {
  assert.equal(sentenceDefect("no."), "short");
  assert.equal(sentenceDefect("ab\u2022\u2022\u2022"), "short"); // bullets are removed: "ab"
});

test("repetition: a word 6 times in a row, a character 11 times", () => {
  assert.equal(sentenceDefect("red red red red red red circle."), "repetition");
  assert.equal(sentenceDefect("red red red red red circle."), null); // 5 times: kept
  assert.equal(sentenceDefect("a . . . . . . . . . . . end"), "repetition"); // 11 dots with spaces
  assert.equal(sentenceDefect("a . . . . . . . . . . end"), null); // 10
});

test("scripts and newlines", () => {
  assert.equal(sentenceDefect("a red \u043a\u0440\u0443\u0433 circle."), "script"); // Cyrillic
  assert.equal(sentenceDefect("a red circle \u{1F600}."), "script");
  assert.equal(sentenceDefect("a\n\n\n\n\n\nb circle."), "newlines"); // 6 line breaks
  assert.equal(sentenceDefect("a\n\n\n\n\nb circle."), null); // 5
});
