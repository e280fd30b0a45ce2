import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ChairParsed,
  type ChairTruth,
  type ChairVerdict,
  chairBench,
  chairFromCounts,
  chairItemCounts,
  chairMetrics,
  descriptionLength,
  extractObjectMentions,
  FIRST_MENTIONS,
} from "../../src/eval/chair.js";
import { SynonymTable, singularize, wordTokens } from "../../src/eval/text.js";
import { type EvalRecord, sumCounts } from "../../src/eval/types.js";
import { plural, SYNONYMS_TEXT } from "../../src/world/vocabulary.js";
import { evalRecord } from "./eval-record.js";

const table = SynonymTable.parse(`
# canonical first, comma-separated entries may be several words
circle, ring, round shape
square, box
cross, plus sign
star, five-pointed star
heart
lamp, light
traffic light, traffic signal
`);

test("singularize handles the world's plurals", () => {
  const cases: [string, string][] = [
    ["circles", "circle"],
    ["crosses", "cross"],
    ["boxes", "box"],
    ["squares", "square"],
    ["stars", "star"],
    ["diamonds", "diamond"],
    ["berries", "berry"],
    ["arches", "arch"],
    ["cross", "cross"],
    ["bus", "bus"],
    ["this", "this"],
    ["glass", "glass"],
  ];
  for (const [plural, singular] of cases) assert.equal(singularize(plural), singular, plural);
});

test("word tokens keep hyphenated words whole", () => {
  assert.deepEqual(wordTokens("A Star-shaped box, isn't it?"), ["a", "star-shaped", "box", "isn't", "it"]);
});

test("synonym table maps synonyms, plurals and phrases to the canonical name", () => {
  assert.equal(table.canonical("Boxes"), "square");
  assert.equal(table.canonical("plus signs"), "cross");
  assert.equal(table.canonical("crosses"), "cross");
  assert.equal(table.canonical("diamond"), null);
  assert.deepEqual(table.canonicalNames, ["circle", "square", "cross", "star", "heart", "lamp", "traffic light"]);
  // Longest match first: "traffic lights" is one traffic light, not a lamp.
  assert.deepEqual(extractObjectMentions("Two traffic lights and a light.", table), ["traffic light", "lamp"]);
  // Whitespace-separated lines work too when no entry has a space.
  assert.equal(SynonymTable.parse("circle ring disc").canonical("discs"), "circle");
  assert.throws(
    () =>
      new SynonymTable([
        ["circle", "ring"],
        ["square", "ring"],
      ]),
    /both 'circle' and 'square'/,
  );
});

// Four hand-scored descriptions (ground truth = objects in the image):
// D1 "Two red circles and a box. A plus sign sits at the top."  truth {circle, square}
//    mentions circle (circles), square (box), cross (plus sign) → 1 hallucinated; covered 2/2; 13 words.
// D2 "A five-pointed star next to crosses."  truth {star, heart}
//    mentions star (five-pointed star, one mention), cross (crosses) → 1 hallucinated; covered 1/2; 6 words.
// D3 "A heart."  truth {heart} → 1 mention, none hallucinated; covered 1/1; 2 words.
// D4 "A star-shaped ring beside a ring."  truth {circle}
//    "star-shaped" is no mention; ring twice → 2 mentions of circle; covered 1/1; 6 words.
// Totals: mentions 3+2+1+2 = 8, hallucinated 2 → CHAIR_i 2/8 = 0.25; descriptions with a
// hallucination 2/4 → CHAIR_s 0.5; coverage (2+1+1+1)/(2+2+1+1) = 5/6; mean length 27/4 = 6.75.
const descriptions: [string, string[]][] = [
  ["Two red circles and a box. A plus sign sits at the top.", ["circle", "square"]],
  ["A five-pointed star next to crosses.", ["star", "heart"]],
  ["A heart.", ["heart"]],
  ["A star-shaped ring beside a ring.", ["ring"]], // truth given as a synonym: canonicalized
];

test("CHAIR extracts mentions with duplicates and scores hand-checked descriptions", () => {
  assert.deepEqual(extractObjectMentions(descriptions[0][0], table), ["circle", "square", "cross"]);
  assert.deepEqual(extractObjectMentions(descriptions[3][0], table), ["circle", "circle"]);
  assert.equal(descriptionLength(descriptions[0][0]), 13);

  const bench = chairBench(table);
  const records: EvalRecord<ChairParsed, ChairTruth, ChairVerdict>[] = descriptions.map(([raw, objects], i) => {
    const truth = bench.groundTruth({
      id: `${i}`,
      imageId: `${i}`,
      image: { bytes: new Uint8Array(), mimeType: "image/png" },
      objects,
    });
    return evalRecord(bench, `${i}`, raw, truth);
  });
  assert.deepEqual(records[0].verdict, { hallucinated: ["cross"], covered: ["circle", "square"] });
  assert.deepEqual(records[1].verdict, { hallucinated: ["cross"], covered: ["star"] });
  assert.deepEqual(records[3].ground_truth, { objects: ["circle"] });
  const m = bench.metrics(records);
  assert.equal(m.chair_i, 0.25);
  assert.equal(m.chair_s, 0.5);
  assert.equal(m.coverage, 5 / 6);
  assert.equal(m.mean_length, 6.75);
  // No description has more than 5 mentions, so the first-5 CHAIR_i is CHAIR_i; 2 hallucinated
  // mentions in 27 words; none stopped on the token limit.
  assert.equal(m.chair_i_first5, 0.25);
  assert.equal(m.halluc_per_100w, 200 / 27);
  assert.equal(m.truncated_share, 0);
  // The bench's aggregate from summed per-item counts is what metrics() reports.
  assert.deepEqual(bench.fromCounts(sumCounts(records.map((r) => bench.itemCounts(r)))), m);
});

test("CHAIR with no mentions at all", () => {
  // No mentions → CHAIR_i defined as 0; the ground-truth object is missed → coverage 0.
  const m = chairMetrics([{ parsed: { mentions: [], words: 3 }, truth: { objects: ["heart"] } }]);
  assert.deepEqual(m, {
    chair_i: 0,
    chair_s: 0,
    coverage: 0,
    mean_length: 3,
    truncated_share: 0,
    chair_i_first5: 0,
    halluc_per_100w: 0,
  });
  // No description at all: every ratio 0, none NaN.
  assert.ok(Object.values(chairFromCounts({})).every((v) => v === 0));
});

test("length-controlled CHAIR: the first 5 mentions, hallucinations per 100 words, the cut share", () => {
  // L1 "A star, a heart, a cross, a box, a ring, a plus sign and a star." truth {circle, star}:
  //    mentions star, heart, cross, square, circle, cross, star (7); hallucinated heart, cross,
  //    square, cross (4); first 5: star, heart, cross, square, circle → 3 hallucinated; 16 words.
  // L2 "A circle and a star." truth {circle, star}: 2 mentions, none hallucinated; 5 words; it
  //    stopped on the token limit.
  // By hand: CHAIR_i 4/9; first-5 CHAIR_i 3/(5 + 2) = 3/7; per 100 words 100·4/21; cut 1/2;
  // CHAIR_s 1/2; coverage 4/4; mean length 21/2.
  const items = [
    { raw: "A star, a heart, a cross, a box, a ring, a plus sign and a star.", truncated: false },
    { raw: "A circle and a star.", truncated: true },
  ].map(({ raw, truncated }) => ({
    parsed: { mentions: extractObjectMentions(raw, table), words: descriptionLength(raw) },
    truth: { objects: ["circle", "star"] },
    truncated,
  }));
  assert.deepEqual(items[0].parsed.mentions, ["star", "heart", "cross", "square", "circle", "cross", "star"]);
  assert.equal(items[0].parsed.words, 16);
  assert.equal(FIRST_MENTIONS, 5);
  assert.deepEqual(chairItemCounts(items[0]), {
    descriptions: 1,
    mentions: 7,
    hallucinated: 4,
    with_hallucination: 1,
    covered: 2,
    truth_objects: 2,
    words: 16,
    truncated: 0,
    first_mentions: 5,
    first_hallucinated: 3,
  });
  assert.deepEqual(chairMetrics(items), {
    chair_i: 4 / 9,
    chair_s: 0.5,
    coverage: 1,
    mean_length: 10.5,
    truncated_share: 0.5,
    chair_i_first5: 3 / 7,
    halluc_per_100w: 400 / 21,
  });
});

test("the chair bench reads the cut share from the records' finish reason, and asks for 256 tokens", () => {
  const bench = chairBench(table);
  const truth = { objects: ["heart"] };
  const record = (finish: "stop" | "length"): EvalRecord<ChairParsed, ChairTruth, ChairVerdict> => ({
    item_id: finish,
    image_id: finish,
    prompt: "",
    raw_answer: "A heart",
    parsed_answer: { mentions: ["heart"], words: 2 },
    ground_truth: truth,
    verdict: { hallucinated: [], covered: ["heart"] },
    finish_reason: finish,
  });
  assert.equal(bench.metrics([record("stop"), record("length"), record("stop"), record("stop")]).truncated_share, 0.25);
  assert.equal(bench.defaultGeneration.maxTokens, 256);
  assert.deepEqual(Object.keys(bench.metrics([record("stop")])), Object.keys(bench.metricInfo));
});

test("the world's synonym table: every word and its plural maps to its canonical object", () => {
  const world = SynonymTable.parse(SYNONYMS_TEXT);
  for (const line of SYNONYMS_TEXT.split("\n")) {
    const [canonical, ...synonyms] = line.trim().split(/\s+/);
    for (const word of [canonical, ...synonyms]) {
      assert.equal(world.canonical(word), canonical, word);
      assert.equal(world.canonical(plural(word)), canonical, plural(word));
      assert.equal(world.canonical(word.toUpperCase()), canonical, word.toUpperCase());
    }
  }
});
