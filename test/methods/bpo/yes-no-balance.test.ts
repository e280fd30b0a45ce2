import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createDataset, readRecords } from "../../../src/data/dataset.js";
import {
  type BalancePair,
  balanceVerdicts,
  generatorOf,
  writeYesNoBalanced,
  yesNoOf,
} from "../../../src/methods/bpo/yes-no-balance.js";
import { cleanup, png, preferenceRecord, tempDir } from "../../data/fixtures.js";

after(cleanup);

test("yesNoOf reads the first word only", () => {
  assert.equal(yesNoOf("Yes."), "yes");
  assert.equal(yesNoOf("no, there is no star."), "no");
  assert.equal(yesNoOf("  NO"), "no");
  assert.equal(yesNoOf("yesterday it rained"), null);
  assert.equal(yesNoOf("There is no star."), null);
  assert.equal(yesNoOf(""), null);
});

test("generatorOf takes the negative's generator from provenance", () => {
  assert.equal(generatorOf(["positive:qa", "negative:weakening:noisy", "type:x"]), "weakening");
  assert.equal(generatorOf(["positive:qa"]), "unknown");
  assert.equal(generatorOf(undefined), "unknown");
});

const pair = (chosen: string, rejected: string, generator: string): BalancePair => ({ chosen, rejected, generator });

test("balanceVerdicts keeps per generator as many yes-over-no flips as no-over-yes, and every other pair", () => {
  const pairs = [
    pair("Yes.", "No.", "injection"), // 0 yes over no
    pair("yes", "no", "injection"), // 1 yes over no
    pair("Yes", "no.", "injection"), // 2 yes over no
    pair("No.", "Yes.", "injection"), // 3 no over yes: the minority, kept
    pair("Yes.", "Yes, there is.", "injection"), // 4 not a flip
    pair("A red star.", "A blue star.", "injection"), // 5 not yes/no
    pair("No.", "Yes.", "weakening"), // 6 no over yes
    pair("No.", "Yes.", "weakening"), // 7 no over yes
    pair("Yes.", "A cat.", "weakening"), // 8 not a flip
  ];
  for (const seed of [0, 1, 2, 3]) {
    const verdicts = balanceVerdicts(pairs, seed);
    // injection: 3 yes-over-no against 1 no-over-yes: two of 0-2 dropped, one kept.
    const droppedInjection = [0, 1, 2].filter((i) => verdicts[i] !== null);
    assert.equal(droppedInjection.length, 2, `seed ${seed}`);
    assert.ok(droppedInjection.every((i) => verdicts[i] === "yes-no-imbalance"));
    // weakening: 2 no-over-yes against none the other way: both dropped.
    assert.deepEqual([verdicts[6], verdicts[7]], ["yes-no-imbalance", "yes-no-imbalance"]);
    for (const i of [3, 4, 5, 8]) assert.equal(verdicts[i], null, `pair ${i}, seed ${seed}`);
    // The same seed draws the same subset.
    assert.deepEqual(balanceVerdicts(pairs, seed), verdicts);
  }
  // The kept yes-over-no pair is a seeded draw: over several seeds more than one of them is kept.
  const keptIndex = new Set(
    [0, 1, 2, 3, 4, 5, 6, 7].map((seed) => [0, 1, 2].find((i) => balanceVerdicts(pairs, seed)[i] === null)),
  );
  assert.ok(keptIndex.size > 1, `always pair ${[...keptIndex]}`);
});

test("writeYesNoBalanced writes the kept pairs of a dataset and counts the drops", async () => {
  const root = tempDir("balance");
  const image = await createDataset(root).put(await png(), "image/png");
  const make = (id: string, chosen: string, rejected: string) => ({
    ...preferenceRecord(id, image),
    chosen,
    rejected,
    provenance: { method: "bpo", stage: "bpo", model: "tiny", reasons: ["negative:injection:prior-continuation"] },
  });
  const records = [make("a", "Yes.", "No."), make("b", "Yes.", "No."), make("c", "A star.", "A heart.")];
  const path = join(root, "pairs.jsonl");
  writeFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  const out = join(root, "pairs-balanced.jsonl");
  const result = writeYesNoBalanced(path, out, root, 7);
  assert.deepEqual(result, { records: 3, kept: 1, dropped: { "yes-no-imbalance": 2 } });
  assert.deepEqual(readRecords(out, "preference", { root }), [records[2]]);
});
