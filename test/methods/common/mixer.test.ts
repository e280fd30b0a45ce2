import assert from "node:assert/strict";
import { test } from "node:test";
import { generalCount, mixRecords } from "../../../src/methods/common/mixer.js";

const records = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}` }));
const ids = (xs: { id: string }[]) => xs.map((x) => x.id);

test("generalCount: the general records that make the share of the mix, to the nearest record", () => {
  assert.equal(generalCount(10, 0.5), 10); // 1:1, as STS mixes
  assert.equal(generalCount(9, 0.25), 3); // 3 of 12 = 0.25
  assert.equal(generalCount(5, 0.1), 1); // 5 * 0.1 / 0.9 = 0.56: one record
  assert.equal(generalCount(4, 0.1), 0); // 4 * 0.1 / 0.9 = 0.44: none
  assert.equal(generalCount(10, 0), 0);
  assert.equal(generalCount(0, 0.5), 0);
  for (const share of [1, -0.1, Number.NaN])
    assert.throws(() => generalCount(10, share), /share .* must be in \[0, 1\)/);
});

test("mixRecords: the method's records first, unchanged, then distinct general ones, seeded", () => {
  const method = records("m", 4);
  const general = records("g", 10);
  const mix = mixRecords(method, general, { share: 0.5, seed: 5 });
  assert.equal(mix.length, 8);
  assert.deepEqual(mix.slice(0, 4), method);
  const drawn = ids(mix.slice(4));
  assert.equal(new Set(drawn).size, 4, "drawn without replacement");
  for (const id of drawn) assert.match(id, /^g\d$/);
  assert.deepEqual(mixRecords(method, general, { share: 0.5, seed: 5 }), mix, "same seed, same mix");
  const others = [6, 7, 8].map((seed) => ids(mixRecords(method, general, { share: 0.5, seed }).slice(4)));
  assert.ok(
    others.some((o) => o.join() !== drawn.join()),
    "another seed draws otherwise",
  );
  // A larger share extends a smaller one's draw: 6 general records beside 4 at 0.6.
  const more = ids(mixRecords(method, general, { share: 0.6, seed: 5 }).slice(4));
  assert.equal(more.length, 6);
  assert.deepEqual(more.slice(0, 4), drawn);
  assert.deepEqual(ids(general), ids(records("g", 10)), "the input is left alone");
});

test("mixRecords: share 0 is the method's records alone; too few general records or a shared id is refused", () => {
  const method = records("m", 3);
  assert.deepEqual(mixRecords(method, [], { share: 0, seed: 1 }), method);
  assert.throws(
    () => mixRecords(records("m", 4), records("g", 10), { share: 0.75, seed: 1 }),
    /a share of 0\.75 beside 4 method records needs 12 general records; 10 given/,
  );
  assert.throws(
    () => mixRecords([{ id: "x" }], [{ id: "x" }], { share: 0.5, seed: 1 }),
    /id 'x' is both a method record and a general one/,
  );
});
