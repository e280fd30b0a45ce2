import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createDataset, readRecords } from "../../../src/data/dataset.js";
import type { PreferenceRecord } from "../../../src/data/records.js";
import { worldVocabulary } from "../../../src/eval/world-benches.js";
import { SelfCheckSchema, writeSelfChecked } from "../../../src/methods/stic/self-check.js";
import { cleanup, png, preferenceRecord, tempDir } from "../../data/fixtures.js";
import { WordScorer } from "../common/word-scorer.js";

after(cleanup);
const table = worldVocabulary().objects;
// The model doubts crescents (p = e^-2) and hearts (e^-1); every other word gets -0.1.
const doubting = () => new WordScorer({ crescent: -2, heart: -1 }, { pieces: true });

async function pairsFile(pairs: [string, string][]) {
  const root = tempDir("self-check");
  const image = await createDataset(root).put(await png(), "image/png");
  const records = pairs.map(
    ([chosen, rejected], i): PreferenceRecord => ({ ...preferenceRecord(`p${i}`, image), chosen, rejected }),
  );
  const path = join(root, "pairs.jsonl");
  writeFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return { root, path, records };
}

test("writeSelfChecked keeps exactly the pairs whose chosen side names fewer doubted objects", async () => {
  const { root, path, records } = await pairsFile([
    ["a star.", "a star and a crescent."], // 0 vs 1 doubted: kept
    ["a square and a heart.", "a square."], // 1 vs 0: dropped
    ["a crescent.", "a crescent."], // tie: dropped
    ["a kelpa.", "a sleek kelpa."], // no objects on either side: tie, dropped
    ["a heart.", "a heart and a crescent."], // 1 vs 2: kept
  ]);
  const out = join(root, "pairs-self-checked.jsonl");
  const progress: number[] = [];
  const result = await writeSelfChecked({
    backend: doubting(),
    recordsPath: path,
    out,
    root,
    table,
    check: SelfCheckSchema.parse({ batch: 2 }),
    onProgress: (done) => progress.push(done),
  });
  assert.deepEqual(result, {
    pairs: 5,
    kept: 2,
    dropped: { "chosen-not-surer": 3 },
    doubted: { chosen: (0 + 1 + 1 + 0 + 1) / 5, rejected: (1 + 0 + 1 + 0 + 2) / 5 },
  });
  assert.deepEqual(readRecords(out, "preference", { root }), [records[0], records[4]]);
  assert.deepEqual(progress, [2, 4, 5]);
});

test("writeSelfChecked: the doubt threshold decides which mentions count", async () => {
  const { root, path } = await pairsFile([["a star.", "a heart."]]);
  const out = join(root, "kept.jsonl");
  const run = (doubt: number) =>
    writeSelfChecked({
      backend: doubting(),
      recordsPath: path,
      out,
      root,
      table,
      check: SelfCheckSchema.parse({ doubt }),
    });
  assert.equal((await run(-0.5)).kept, 1, "heart (-1) is doubted at -0.5");
  // At -1.5 the heart is not doubted either: a tie, nothing kept, an error and no file.
  const none = join(root, "none.jsonl");
  await assert.rejects(
    writeSelfChecked({
      backend: doubting(),
      recordsPath: path,
      out: none,
      root,
      table,
      check: SelfCheckSchema.parse({ doubt: -1.5 }),
    }),
    /none of the 1 pairs of .*pairs\.jsonl has a chosen side with fewer doubted objects \(doubt -1\.5\)/,
  );
  assert.throws(() => readFileSync(none));
});

test("SelfCheckSchema: defaults, and a positive threshold or unknown key is refused", () => {
  assert.deepEqual(SelfCheckSchema.parse({}), { doubt: -0.5, batch: 32 });
  assert.throws(() => SelfCheckSchema.parse({ doubt: 0.5 }));
  assert.throws(() => SelfCheckSchema.parse({ dout: -1 }));
});
