import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { configHash, loadWorldConfig, parseWorldConfig, WorldConfigError } from "../../src/world/config.js";

const fails = (input: unknown, ...needles: string[]) => {
  assert.throws(
    () => parseWorldConfig(input),
    (e: unknown) => {
      assert.ok(e instanceof WorldConfigError);
      for (const n of needles) assert.ok(e.message.includes(n), `"${e.message}" lacks "${n}"`);
      return true;
    },
  );
};

test("defaults fill every field", () => {
  const c = parseWorldConfig({});
  assert.equal(c.image.width, 64);
  assert.equal(c.objects.shapes.length, 10);
  assert.equal(c.objects.colors.length, 10);
  assert.equal(c.splits.test.priorBreakingShare, 0.5);
  assert.equal(c.splits.pretraining.biased, true);
  assert.equal(c.priors.pairs[0].p, 0.5);
});

test("the shipped default.yaml equals the built-in defaults", () => {
  const c = loadWorldConfig(join(import.meta.dirname, "../../assets/world/default.yaml"));
  assert.deepEqual(c, parseWorldConfig({}));
});

test("biased-pool.yaml is the default world but for a pool that follows the training prior", () => {
  const c = loadWorldConfig(join(import.meta.dirname, "../../assets/world/biased-pool.yaml"));
  const d = parseWorldConfig({});
  assert.deepEqual(c.splits.pool, { ...d.splits.pool, biased: true, priorBreakingShare: 0 });
  assert.deepEqual({ ...c, splits: { ...c.splits, pool: d.splits.pool } }, d);
  assert.notEqual(configHash(c), configHash(d));
});

test("a bad choice names the field and the allowed values", () => {
  fails({ objects: { shapes: ["circle", "blob"] } }, "objects.shapes[1]", "circle", "crescent");
  fails({ scenes: ["moon"] }, "scenes[0]", "beach", "snow");
  fails({ priors: { pairs: [{ anchor: "star", partner: "plane" }] } }, "priors.pairs[0].partner", "hexagon");
});

test("an unknown field names itself and the fields allowed there", () => {
  fails({ splits: { test: { biasd: true } } }, "splits.test.biasd", "unknown field", "biased", "priorBreakingShare");
  fails({ colour: 1 }, "colour", "allowed fields", "objects");
});

test("out-of-range numbers and rules between fields are reported by path", () => {
  fails({ render: { contrast: 2 } }, "render.contrast", "<=1");
  fails({ objects: { min: 5, max: 2 } }, "objects.min", "objects.max");
  fails({ words: { list: ["CATS", "DOG"] } }, "words.list[0]", "at most 3 letters");
  fails({ words: { list: ["DOG", "BOX"] } }, "words.list[1]", "object word");
  fails({ words: { list: ["THE"] } }, "words.list[0]", "article");
  fails({ creatures: { heldOut: ["bosk", "unicorn"] } }, "creatures.heldOut[1]", "not a species");
  fails({ creatures: { species: ["arbel", "bosk"], heldOut: ["dravet"] } }, "creatures.heldOut[0]", "not a species");
  fails({ creatures: { species: ["arbel", "bosk"], heldOut: ["arbel", "bosk"] } }, "creatures.heldOut", "keep one");
  fails(
    {
      priors: {
        pairs: [
          { anchor: "star", partner: "ring" },
          { anchor: "ring", partner: "heart" },
        ],
      },
    },
    "priors.pairs[1].anchor",
  );
});

test("YAML errors name the file", () => {
  const dir = mkdtempSync(join(tmpdir(), "world-config-"));
  const path = join(dir, "bad.yaml");
  writeFileSync(path, "objects: [unclosed\n");
  assert.throws(() => loadWorldConfig(path), /bad\.yaml.*not valid YAML/);
  writeFileSync(path, "render:\n  jitter: lots\n");
  assert.throws(() => loadWorldConfig(path), /bad\.yaml.*render\.jitter/);
});
