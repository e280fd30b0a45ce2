import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createDataset, readRecords } from "../../../src/data/dataset.js";
import type { PreferenceRecord } from "../../../src/data/records.js";
import { chosenHallucinatesLess, PairScorer, readPoolTruth } from "../../../src/eval/pair-hallucination.js";
import { worldVocabulary } from "../../../src/eval/world-benches.js";
import { writeOracleFiltered } from "../../../src/methods/stic/oracle-filter.js";
import { parseWorldConfig } from "../../../src/world/config.js";
import { cleanup, png, preferenceRecord, tempDir } from "../../data/fixtures.js";

after(cleanup);
const config = parseWorldConfig({});
const scorer = new PairScorer(worldVocabulary().objects, config.priors.pairs);

test("PairScorer: absent mentions, repeats kept, and the prior's partners of a present anchor", () => {
  // The image holds a star (the anchor of crescent) and a circle.
  const objects = ["star", "circle"];
  const s = scorer.pair(
    "a red star next to a blue circle.",
    "a star, a crescent, a square and another crescent.",
    objects,
  );
  assert.deepEqual(s.chosen.verdict.hallucinated, []);
  assert.deepEqual(s.rejected.verdict.hallucinated, ["crescent", "square", "crescent"]);
  assert.equal(s.rejected.priorDriven, 2, "both crescents are the star's partner");
  assert.equal(s.chosen.words, 8);
  assert.equal(chosenHallucinatesLess(s), true);
  // A partner whose anchor is absent is not prior-driven; a tie is not "less".
  const t = scorer.pair("a diamond.", "a square.", ["circle"]);
  assert.equal(t.chosen.priorDriven, 0);
  assert.equal(chosenHallucinatesLess(t), false);
});

function world(lines: string[]): string {
  const dir = tempDir("oracle-world");
  writeFileSync(join(dir, "pool-truth.jsonl"), `${lines.join("\n")}\n`);
  return dir;
}

test("readPoolTruth: scene objects by id (no repeats), creatures skipped, bad lines named", () => {
  const dir = world([
    JSON.stringify({ id: "pool-s1", kind: "scene", objects: ["star", "star", "circle"] }),
    JSON.stringify({ id: "pool-c1", kind: "creature", species: "kelpa" }),
  ]);
  assert.deepEqual([...readPoolTruth(dir)], [["pool-s1", ["star", "circle"]]]);
  const bad = world([JSON.stringify({ id: "pool-s1", kind: "scene", objects: [] }), "{oops"]);
  assert.throws(() => readPoolTruth(bad), /pool-truth\.jsonl line 2: not JSON/);
  assert.throws(() => readPoolTruth(tempDir("empty")), /pool-truth\.jsonl not found; build it with: .* --split pool/);
});

test("writeOracleFiltered keeps exactly the pairs whose chosen side hallucinates less, unchanged", async () => {
  const dir = world([
    JSON.stringify({ id: "pool-s1", kind: "scene", objects: ["star"] }),
    JSON.stringify({ id: "pool-s2", kind: "scene", objects: ["square"] }),
  ]);
  const root = tempDir("oracle-data");
  const image = await createDataset(root).put(await png(), "image/png");
  const pair = (id: string, source: string, chosen: string, rejected: string): PreferenceRecord => ({
    ...preferenceRecord(id, image),
    chosen,
    rejected,
    provenance: { method: "stic", stage: "s", model: "m", source },
  });
  const records = [
    pair("a", "pool-s1", "a star.", "a star and a crescent."), // kept
    pair("b", "pool-s2", "a square and a heart.", "a square."), // chosen worse
    pair("c", "pool-s2", "a square.", "a square."), // tie
    pair("d", "pool-c9", "a kelpa.", "a star."), // no object truth
  ];
  const inPath = join(root, "pairs.jsonl");
  writeFileSync(inPath, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  const out = join(root, "pairs-oracle.jsonl");
  const result = writeOracleFiltered(inPath, out, root, { dir, config });
  assert.deepEqual(result, { pairs: 4, kept: 1, dropped: { "no-object-truth": 1, "chosen-not-better": 2 } });
  assert.deepEqual(readRecords(out, "preference", { root }), [records[0]]);
  // Nothing kept: an error naming the file, and no output written.
  const none = join(root, "none.jsonl");
  writeFileSync(inPath, `${JSON.stringify(records[1])}\n`);
  assert.throws(
    () => writeOracleFiltered(inPath, none, root, { dir, config }),
    /none of the 1 pairs of .*pairs\.jsonl/,
  );
  assert.throws(() => readFileSync(none));
});
