import assert from "node:assert/strict";
import { test } from "node:test";
import {
  parseSpeciesAnswer,
  type SpeciesItem,
  type SpeciesParsed,
  type SpeciesTruth,
  type SpeciesVerdict,
  speciesBench,
  speciesVocabulary,
} from "../../src/eval/species.js";
import { type EvalRecord, sumCounts } from "../../src/eval/types.js";
import { evalRecord } from "./eval-record.js";

const vocab = speciesVocabulary(
  [["crested glider", "glider"], "spotted hopper", "striped crawler", "crest finch"],
  [["forked tail", "split tail"], ["crest", "head crest"], "striped body", "round head", "long wings"],
);

test("species parser: first species named, synonyms, features outside species names", () => {
  assert.deepEqual(parseSpeciesAnswer("It looks like a Spotted Hopper, not a striped crawler.", vocab), {
    species: "spotted hopper",
    features: [],
  });
  // "crest" inside the species name "crest finch" is not a named feature; the second is.
  assert.deepEqual(parseSpeciesAnswer("A crest finch: note the head crest and split tails.", vocab), {
    species: "crest finch",
    features: ["crest", "forked tail"],
  });
  assert.deepEqual(parseSpeciesAnswer("I cannot tell.", vocab), { species: null, features: [] });
});

test("species accuracy, explanation rate and concept precision/recall on hand-checked answers", () => {
  const bench = speciesBench(vocab);
  const image = { bytes: new Uint8Array(), mimeType: "image/png" as const };
  const rows: [string, string, string[]][] = [
    // correct; names forked tail (split tail), crest; both visible → 2 supported of 2 named
    ["This is a glider. It has a split tail and a crest.", "crested glider", ["forked tail", "crest"]],
    // wrong (crest finch); names striped body (not visible), round head (visible) → 1 of 2
    ["A crest finch with a striped body and a round head.", "spotted hopper", ["round head", "long wings"]],
    // correct; no feature named → not explained
    ["Striped crawler.", "striped crawler", ["striped body", "forked tail", "round head"]],
    // no species, no feature
    ["I am not sure.", "crest finch", ["head crest"]],
  ];
  const records: EvalRecord<SpeciesParsed, SpeciesTruth, SpeciesVerdict>[] = rows.map(([raw, species, visible], i) => {
    const item: SpeciesItem = { id: `${i}`, imageId: `${i}`, image, species, visibleFeatures: visible };
    return evalRecord(bench, item.id, raw, bench.groundTruth(item));
  });
  assert.deepEqual(records[1].verdict, {
    correct: false,
    explained: true,
    supported: ["round head"],
    unsupported: ["striped body"],
  });
  assert.deepEqual(records[3].ground_truth.visible_features, ["crest"]); // synonym canonicalized
  // By hand: accuracy 2/4 (items 1, 3); explained 2/4 (items 1, 2); precision = supported
  // (2 + 1) / named (2 + 2) = 0.75; recall = supported 3 / visible (2 + 2 + 3 + 1) = 0.375.
  assert.deepEqual(bench.metrics(records), {
    accuracy: 0.5,
    explanation_rate: 0.5,
    concept_precision: 0.75,
    concept_recall: 0.375,
  });
  // The same from the summed per-item counts (what the bootstrap resamples).
  // No item says whether its species was held out: the known/held-out counts stay at zero.
  assert.deepEqual(sumCounts(records.map((r) => bench.itemCounts(r))), {
    knownAnswers: 0,
    knownCorrect: 0,
    knownExplained: 0,
    knownSupported: 0,
    knownNamed: 0,
    knownVisible: 0,
    heldOutAnswers: 0,
    heldOutCorrect: 0,
    heldOutExplained: 0,
    heldOutSupported: 0,
    heldOutNamed: 0,
    heldOutVisible: 0,
    marked: 0,
    answers: 4,
    correct: 2,
    explained: 2,
    supported: 3,
    named: 4,
    visible: 8,
  });
  assert.deepEqual(bench.fromCounts(sumCounts(records.map((r) => bench.itemCounts(r)))), bench.metrics(records));
});

test("species ground truth outside the vocabulary is an error", () => {
  const bench = speciesBench(vocab);
  const item = {
    id: "x",
    imageId: "x",
    image: { bytes: new Uint8Array(), mimeType: "image/png" as const },
    species: "unicorn",
    visibleFeatures: [],
  };
  assert.throws(() => bench.groundTruth(item), /species 'unicorn' is not in the vocabulary/);
});

test("concepts named by ids (SceneWorld's 'tail:fan') are found by their phrases only", () => {
  const world = speciesVocabulary(
    ["arbel", "bosk"],
    [
      { id: "tail:fan", phrases: ["fan tail"] },
      { id: "pattern:stripes", phrases: ["stripes on its body", "stripes", "striped body"] },
      { id: "body:round", phrases: ["round body"] },
    ],
  );
  // "tail fan" is the id's words, not a phrase: no match; "stripes on its body" is the longest phrase.
  assert.deepEqual(parseSpeciesAnswer("A bosk: a fan tail, stripes on its body, and a tail fan.", world), {
    species: "bosk",
    features: ["tail:fan", "pattern:stripes"],
  });
  const bench = speciesBench(world);
  const truth = bench.groundTruth({
    id: "x",
    imageId: "x",
    image: { bytes: new Uint8Array(), mimeType: "image/png" },
    species: "bosk",
    visibleFeatures: ["tail:fan", "body:round"],
  });
  assert.deepEqual(truth, { species: "bosk", visible_features: ["tail:fan", "body:round"] });
  // Named tail:fan (visible) and pattern:stripes (not visible): precision 1/2, recall 1/2.
  assert.deepEqual(bench.metrics([evalRecord(bench, "x", "A bosk with a fan tail and stripes.", truth)]), {
    accuracy: 1,
    explanation_rate: 1,
    concept_precision: 0.5,
    concept_recall: 0.5,
  });
});

test("known and held-out species are scored apart when the items say which", () => {
  const bench = speciesBench(vocab);
  const image = { bytes: new Uint8Array(), mimeType: "image/png" as const };
  // Known: right, wrong. Held out: wrong (named its look-alike), right, wrong (no name).
  const rows: [string, string, boolean][] = [
    ["A crested glider.", "crested glider", false],
    ["A crest finch.", "spotted hopper", false],
    ["A crest finch.", "striped crawler", true],
    ["A striped crawler.", "striped crawler", true],
    ["Some creature.", "striped crawler", true],
  ];
  const records = rows.map(([raw, species, heldOut], i) => {
    const item: SpeciesItem = { id: `${i}`, imageId: `${i}`, image, species, visibleFeatures: [], heldOut };
    return evalRecord(bench, item.id, raw, bench.groundTruth(item));
  });
  assert.equal(records[2].ground_truth.held_out, true);
  const m = bench.metrics(records);
  assert.equal(m.accuracy, 2 / 5);
  assert.equal(m.accuracy_known, 1 / 2);
  assert.equal(m.accuracy_held_out, 1 / 3);
});

test("explanation existence and concept precision/recall per known and held-out species, by hand", () => {
  const bench = speciesBench(vocab);
  const image = { bytes: new Uint8Array(), mimeType: "image/png" as const };
  // [answer, species, visible features, held out]
  const rows: [string, string, string[], boolean][] = [
    // known: names forked tail (visible) and crest (not visible)
    ["A crested glider with a forked tail and a crest.", "crested glider", ["forked tail", "round head"], false],
    // known: no feature named
    ["A spotted hopper.", "spotted hopper", ["striped body"], false],
    // held out: names striped body (visible), round head (visible), long wings (occluded: not visible)
    [
      "A striped crawler: striped body, round head, long wings.",
      "striped crawler",
      ["striped body", "round head"],
      true,
    ],
    // held out: wrong species, names nothing
    ["A crest finch.", "striped crawler", ["forked tail"], true],
  ];
  const records = rows.map(([raw, species, visible, heldOut], i) => {
    const item: SpeciesItem = { id: `${i}`, imageId: `${i}`, image, species, visibleFeatures: visible, heldOut };
    const truth = bench.groundTruth(item);
    const parsed = bench.parse(raw, truth);
    return {
      item_id: item.id,
      image_id: item.imageId,
      prompt: "",
      raw_answer: raw,
      parsed_answer: parsed,
      ground_truth: truth,
      verdict: bench.verdict(parsed, truth),
      finish_reason: "stop" as const,
    };
  });
  const m = bench.metrics(records);
  // Known: explained 1/2; precision supported 1 / named 2 = 0.5; recall 1 / visible (2 + 1) = 1/3.
  assert.equal(m.explanation_rate_known, 0.5);
  assert.equal(m.concept_precision_known, 0.5);
  assert.equal(m.concept_recall_known, 1 / 3);
  // Held out: explained 1/2; precision 2 / 3; recall 2 / visible (2 + 1) = 2/3; accuracy 1/2.
  assert.equal(m.explanation_rate_held_out, 0.5);
  assert.equal(m.concept_precision_held_out, 2 / 3);
  assert.equal(m.concept_recall_held_out, 2 / 3);
  assert.equal(m.accuracy_held_out, 0.5);
  // Overall: precision 3 / 5, recall 3 / 6.
  assert.equal(m.concept_precision, 3 / 5);
  assert.equal(m.concept_recall, 0.5);
  assert.deepEqual(bench.fromCounts(sumCounts(records.map((r) => bench.itemCounts(r)))), m);
  // A group without answers has no figure (NaN), not a perfect or a zero one.
  const knownOnly = bench.metrics(records.slice(0, 2));
  assert.ok(Number.isNaN(knownOnly.concept_precision_held_out));
  assert.ok(Number.isNaN(knownOnly.explanation_rate_held_out));
  for (const name of ["explanation_rate_held_out", "concept_precision_known", "concept_recall_held_out"])
    assert.equal(bench.metricInfo[name]?.higherIsBetter, true, name);
});
