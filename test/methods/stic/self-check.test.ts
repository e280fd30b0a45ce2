import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createDataset, readRecords } from "../../../src/data/dataset.js";
import type { PreferenceRecord } from "../../../src/data/records.js";
import { worldVocabulary } from "../../../src/eval/world-benches.js";
import { chosenIsSurer, doubtedRate, SelfCheckSchema, writeSelfChecked } from "../../../src/methods/stic/self-check.js";
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

test("SelfCheckSchema: defaults, and a positive threshold, an unknown rule or key is refused", () => {
  assert.deepEqual(SelfCheckSchema.parse({}), { doubt: -0.5, rule: "count", batch: 32 });
  assert.equal(SelfCheckSchema.parse({ rule: "rate" }).rule, "rate");
  assert.throws(() => SelfCheckSchema.parse({ doubt: 0.5 }));
  assert.throws(() => SelfCheckSchema.parse({ rule: "share" }));
  assert.throws(() => SelfCheckSchema.parse({ dout: -1 }));
});

// Two pairs on which the count and rate rules disagree (heart and crescent are doubted):
//   p0 chosen "A heart and a star."  heart, star: 1 doubted of 2 mentions (rate 0.5), shorter;
//      rejected "A heart, a crescent, a star, a square and a circle.": 2 doubted of 5 (rate 0.4).
//      count: 1 < 2, kept; rate: 0.5 > 0.4, dropped.
//   p1 the same two answers the other way round: count 2 > 1, dropped; rate 0.4 < 0.5, kept.
const short = "A heart and a star.";
const long = "A heart, a crescent, a star, a square and a circle.";

test("the count and rate rules on a pair where they disagree (chosen shorter, fewer doubts, higher rate)", async () => {
  const { root, path, records } = await pairsFile([
    [short, long],
    [long, short],
  ]);
  const run = (rule: "count" | "rate") =>
    writeSelfChecked({
      backend: doubting(),
      recordsPath: path,
      out: join(root, `${rule}.jsonl`),
      root,
      table,
      check: SelfCheckSchema.parse({ rule }),
    });
  const count = await run("count");
  assert.deepEqual(readRecords(join(root, "count.jsonl"), "preference", { root }), [records[0]]);
  const rate = await run("rate");
  assert.deepEqual(readRecords(join(root, "rate.jsonl"), "preference", { root }), [records[1]]);
  // Both report doubted mentions per side as counts: (1 + 2) / 2 on each side.
  assert.deepEqual(count.doubted, { chosen: 1.5, rejected: 1.5 });
  assert.deepEqual(rate.doubted, count.doubted);
});

test("chosenIsSurer and doubtedRate by hand; a side without mentions has rate 0 and ties with another", () => {
  const m = (...logprobs: number[]) =>
    logprobs.map((logprob, i) => ({ canonical: "x", start: i, end: i + 1, logprob }));
  const sides = { chosen: m(-1, -0.1), rejected: m(-1, -2, -0.1, -0.1, -0.1) };
  assert.equal(doubtedRate(sides.chosen, -0.5), 0.5);
  assert.equal(doubtedRate(sides.rejected, -0.5), 0.4);
  assert.equal(chosenIsSurer(sides, -0.5), true, "count is the default");
  assert.equal(chosenIsSurer(sides, -0.5, "rate"), false);
  assert.equal(doubtedRate([], -0.5), 0);
  assert.equal(chosenIsSurer({ chosen: [], rejected: m(-0.1) }, -0.5, "rate"), false, "0 against 0: a tie");
  assert.equal(chosenIsSurer({ chosen: [], rejected: m(-1) }, -0.5, "rate"), true);
});
