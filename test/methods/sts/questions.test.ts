// STS's questions: the synthesis prompt carries the label and concepts, the record keeps the bare
// question; an answer is kept only if it names the label; the world's writer.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  bareQuestion,
  fallbackAnswer,
  namesLabel,
  QUESTIONS,
  questionFor,
  synthesisPrompt,
  writeAnswer,
} from "../../../src/methods/sts/questions.js";

test("the synthesis prompt (snapshot) and its bare question: label and concepts stripped", () => {
  const prompt = synthesisPrompt("arbel", ["a round body", "a fan tail"], "What is this creature and why?");
  assert.equal(
    prompt,
    "<image>\nThis is a picture of an arbel with the following visual features:\n- a round body\n- a fan tail\nAnswer the question: What is this creature and why?",
  );
  const bare = bareQuestion(prompt);
  assert.equal(bare, "<image>\nWhat is this creature and why?");
  assert.ok(!bare.includes("arbel") && !bare.includes("fan tail"));
  // A multi-line question survives; a prompt that is not a synthesis prompt is an error.
  assert.equal(bareQuestion(synthesisPrompt("bosk", [], "Line one.\nLine two?")), "<image>\nLine one.\nLine two?");
  assert.throws(() => bareQuestion("<image>\nWhat is this?"), /not a synthesis prompt/);
});

test("an answer names the label as a whole word, any case and punctuation", () => {
  assert.equal(namesLabel("This is a Corla.", "corla"), true);
  assert.equal(namesLabel("corla", "corla"), true);
  assert.equal(namesLabel("It is a black-footed albatross!", "Black-footed Albatross"), true);
  assert.equal(namesLabel("These are corlas.", "corla"), false);
  assert.equal(namesLabel("A scorla, maybe.", "corla"), false);
  assert.equal(namesLabel("It has a fan tail.", "arbel"), false);
  assert.equal(namesLabel("anything", "  "), false);
});

test("the world's writer: three answer types from the label and concepts, each naming the label", () => {
  const concepts = ["a round body", "a red body", "a fan tail"];
  assert.equal(writeAnswer("simple", "arbel", concepts), "This is an arbel.");
  assert.equal(
    writeAnswer("explain", "bosk", concepts),
    "This is a bosk, because it has a round body, a red body and a fan tail.",
  );
  assert.equal(
    writeAnswer("cot", "bosk", concepts),
    "It has a round body, a red body and a fan tail. These features show that this is a bosk.",
  );
  assert.equal(fallbackAnswer("bosk"), "This is an image of bosk.");
  // Questions are drawn per item, the same on every call.
  const q = questionFor("cot", "pool-c000001", 3);
  assert.ok(QUESTIONS.cot.includes(q));
  assert.equal(questionFor("cot", "pool-c000001", 3), q);
});
