import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { instructionQuestions, poolItems } from "../../../src/methods/common/world-items.js";
import { seededSubset } from "../../../src/util/prng.js";
import { buildSplit } from "../../../src/world/build.js";
import { parseWorldConfig } from "../../../src/world/index.js";

const dir = mkdtempSync(join(tmpdir(), "world-items-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const config = parseWorldConfig({
  seed: 3,
  image: { width: 32, height: 32 },
  words: { probability: 0.3, list: ["X", "Z"] },
  splits: {
    pretraining: { scenes: 0, creatures: 0 },
    instruction: { scenes: 5, creatures: 2 },
    pool: { scenes: 6, creatures: 2 },
    validation: { scenes: 0, creatures: 0 },
    test: { scenes: 0, creatures: 0 },
  },
});

interface Line {
  id: string;
  image: string;
  sha256: string;
  questions?: { question: string; answer: string }[];
}
const lines = (split: string): Line[] =>
  readFileSync(join(dir, `${split}.jsonl`), "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));

before(async () => {
  await buildSplit(config, { split: "pool", outDir: dir });
  await buildSplit(config, { split: "instruction", outDir: dir });
});

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

test("poolItems: n pool images as PNG bytes of the right files, deterministic, larger n extends smaller", () => {
  const records = new Map(lines("pool").map((r) => [r.id, r]));
  assert.equal(records.size, 8);
  const items = poolItems(dir, 5, 11);
  assert.equal(items.length, 5);
  assert.equal(new Set(items.map((i) => i.id)).size, 5);
  for (const item of items) {
    const r = records.get(item.id);
    assert.ok(r, `${item.id} is a pool record`);
    assert.equal(item.source, item.id);
    assert.equal(item.image.mimeType, "image/png");
    assert.deepEqual([...item.image.bytes.slice(0, 8)], PNG);
    assert.deepEqual(Buffer.from(item.image.bytes), readFileSync(join(dir, r.image)));
    assert.equal(createHash("sha256").update(item.image.bytes).digest("hex"), r.sha256);
  }
  const ids = (xs: { id: string }[]) => xs.map((x) => x.id);
  assert.deepEqual(ids(poolItems(dir, 5, 11)), ids(items));
  assert.deepEqual(ids(poolItems(dir, 3, 11)), ids(items).slice(0, 3));
  assert.deepEqual(ids(poolItems(dir, 99, 11)).slice(0, 5), ids(items), "n past the pool: every image");
  assert.equal(poolItems(dir, 99, 11).length, 8);
  assert.deepEqual(ids(poolItems(dir, 5, 11)), ids(seededSubset([...records.values()], 5, 11)));
});

test("instructionQuestions: one question per image with its own answer, deterministic", () => {
  const records = new Map(lines("instruction").map((r) => [r.id, r]));
  const items = instructionQuestions(dir, 6, 4);
  assert.equal(items.length, 6);
  assert.equal(new Set(items.map((i) => i.id)).size, 6, "one question per image");
  for (const item of items) {
    const r = records.get(item.id);
    assert.ok(r, `${item.id} is an instruction record`);
    const qa = (r.questions ?? []).find((q) => q.question === item.question);
    assert.ok(qa, `${item.id}: the question is one of the record's`);
    assert.equal(item.answer, qa.answer, `${item.id}: the answer is the question's`);
    assert.equal(item.source, item.id);
    assert.deepEqual(Buffer.from(item.image.bytes), readFileSync(join(dir, r.image)));
  }
  assert.deepEqual(instructionQuestions(dir, 6, 4), items);
  // A smaller n: the same images with the same questions.
  assert.deepEqual(instructionQuestions(dir, 2, 4), items.slice(0, 2));
  // Over seeds, the question drawn per image varies (images have several).
  const picks = new Set(
    [0, 1, 2, 3, 5, 6].map((seed) => instructionQuestions(dir, 7, seed).find((i) => i.id === items[0].id)!.question),
  );
  assert.ok(picks.size > 1, "the question depends on the seed");
});

test("a missing split, a bad line or an image path outside the world are errors naming the file", () => {
  const other = mkdtempSync(join(tmpdir(), "world-items-bad-"));
  try {
    assert.throws(() => poolItems(other, 2, 0), /pool\.jsonl not found; build it with/);
    writeFileSync(join(other, "pool.jsonl"), `{"id": "a", "kind": "scene", "image": "images/a.png"}\n{"id": 3}\n`);
    assert.throws(() => poolItems(other, 2, 0), /pool\.jsonl line 2: not a world record/);
    writeFileSync(join(other, "pool.jsonl"), `{"id": "a", "kind": "scene", "image": "../secret.png"}\n`);
    assert.throws(() => poolItems(other, 1, 0), /pool record a: path "\.\.\/secret\.png" escapes/);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
});
