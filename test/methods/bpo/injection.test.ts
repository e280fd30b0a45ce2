import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeImage } from "../../../src/images/codec.js";
import {
  cleanRewrite,
  cutAnswer,
  descriptionRewritePrompt,
  injectionPlan,
  QA_EXAMPLES,
  qaRewritePrompt,
  rewritePrompt,
  withoutMarkers,
} from "../../../src/methods/bpo/injection.js";
import { testImage } from "../stic/fake-vlm.js";

// Snapshots: the rewrite prompts are the method's; a change to them must be deliberate.
test("the description-mode rewrite prompt (snapshot)", () => {
  assert.equal(
    descriptionRewritePrompt("A red star."),
    `Here is the description of an image. Change it so that it describes a slightly different image:
add an object or two, remove one, or change what objects look like (their colour, shape, size or
place). Keep the changes ordinary and logical, keep the style and length of the original, and
answer with the changed description only.

Description: A red star.

Changed description:`,
  );
});

test("the QA-mode rewrite prompt: six examples, then the question (snapshot)", () => {
  assert.equal(QA_EXAMPLES.length, 6);
  const prompt = qaRewritePrompt("How many rings?", "2");
  assert.equal(
    prompt,
    `You will see a question about an image and its answer. Imagine a similar but different image, with
more objects, fewer objects, or objects that look different, and write the answer to the same
question for that other image, in the style of the original answer. Examples:
Question: Describe the image. Answer: A man walks his dog along a beach at sunset, and a few boats are out on the water. Other image: A woman rides a bicycle along a beach at sunset, with two dogs running beside her; the water is empty.
Question: What color is the car? Answer: The car is red. Other image: The car is silver.
Question: What animal is lying on the sofa? Answer: A cat is lying on the sofa. Other image: A dog is lying on the sofa.
Question: How many apples are in the bowl? Answer: 4 Other image: 3
Question: What is to the right of the lamp? Answer: A stack of books is to the right of the lamp. Other image: A potted plant is to the right of the lamp.
Question: What does the sign say? Answer: The sign says "Open". Other image: The sign says "Closed".
Now this one:
Question: How many rings? Answer: 2 Other image:`,
  );
  // The question goes in without its image marker; a description positive gets description mode.
  const turn = [{ role: "user" as const, content: "<image>\nHow many rings?" }];
  assert.equal(rewritePrompt("qa", turn, "2"), prompt);
  assert.equal(rewritePrompt("description", turn, "Two rings."), descriptionRewritePrompt("Two rings."));
});

test("a rewrite's label and quotes are stripped", () => {
  assert.equal(cleanRewrite(' Changed description: "A blue star."'), "A blue star.");
  assert.equal(cleanRewrite("Other image: 3"), "3");
  assert.equal(cleanRewrite("A star."), "A star.");
});

test("cutting an answer keeps floor(words · fraction) words, as written", () => {
  const answer = "In the top left there is a large red star.\nIn the middle, a ring.";
  // 15 words: 15 · 0.5 = 7.5 -> 7; 15 · 0.6 = 9; 15 · 0.75 = 11.25 -> 11 (across the newline,
  // which is kept as written).
  assert.deepEqual(cutAnswer(answer, 0.5), { prefix: "In the top left there is a", words: 7 });
  assert.deepEqual(cutAnswer(answer, 0.6), { prefix: "In the top left there is a large red", words: 9 });
  assert.deepEqual(cutAnswer(answer, 0.75), { prefix: "In the top left there is a large red star.\nIn", words: 11 });
  assert.deepEqual(cutAnswer("yes", 0.75), { prefix: "", words: 0 }, "a one-word answer cuts to nothing");
  assert.deepEqual(cutAnswer(answer, 1), { prefix: answer, words: 15 });
  assert.throws(() => cutAnswer(answer, 1.5), /fraction 1.5/);
});

test("prior-continuation withholds the image: no image, no marker, the cut as the answer's start", async () => {
  const image = await testImage(1, 16);
  const item = {
    id: "s1/description/injection",
    image,
    prompt: [{ role: "user" as const, content: "<image>\nDescribe this image in detail." }],
    answer: "A large red star and a small ring.",
    style: "description" as const,
  };
  const options = { cut: { min: 0.5, max: 0.5 }, imageless: "withhold" as const };
  const plan = await injectionPlan(item, "prior-continuation", options, () => 0.3);
  assert.deepEqual(plan.request.images, []);
  assert.deepEqual(plan.request.messages, [{ role: "user", content: "Describe this image in detail." }]);
  // 8 words at 0.5: the first 4.
  assert.equal(plan.request.assistantPrefix, "A large red star");
  assert.deepEqual([plan.prefix, plan.cutWords], ["A large red star", 4]);
  assert.equal(plan.request.id, item.id);

  // The cut share is drawn from [min, max]: min + (max - min) · u = 0.25 + 0.5 · 0.5 = 0.5 here too.
  const drawn = await injectionPlan(
    item,
    "prior-continuation",
    { ...options, cut: { min: 0.25, max: 0.75 } },
    () => 0.5,
  );
  assert.equal(drawn.cutWords, 4);

  const gray = await injectionPlan(item, "prior-continuation", { ...options, imageless: "gray" }, () => 0);
  assert.equal(gray.request.messages[0].content, "<image>\nDescribe this image in detail.");
  const decoded = await decodeImage(gray.request.images[0].bytes);
  assert.deepEqual([decoded.width, decoded.height], [16, 16]);
  assert.ok(
    decoded.data.every((v) => v === 128),
    "a uniform grey image of the positive's size",
  );

  const rewrite = await injectionPlan(item, "rewrite", options, () => 0);
  assert.deepEqual(rewrite.request.images, [], "text only");
  assert.equal(rewrite.request.messages[0].content, descriptionRewritePrompt(item.answer));
  assert.equal(rewrite.request.assistantPrefix, undefined);
});

test("markers are removed from every turn", () => {
  assert.deepEqual(
    withoutMarkers([
      { role: "user", content: "<image>\nWhat is it?" },
      { role: "assistant", content: "A star." },
      { role: "user", content: "And <image> here?" },
    ]),
    [
      { role: "user", content: "What is it?" },
      { role: "assistant", content: "A star." },
      { role: "user", content: "And here?" },
    ],
  );
});
