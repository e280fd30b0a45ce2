import assert from "node:assert/strict";
import { test } from "node:test";
import { Tokenizer } from "../../../src/models/tokenizer.js";
import { clipCollate } from "../../../src/train/pretrain/scorer.js";

test("clipCollate drops repeated captions from a batch", () => {
  const tokenizer = Tokenizer.build(["a red star", "a blue ring"]);
  const image = new Uint8Array(3 * 4 * 4).fill(255);
  const batch = clipCollate(
    [
      { image, text: "A red star" },
      { image, text: "a blue ring" },
      { image, text: "a  red star " },
    ],
    tokenizer,
    4,
    16,
  );
  assert.equal(batch.pairs, 2);
  assert.equal(batch.duplicates, 1);
  assert.deepEqual(batch.pixels.shape, [2, 3, 4, 4]);
  assert.equal(batch.pixels.toArray()[0], 1);
  assert.deepEqual(batch.ids.shape[0], 2);
  for (const t of [batch.pixels, batch.ids, batch.mask]) t.dispose();
});
