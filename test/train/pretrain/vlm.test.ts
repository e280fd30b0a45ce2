import assert from "node:assert/strict";
import { test } from "node:test";
import { lengthGroupedBatches } from "../../../src/train/pretrain/vlm.js";

test("lengthGroupedBatches: every item once, batches of similar length", () => {
  const items = Array.from({ length: 103 }, (_, i) => ({ i, len: (i * 37) % 50 }));
  const batches = lengthGroupedBatches(items, (x) => x.len, 8, 0, 4);
  assert.deepEqual(
    batches
      .flat()
      .map((x) => x.i)
      .sort((a, b) => a - b),
    items.map((x) => x.i),
  );
  assert.ok(
    batches.every((b) => b.length <= 8),
    "batch size",
  );
  // Within a megabatch (4 batches) lengths descend across batches.
  for (let m = 0; m < batches.length; m += 4) {
    const mega = batches.slice(m, m + 4).flat();
    for (let k = 1; k < mega.length; k++) assert.ok(mega[k - 1].len >= mega[k].len, "sorted");
  }
  assert.deepEqual(
    lengthGroupedBatches(items, (x) => x.len, 8, 0, 4),
    batches,
    "deterministic",
  );
});
