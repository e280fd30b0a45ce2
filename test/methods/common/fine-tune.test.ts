// fitContext (src/methods/common/fine-tune.ts): records longer than the decoder's context are
// dropped before training, counted by id, instead of stopping the trainer.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { PreferenceRecord, SftRecord } from "../../../src/data/records.js";
import { fitContext } from "../../../src/methods/common/fine-tune.js";
import { encodeChat } from "../../../src/models/chat-template.js";
import { tinyTokenizer } from "../../models/peaked-vlm.js";

const tokenizer = tinyTokenizer();
const provenance = { method: "test", stage: "s", model: "m" };
const question = { role: "user" as const, content: "<image>\nwhat is on the left?" };
const sft = (id: string, answer: string): SftRecord => ({
  kind: "sft",
  id,
  images: ["a.png"],
  messages: [question, { role: "assistant", content: answer }],
  provenance,
});
const pair = (id: string, chosen: string, rejected: string): PreferenceRecord => ({
  kind: "preference",
  id,
  images: ["a.png"],
  prompt: [question],
  chosen,
  rejected,
  provenance,
});
const numImageTokens = 4;
const length = (answer: string) =>
  encodeChat(tokenizer, [question, { role: "assistant", content: answer }], {
    numImageTokens,
    addGenerationPrompt: false,
  }).inputIds.length;
const modelWith = (maxPositions: number) => ({ numImageTokens, config: { decoder: { maxPositions } } });

const short = "a red circle.";
const long = "a red circle, a blue square and two green stars at the top. one small cross below a large diamond.";

test("a record fits when its tokens, image tokens included, are at most maxPositions", () => {
  const limit = length(short);
  assert.ok(length(long) > limit, "the long answer must be longer than the short one");
  // At exactly the short conversation's length it fits; one token less and it does not.
  assert.deepEqual(fitContext([sft("s", short)], tokenizer, modelWith(limit)).tooLong, []);
  assert.deepEqual(fitContext([sft("s", short)], tokenizer, modelWith(limit - 1)).tooLong, ["s"]);
  // The image marker counts as its image tokens: with 4 more of them the same record no longer fits.
  const moreImageTokens = { numImageTokens: numImageTokens + 4, config: { decoder: { maxPositions: limit + 3 } } };
  assert.deepEqual(fitContext([sft("s", short)], tokenizer, moreImageTokens).tooLong, ["s"]);
});

test("long SFT records and pairs with either side too long are dropped; the rest keep their order", () => {
  const records = [
    sft("s1", short),
    sft("s2", long),
    pair("p1", short, short),
    pair("p2", short, long),
    pair("p3", long, short),
  ];
  const { kept, tooLong } = fitContext(records, tokenizer, modelWith(length(short)));
  assert.deepEqual(
    kept.map((r) => r.id),
    ["s1", "p1"],
  );
  assert.deepEqual(tooLong, ["s2", "p2", "p3"]);
});
