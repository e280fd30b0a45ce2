import assert from "node:assert/strict";
import { test } from "node:test";
import { joinContinuation } from "../../../src/methods/common/continuation.js";

test("a continuation joins its prefix with one space, unless the text already has one", () => {
  assert.equal(joinContinuation("there is a large", "blue crescent."), "there is a large blue crescent.");
  assert.equal(joinContinuation("there is a large", " blue crescent. "), "there is a large blue crescent.");
  assert.equal(joinContinuation("a red star", ". a ring"), "a red star. a ring");
  assert.equal(joinContinuation("", "  yes "), "yes");
  assert.equal(joinContinuation("a star", ""), "a star");
  // After a sentence: the embedded tokenizer's continuation (no space) and vLLM's (its own space).
  assert.equal(joinContinuation("a red star.", "in the top"), "a red star. in the top");
  assert.equal(joinContinuation("A red star.", " In the top."), "A red star. In the top.");
});
