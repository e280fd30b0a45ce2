// COMPACT's combinations (src/methods/compact/combinations.ts): never a combination twice on an
// image, capabilities the image's kept questions do not use yet first, k per question or fixed.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  comboKey,
  markUsed,
  newImageCombos,
  nextCombination,
  sampleCombination,
} from "../../../src/methods/compact/combinations.js";
import { CAPABILITIES, type Capability } from "../../../src/world/questions.js";
import { Rng } from "../../../src/world/rng.js";

const SEEDS = Array.from({ length: 40 }, (_, i) => i);

test("a combination's key is order-free and canonical", () => {
  assert.equal(comboKey(["counting", "color"]), "color+counting");
  assert.equal(comboKey(["color", "counting"]), comboKey(["counting", "color"]));
});

test("never a repeated combination: all C(10, k) of them, then null", () => {
  // C(10,1) = 10, C(10,2) = 45, C(10,3) = 120.
  for (const [k, count] of [
    [1, 10],
    [2, 45],
    [3, 120],
  ] as const) {
    const state = newImageCombos();
    const rng = new Rng(k);
    const seen = new Set<string>();
    for (let i = 0; i < count; i++) {
      const combo = sampleCombination(k, state, rng);
      assert.ok(combo !== null, `draw ${i} of k ${k}`);
      assert.equal(combo.length, k);
      assert.equal(new Set(combo).size, k, "k distinct capabilities");
      const key = comboKey(combo);
      assert.ok(!seen.has(key), `k ${k}: ${key} drawn twice`);
      seen.add(key);
    }
    assert.equal(sampleCombination(k, state, rng), null, `k ${k}: exhausted`);
  }
  assert.throws(() => sampleCombination(4, newImageCombos(), new Rng(0)), /k must be 1, 2 or 3/);
});

test("capabilities not yet used come first: all unused, then some unused, then any", () => {
  const used: Capability[] = CAPABILITIES.filter((c) => c !== "counting" && c !== "scene_understanding");
  for (const seed of SEEDS) {
    // Eight used: the only pair of unused capabilities is the one drawn.
    const state = newImageCombos();
    markUsed(state, used);
    assert.equal(comboKey(sampleCombination(2, state, new Rng(seed))!), "counting+scene_understanding");
    // Then (that pair asked) some unused: every pair drawn holds counting or scene_understanding,
    // the 16 such pairs before any other.
    const rng = new Rng(seed);
    for (let i = 0; i < 16; i++) {
      const combo = sampleCombination(2, state, rng)!;
      assert.ok(combo.includes("counting") || combo.includes("scene_understanding"), comboKey(combo));
    }
    const rest = sampleCombination(2, state, rng)!;
    assert.ok(!rest.includes("counting") && !rest.includes("scene_understanding"), "then any pair");
  }
});

test("after a kept question, the next combination avoids its capabilities while 3 fresh ones are left", () => {
  for (const seed of SEEDS) {
    const state = newImageCombos();
    const rng = new Rng(seed);
    const first = sampleCombination(3, state, rng)!;
    markUsed(state, first);
    const second = sampleCombination(3, state, rng)!;
    markUsed(state, second);
    const third = sampleCombination(3, state, rng)!;
    // 10 capabilities: 3 + 3 + 3 used, all distinct.
    assert.equal(new Set([...first, ...second, ...third]).size, 9, `seed ${seed}`);
  }
});

test("a dropped question's capabilities stay unused (only kept questions mark them)", () => {
  const state = newImageCombos();
  const rng = new Rng(3);
  const asked = sampleCombination(1, state, rng)!;
  // Not marked used: the next k = 2 draw may reuse it, and does for some seed.
  let reused = false;
  for (const seed of SEEDS) {
    const s = { asked: new Set(state.asked), used: new Set(state.used) };
    if (sampleCombination(2, s, new Rng(seed))!.includes(asked[0])) reused = true;
  }
  assert.ok(reused);
});

test("k per question by weight, or one k for the run; other k values when one is exhausted", () => {
  const ks = new Set<number>();
  for (const seed of SEEDS) {
    ks.add(nextCombination({ weights: [1, 1, 1] }, newImageCombos(), new Rng(seed))!.length);
    assert.equal(nextCombination({ fixed: 3 }, newImageCombos(), new Rng(seed))!.length, 3);
    assert.equal(nextCombination({ weights: [0, 1, 0] }, newImageCombos(), new Rng(seed))!.length, 2);
  }
  assert.deepEqual([...ks].sort(), [1, 2, 3], "every k drawn with equal weights");
  // Every k = 1 combination asked: a fixed k = 1 has nothing left; weights [1, 1, 0] go on with k = 2.
  const state = newImageCombos();
  for (const c of CAPABILITIES) state.asked.add(c);
  assert.equal(nextCombination({ fixed: 1 }, state, new Rng(0)), null);
  assert.equal(nextCombination({ weights: [1, 0, 0] }, state, new Rng(0)), null, "a zero weight is never used");
  assert.equal(nextCombination({ weights: [1, 1, 0] }, state, new Rng(0))!.length, 2);
});
