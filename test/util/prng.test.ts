import assert from "node:assert/strict";
import { test } from "node:test";
import { seededSubset } from "../../src/util/prng.js";

test("seededSubset: deterministic, a larger n extends a smaller n's pick, another seed picks otherwise", () => {
  const items = Array.from({ length: 40 }, (_, i) => i);
  const five = seededSubset(items, 5, 7);
  assert.deepEqual(seededSubset(items, 5, 7), five);
  assert.equal(new Set(five).size, 5);
  for (const n of [1, 6, 17, 40])
    assert.deepEqual(seededSubset(items, n, 7).slice(0, Math.min(n, 5)), five.slice(0, n));
  // n beyond the list: all of it, each once (a permutation).
  const all = seededSubset(items, 100, 7);
  assert.deepEqual(
    [...all].sort((a, b) => a - b),
    items,
  );
  assert.notDeepEqual(seededSubset(items, 5, 8), five);
  assert.deepEqual(
    items,
    Array.from({ length: 40 }, (_, i) => i),
    "the input is left alone",
  );
  assert.deepEqual(seededSubset([], 3, 1), []);
});
