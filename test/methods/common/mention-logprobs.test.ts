import assert from "node:assert/strict";
import { test } from "node:test";
import { SynonymTable } from "../../../src/eval/text.js";
import { mentionSpans, pieceSpans, scoreMentions } from "../../../src/methods/common/mention-logprobs.js";
import { WordScorer } from "./word-scorer.js";

const table = new SynonymTable([["traffic light", "stoplight"], ["star"], ["circle"]]);
const ask = (response: string) => ({
  images: [],
  messages: [{ role: "user" as const, content: "describe" }],
  response,
});

test("mentionSpans: character spans of every mention, multi-word and plural, in order", () => {
  const text = "A Traffic light, two stars and a star.";
  const spans = mentionSpans(text, table);
  assert.deepEqual(
    spans.map((s) => [s.canonical, text.slice(s.start, s.end)]),
    [
      ["traffic light", "Traffic light"],
      ["star", "stars"],
      ["star", "star"],
    ],
  );
  assert.deepEqual(mentionSpans("nothing here.", table), []);
});

test("pieceSpans: tokens located left to right ignoring case; unknown pieces are null", () => {
  assert.deepEqual(pieceSpans("A star, a Star.", ["a", "star", ",", "a", "<unk>", "star", "."]), [
    [0, 1],
    [2, 6],
    [6, 7],
    [8, 9],
    null,
    [10, 14],
    [14, 15],
  ]);
});

// traffic light = -1 + -0.5; stars = -2; star (second) = -0.1 (default); circle at the start = -3.
const logprobs = { traffic: -1, light: -0.5, stars: -2, circle: -3 };
const responses = ["A traffic light, two stars and a star.", "Circle and nothing else.", "No objects."];
const expected = [
  [
    ["traffic light", -1.5],
    ["star", -2],
    ["star", -0.1],
  ],
  [["circle", -3]],
  [],
];
const summary = (scored: { canonical: string; logprob: number }[][]) =>
  scored.map((mentions) => mentions.map((m) => [m.canonical, Number(m.logprob.toFixed(6))]));

test("scoreMentions from token texts: the hand-computed sums, one request per response", async () => {
  const backend = new WordScorer(logprobs, { pieces: true });
  const scored = await scoreMentions(backend, responses.map(ask), table, { batch: 2 });
  assert.deepEqual(summary(scored), expected);
  assert.deepEqual(backend.calls, [2, 1], "two batches, no prefix cuts");
});

test("scoreMentions by prefix cuts (no token texts) agrees, with 2 requests per mention", async () => {
  const backend = new WordScorer(logprobs);
  const progress: number[] = [];
  const scored = await scoreMentions(backend, responses.map(ask), table, {
    batch: 3,
    onProgress: (done) => progress.push(done),
  });
  assert.deepEqual(summary(scored), expected);
  // 3 full responses; cuts: 3 mentions x 2, and the leading "Circle" needs no "before" cut.
  assert.deepEqual(backend.calls, [3, 7]);
  assert.deepEqual(progress, [3]);
});

test("scoreMentions falls back to prefix cuts only for a response whose mention has no located token", async () => {
  // "stoplight" is reported as <unk>: the first response needs cuts, the second does not.
  const backend = new WordScorer({ stoplight: -4 }, { pieces: true, known: (w) => w !== "stoplight" });
  const scored = await scoreMentions(backend, [ask("a stoplight."), ask("a star.")], table);
  assert.deepEqual(summary(scored), [[["traffic light", -4]], [["star", -0.1]]]);
  assert.deepEqual(backend.calls, [2, 2]);
});

test("scoreMentions stops when its signal is aborted", async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(
    scoreMentions(new WordScorer({}), [ask("a star.")], table, { signal: controller.signal }),
    /abort/i,
  );
});
