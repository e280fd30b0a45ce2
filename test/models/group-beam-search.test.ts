// Diverse group beam search's bookkeeping on hand-made log-prob tables (no model): every
// expected beam, hypothesis and score below is worked out by hand in the comments, following
// the rules in src/models/group-beam-search.ts's header.
import assert from "node:assert/strict";
import { test } from "node:test";
import { GroupBeamSearch } from "../../src/models/group-beam-search.js";

// Tokens: 0 'a', 1 'b', 2 '.', 3 'c'; '.' ends a hypothesis.
const END = new Set([2]);
const lp = (...v: number[]) => Float32Array.from(v);
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-6, `${a} != ${b}`);

function twoGroups(maxNewTokens: number) {
  return new GroupBeamSearch({
    numBeams: 2,
    numGroups: 2,
    numReturn: 2,
    diversityPenalty: 1,
    maxNewTokens,
    endIds: END,
  });
}

// t = 0, both slots read the start's row [-0.5, -1.0, -2.0, -3.0]:
//   group 0: a (-0.5) best -> slot 0 = [a], score -0.5;
//   group 1 (proposing from its own slot 1): a is penalized by 1 (group 0 chose it): a -1.5,
//   b -1.0 -> slot 1 = [b], score -1.0.
function firstStep(search: GroupBeamSearch) {
  const row = lp(-0.5, -1.0, -2.0, -3.0);
  const s = search.step([row, row]);
  assert.deepEqual(s.next, [
    { source: 0, token: 0 },
    { source: 1, token: 1 },
  ]);
  assert.equal(s.finished.length, 0);
  assert.equal(s.done, false);
}

test("groups are penalized for earlier groups' tokens, finish on the end token, and stop when done", () => {
  const search = twoGroups(3);
  firstStep(search);
  // t = 1. Slot 0 (score -0.5) reads [-2.0, -1.5, -0.2, -3.0]: '.' -0.7 then b -2.0. '.' has
  // rank 0 -> hypothesis [a, .] with score -0.7 / 2 = -0.35; b continues ([a, b], -2.0). Group 0
  // is done: its worst hypothesis -0.35 >= the best candidate -0.7 / 2.
  // Slot 1 (score -1.0) reads [-0.3, -2.5, -1.2, -3.0], b penalized by 1 (group 0 chose b):
  // a -1.3, '.' -2.2, b -4.5 -> [b, a], -1.3; group 1 holds no hypothesis yet.
  const s1 = search.step([lp(-2.0, -1.5, -0.2, -3.0), lp(-0.3, -2.5, -1.2, -3.0)]);
  assert.deepEqual(s1.next, [null, { source: 1, token: 0 }]);
  assert.equal(s1.finished.length, 1);
  assert.deepEqual(s1.finished[0].tokenIds, [0, 2]);
  assert.equal(s1.finished[0].source, 0);
  close(s1.finished[0].score, -0.35);
  assert.equal(s1.done, false);
  // t = 2, slot 1 (score -1.3) reads [-1.0, -1.0, -0.1, -2.0]: '.' -1.4 then a -2.3 (a before b
  // on the tie) -> hypothesis [b, a, .], -1.4 / 3; group 1 done.
  const s2 = search.step([null, lp(-1.0, -1.0, -0.1, -2.0)]);
  assert.deepEqual(s2.next, [null, null]);
  assert.equal(s2.done, true);
  const results = search.results();
  assert.deepEqual(
    results.map((h) => h.tokenIds),
    [
      [0, 2],
      [1, 0, 2],
    ],
  );
  close(results[1].score, -1.4 / 3);
  assert.deepEqual(results[0].finish, "end");
  // Raw log-probs, without the penalty: [a, .] = -0.5, -0.2; [b, a, .] = -1.0, -0.3, -0.1.
  assert.deepEqual(
    results.map((h) => h.logprobs.map((x) => Number(x.toFixed(4)))),
    [
      [-0.5, -0.2],
      [-1.0, -0.3, -0.1],
    ],
  );
});

test("after maxNewTokens the running beams of unfinished groups become hypotheses", () => {
  const search = twoGroups(2);
  firstStep(search);
  // As above at t = 1, and then the limit: group 1's running beam [b, a] (score -1.3) is a
  // hypothesis of length 2: -0.65, finished by length, its last token from slot 1.
  const s1 = search.step([lp(-2.0, -1.5, -0.2, -3.0), lp(-0.3, -2.5, -1.2, -3.0)]);
  assert.equal(s1.done, true);
  assert.deepEqual(
    s1.finished.map((h) => [h.tokenIds, h.finish, h.source]),
    [
      [[0, 2], "end", 0],
      [[1, 0], "length", 1],
    ],
  );
  const results = search.results();
  close(results[1].score, -0.65);
});

test("a better hypothesis evicts the group's worse one", () => {
  // One group of two beams, no penalty; 4 candidates a step (max(2, 1 + 1 end token) * 2).
  // t = 0, only slot 0 proposes, [-0.1, -0.2, -3, -5]: slot 0 = [a] -0.1, slot 1 = [b] -0.2.
  // t = 1: slot 0 reads [-2, -2, -0.1, -2], slot 1 [-0.65, -2, -0.5, -2]. Best first: '.' from
  // slot 0 (-0.2), '.' from slot 1 (-0.7), a from slot 1 (-0.85), a from slot 0 (-2.1; ties
  // with b and c, the lower token first). Ranks 0 and 1 are below 2 beams: hypotheses [a, .]
  // -0.1 and [b, .] -0.35; [b, a] -0.85 and [a, a] -2.1 continue. Not done: -0.35 < -0.2 / 2.
  // t = 2: slot 0 reads [-3, -3, -0.05, -3], slot 1 [-3, -3, -3, -3]: '.' from slot 0 (-0.9)
  // first -> [b, a, .] -0.3 beats the worst kept (-0.35), which is evicted; done: -0.3 >= -0.9 / 3.
  const search = new GroupBeamSearch({
    numBeams: 2,
    numGroups: 1,
    numReturn: 2,
    diversityPenalty: 0,
    maxNewTokens: 5,
    endIds: END,
  });
  const row = lp(-0.1, -0.2, -3, -5);
  assert.deepEqual(search.step([row, row]).next, [
    { source: 0, token: 0 },
    { source: 0, token: 1 },
  ]);
  const s1 = search.step([lp(-2, -2, -0.1, -2), lp(-0.65, -2, -0.5, -2)]);
  assert.deepEqual(
    s1.finished.map((h) => h.tokenIds),
    [
      [0, 2],
      [1, 2],
    ],
  );
  assert.deepEqual(s1.next, [
    { source: 1, token: 0 },
    { source: 0, token: 0 },
  ]);
  assert.equal(s1.done, false);
  const s2 = search.step([lp(-3, -3, -0.05, -3), lp(-3, -3, -3, -3)]);
  assert.deepEqual(
    s2.finished.map((h) => h.tokenIds),
    [[1, 0, 2]],
  );
  assert.deepEqual(
    s2.evicted.map((h) => h.tokenIds),
    [[1, 2]],
  );
  assert.equal(s2.done, true);
  const results = search.results();
  assert.deepEqual(
    results.map((h) => h.tokenIds),
    [
      [0, 2],
      [1, 0, 2],
    ],
  );
  close(results[1].score, -0.3);
});

test("bad options are refused with the option named", () => {
  const base = { numBeams: 5, numGroups: 5, numReturn: 5, diversityPenalty: 3, maxNewTokens: 70, endIds: END };
  assert.throws(() => new GroupBeamSearch({ ...base, numGroups: 2 }), /numBeams 5 must be a multiple of numGroups 2/);
  assert.throws(() => new GroupBeamSearch({ ...base, numReturn: 6 }), /numReturn 6/);
  assert.throws(() => new GroupBeamSearch({ ...base, diversityPenalty: -1 }), /diversityPenalty -1/);
  assert.throws(() => new GroupBeamSearch({ ...base, endIds: new Set() }), /endIds is empty/);
});
