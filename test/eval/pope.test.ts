import assert from "node:assert/strict";
import { test } from "node:test";
import {
  buildPopeItems,
  objectStatistics,
  type PopeImage,
  type PopeItem,
  type PopeTruth,
  type PopeVerdict,
  parsePopeAnswer,
  popeBench,
  popeFromCounts,
  popeMetrics,
  popeQuestion,
  type YesNo,
} from "../../src/eval/pope.js";
import { type EvalRecord, sumCounts } from "../../src/eval/types.js";
import { evalRecord } from "./eval-record.js";

const image = { bytes: new Uint8Array([0]), mimeType: "image/png" as const };

test("POPE parser follows evaluate.py word for word", () => {
  // Each expectation applies evaluate.py by hand: text before the first '.', commas removed,
  // split(' '), "no" iff a word is exactly No / no / not.
  const cases: [string, YesNo][] = [
    ["No.", "no"], // "No"
    ["no, there is", "no"], // "no there is" → word "no"
    ["There is not a star in the image.", "no"], // word "not"
    ["Yes, there is no doubt.", "no"], // "Yes there is no doubt": "no" anywhere in the first sentence
    ["Yes. There is no star.", "yes"], // only "Yes" survives the first '.'
    ["Yes, there is a circle.", "yes"],
    ["NO", "yes"], // case-sensitive: "NO" is not in the list
    ["Not really", "yes"], // "Not" with a capital is not in the list
    ["There isn't a star", "yes"], // "isn't" is not "not"
    ["no!", "yes"], // "no!" is not the word "no"
    ["Nothing is there", "yes"], // whole words only
    ["", "yes"], // empty answer
    [" no", "no"], // split(' ') gives ['', 'no']
    ["No\nIt is absent", "yes"], // split(' ') does not split on '\n': the word is "No\nIt"
    ["There are 2.5 circles, no stars", "yes"], // the first '.' cuts after "2"
    ["no.", "no"],
  ];
  for (const [answer, expected] of cases) assert.equal(parsePopeAnswer(answer), expected, JSON.stringify(answer));
});

test("POPE question uses a or an", () => {
  assert.equal(popeQuestion("circle"), "Is there a circle in the image?");
  assert.equal(popeQuestion("oval"), "Is there an oval in the image?");
});

test("POPE metrics take yes_ratio from predictions, not labels", () => {
  // Labels: 4 yes, 4 no (label yes-share 0.5). Predictions: 6 yes.
  // By hand: TP 3, FN 1, FP 3, TN 1 → accuracy 4/8, precision 3/6, recall 3/4,
  // F1 = 2·0.5·0.75/1.25 = 0.6, yes_ratio = 6/8 = 0.75.
  const labels: YesNo[] = ["yes", "yes", "yes", "yes", "no", "no", "no", "no"];
  const preds: YesNo[] = ["yes", "yes", "yes", "no", "yes", "yes", "yes", "no"];
  const m = popeMetrics(labels.map((label, i) => ({ label, predicted: preds[i] })));
  assert.equal(m.accuracy, 0.5);
  assert.equal(m.precision, 0.5);
  assert.equal(m.recall, 0.75);
  assert.ok(Math.abs(m.f1 - 0.6) < 1e-12);
  assert.equal(m.yes_ratio, 0.75);
});

test("POPE metrics when nothing is predicted yes", () => {
  // TP 0, FP 0 → precision defined as 0 (evaluate.py would divide by zero); recall 0/2; F1 0.
  const m = popeMetrics([
    { label: "yes", predicted: "no" },
    { label: "yes", predicted: "no" },
    { label: "no", predicted: "no" },
  ]);
  assert.deepEqual(m, { accuracy: 1 / 3, precision: 0, recall: 0, f1: 0, yes_ratio: 0 });
});

test("POPE metrics from summed counts: the same formulas; no items gives zeros, not NaN", () => {
  // TP 3, FN 1, FP 3, TN 1: the hand-checked case above, as counts.
  assert.deepEqual(popeFromCounts({ tp: 3, fp: 3, tn: 1, fn: 1 }), {
    accuracy: 0.5,
    precision: 0.5,
    recall: 0.75,
    f1: (2 * 0.5 * 0.75) / 1.25,
    yes_ratio: 0.75,
  });
  assert.deepEqual(popeFromCounts({}), { accuracy: 0, precision: 0, recall: 0, f1: 0, yes_ratio: 0 });
});

// Training split: star and diamond always together (2 images), circle common (6), square (4),
// one circle+cross image. Frequencies by hand: circle 6, square 4, diamond 2, star 2, cross 1,
// heart 0. Co-occurrence: star–diamond 2, circle–cross 1.
const train = [
  ...Array(2).fill({ objects: ["star", "diamond"] }),
  ...Array(5).fill({ objects: ["circle"] }),
  ...Array(4).fill({ objects: ["square"] }),
  { objects: ["circle", "cross", "circle"] },
];
const stats = objectStatistics(train);
const vocabulary = ["circle", "square", "star", "diamond", "cross", "heart"];
const images: PopeImage[] = [
  { imageId: "x", image, objects: ["star"] },
  { imageId: "y", image, objects: ["star", "circle"] },
];
const build = (split: "random" | "popular" | "adversarial", seed = 7) =>
  buildPopeItems({ images, vocabulary, stats, split, seed });
/** (present, absent) object pairs, as build_data.py interleaves them. */
function pairsOf(items: PopeItem[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < items.length; i += 2) out.push([items[i].object, items[i + 1].object]);
  return out;
}

test("object statistics count images, not instances", () => {
  assert.equal(stats.frequency.get("circle"), 6); // 5 + 1 (the repeated circle counts once)
  assert.equal(stats.cooccurrence.get("star")?.get("diamond"), 2);
  assert.equal(stats.cooccurrence.get("circle")?.get("cross"), 1);
});

test("POPE popular asks about the most frequent absent objects", () => {
  const items = build("popular");
  // x: present star; the most frequent object not in x is circle (6).
  // y: present star, circle (m = 2); most frequent absent: square (4), then diamond (2; ties with
  // star, which is present).
  assert.deepEqual(
    items.map((i) => [i.imageId, i.label, i.object]),
    [
      ["x", "yes", "star"],
      ["x", "no", "circle"],
      ["y", "yes", items[2].object],
      ["y", "no", "square"],
      ["y", "yes", items[4].object],
      ["y", "no", "diamond"],
    ],
  );
  assert.deepEqual(new Set([items[2].object, items[4].object]), new Set(["star", "circle"]));
  assert.equal(items[0].question, "Is there a star in the image?");
});

test("POPE adversarial asks about each present object's most frequent partner", () => {
  const items = build("adversarial");
  // star's partner is diamond (2), circle's is cross (1); popular would have asked circle/square.
  const partner: Record<string, string> = { star: "diamond", circle: "cross" };
  for (const [present, absent] of pairsOf(items)) assert.equal(absent, partner[present]);
  assert.equal(items.length, 6);
});

test("POPE random is seeded, balanced, and shares present objects with the other splits", () => {
  const a = build("random");
  assert.deepEqual(build("random"), a);
  for (const [i, it] of a.entries()) {
    assert.equal(it.label, i % 2 === 0 ? "yes" : "no");
    const img = images.find((m) => m.imageId === it.imageId)!;
    assert.equal(img.objects.includes(it.object), it.label === "yes");
  }
  const presentOf = (items: PopeItem[]) => items.filter((i) => i.label === "yes").map((i) => i.object);
  assert.deepEqual(presentOf(a), presentOf(build("popular")));
  assert.equal(new Set(a.map((i) => i.id)).size, a.length);
});

test("POPE asks no more absent objects than exist", () => {
  // 4 present, only diamond, cross left absent → m = min(3, 4, 2) = 2 of each.
  const items = buildPopeItems({
    images: [{ imageId: "z", image, objects: ["circle", "square", "star", "heart"] }],
    vocabulary,
    stats,
    split: "popular",
    seed: 0,
  });
  assert.equal(items.length, 4);
  assert.deepEqual(
    items.filter((i) => i.label === "no").map((i) => i.object),
    ["diamond", "cross"],
  );
});

test("POPE bench parses, judges and scores records", () => {
  const bench = popeBench("adversarial");
  assert.equal(bench.name, "pope-adversarial");
  const rows: [string, YesNo][] = [
    ["Yes, there is a star.", "yes"], // TP
    ["Yes, there is no doubt.", "yes"], // parsed no → FN
    ["No.", "no"], // TN
    ["There is a diamond.", "no"], // FP
  ];
  const records: EvalRecord<YesNo, PopeTruth, PopeVerdict>[] = rows.map(([raw, label], i) => {
    return evalRecord(bench, `${i}`, raw, { object: "star", label });
  });
  assert.deepEqual(
    records.map((r) => r.verdict),
    ["TP", "FN", "TN", "FP"],
  );
  // TP 1, FN 1, TN 1, FP 1 → every rate 0.5; predicted yes 2/4.
  assert.deepEqual(bench.metrics(records), { accuracy: 0.5, precision: 0.5, recall: 0.5, f1: 0.5, yes_ratio: 0.5 });
  // One-hot counts per item; the bench's aggregate of their sums is metrics().
  assert.deepEqual(
    records.map((r) => bench.itemCounts(r)),
    records.map((r) => ({ tp: 0, fp: 0, tn: 0, fn: 0, [r.verdict.toLowerCase()]: 1 })),
  );
  assert.deepEqual(bench.fromCounts(sumCounts(records.map((r) => bench.itemCounts(r)))), bench.metrics(records));
});
