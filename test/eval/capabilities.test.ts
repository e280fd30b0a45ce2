import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type CapabilityItem,
  type CapabilityTruth,
  type CapabilityVerdict,
  capabilitiesBench,
  capabilityFromCounts,
  capabilityItemCounts,
  normalizeShortAnswer,
} from "../../src/eval/capabilities.js";
import { SynonymTable } from "../../src/eval/text.js";
import { type EvalRecord, sumCounts } from "../../src/eval/types.js";
import { evalRecord } from "./eval-record.js";

const table = SynonymTable.parse(`
gray, grey
square, box
top left, upper left
`);

test("short answers normalize case, punctuation, articles, numbers and synonyms", () => {
  const cases: [string, string][] = [
    ["Three.", "3"],
    ["3", "3"],
    ["The circle.", "circle"],
    ["An Oval!", "oval"],
    ["grey", "gray"],
    ["Boxes", "square"], // plural of a synonym → canonical
    ["upper-left", "top left"], // hyphen as a space, then the two-word synonym
    ["It's red", "its red"],
    ["  yes  ", "yes"],
    ["none", "none"], // not read as 0
    ["two boxes", "2 square"],
  ];
  for (const [raw, expected] of cases) assert.equal(normalizeShortAnswer(raw, table), expected, raw);
  // Without a table only the generic steps apply.
  assert.equal(normalizeShortAnswer("The Grey Boxes.", undefined), "grey boxes");
});

test("capability accuracy overall, by capability and by k on hand-checked items", () => {
  const bench = capabilitiesBench(table);
  const image = { bytes: new Uint8Array(), mimeType: "image/png" as const };
  // [answer given, true answer, capabilities, k, correct?]
  const rows: [string, string, string[], number][] = [
    ["Grey.", "gray", ["color"], 1], // correct (synonym)
    ["four", "3", ["counting"], 1], // wrong
    ["Two", "2", ["color", "counting"], 2], // correct (number word)
    ["the top right", "top left", ["color", "shape", "spatial recognition"], 3], // wrong
    ["a box", "square", ["shape", "color"], 2], // correct
  ];
  const records: EvalRecord<string, CapabilityTruth, CapabilityVerdict>[] = rows.map(
    ([raw, answer, capabilities, k], i) => {
      const item: CapabilityItem = { id: `${i}`, imageId: `${i}`, image, question: "q?", answer, capabilities, k };
      return evalRecord(bench, item.id, raw, bench.groundTruth(item));
    },
  );
  assert.deepEqual(
    records.map((r) => r.verdict.correct),
    [true, false, true, false, true],
  );
  // By hand: 3 of 5 right. color: items 1,3,4,5 → 3/4. counting: items 2,3 → 1/2. shape: items
  // 4,5 → 1/2. spatial recognition: item 4 → 0/1. k=1: items 1,2 → 1/2; k=2: items 3,5 → 2/2;
  // k=3: item 4 → 0/1.
  assert.deepEqual(bench.metrics(records), {
    accuracy: 0.6,
    // The k cells from counts (what the bootstrap resamples): the by_k table's values; no k >= 4 item.
    accuracy_k1: 0.5,
    accuracy_k2: 1,
    accuracy_k3: 0,
    accuracy_k4plus: Number.NaN,
    by_capability: {
      color: { accuracy: 0.75, n: 4 },
      counting: { accuracy: 0.5, n: 2 },
      shape: { accuracy: 0.5, n: 2 },
      "spatial recognition": { accuracy: 0, n: 1 },
    },
    by_k: { "1": { accuracy: 0.5, n: 2 }, "2": { accuracy: 1, n: 2 }, "3": { accuracy: 0, n: 1 } },
  });
  // The top-level metrics from summed per-item counts (what the bootstrap resamples).
  const totals = {
    questions: 5,
    correct: 3,
    questions_k1: 2,
    correct_k1: 1,
    questions_k2: 2,
    correct_k2: 2,
    questions_k3: 1,
    correct_k3: 0,
    questions_k4plus: 0,
    correct_k4plus: 0,
  };
  assert.deepEqual(sumCounts(records.map((r) => bench.itemCounts(r))), totals);
  assert.deepEqual(bench.fromCounts(totals), {
    accuracy: 0.6,
    accuracy_k1: 0.5,
    accuracy_k2: 1,
    accuracy_k3: 0,
    accuracy_k4plus: Number.NaN,
  });
});

test("every record gives the same count names; k of 4 and more share the last cell", () => {
  assert.deepEqual(capabilityItemCounts(true, 4), capabilityItemCounts(true, 6));
  assert.deepEqual(capabilityItemCounts(false, 2), {
    questions: 1,
    correct: 0,
    questions_k1: 0,
    correct_k1: 0,
    questions_k2: 1,
    correct_k2: 0,
    questions_k3: 0,
    correct_k3: 0,
    questions_k4plus: 0,
    correct_k4plus: 0,
  });
  const names = (k: number) => Object.keys(capabilityItemCounts(k % 2 === 0, k)).sort();
  for (const k of [1, 2, 3, 4, 5]) assert.deepEqual(names(k), names(1));
  // A k-4 question right and a k-1 question wrong: 1 of 2 overall, 1/1 at k >= 4, 0/1 at k = 1.
  const m = capabilityFromCounts(sumCounts([capabilityItemCounts(true, 4), capabilityItemCounts(false, 1)]));
  assert.deepEqual(m, {
    accuracy: 0.5,
    accuracy_k1: 0,
    accuracy_k2: Number.NaN,
    accuracy_k3: Number.NaN,
    accuracy_k4plus: 1,
  });
});

test("alternatives are accepted answers", () => {
  const bench = capabilitiesBench(table);
  const truth = bench.groundTruth({
    id: "a",
    imageId: "a",
    image: { bytes: new Uint8Array(), mimeType: "image/png" },
    question: "Where is the star?",
    answer: "top left",
    alternatives: ["top-left corner"],
    capabilities: ["spatial recognition"],
    k: 1,
  });
  assert.deepEqual(truth.accepted, ["top left", "top left corner"]);
  assert.equal(bench.verdict(bench.parse("Upper left corner.", truth), truth).correct, true);
});
