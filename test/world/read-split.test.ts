import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { z } from "zod";
import { buildSplit } from "../../src/world/build.js";
import { parseWorldConfig } from "../../src/world/config.js";
import { readWorldSplit, splitLineSchema, WorldSplitError } from "../../src/world/read-split.js";

const config = parseWorldConfig({
  seed: 5,
  splits: {
    pretraining: { scenes: 2, creatures: 1 },
    instruction: { scenes: 2, creatures: 1 },
    pool: { scenes: 3, creatures: 2 },
    validation: { scenes: 2, creatures: 1 },
    test: { scenes: 3, creatures: 2 },
  },
});

const built = (async () => {
  const dir = mkdtempSync(join(tmpdir(), "read-split-"));
  for (const split of ["test", "pool"] as const) await buildSplit(config, { split, outDir: dir });
  return dir;
})();

const lines = (path: string) =>
  readFileSync(path, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

test("whole records read back exactly as the build wrote them; a narrower schema keeps only its fields", async () => {
  const dir = await built;
  const records = readWorldSplit(dir, "test");
  assert.deepEqual(records, lines(join(dir, "test.jsonl")));
  assert.deepEqual(
    records.map((r) => r.kind),
    ["scene", "scene", "scene", "creature", "creature"],
  );
  // The pool's lines hold only what finds the image; its truth holds whole records.
  const pool = readWorldSplit(dir, "pool", splitLineSchema);
  assert.deepEqual(pool[0], {
    id: "pool-s000000",
    kind: "scene",
    image: "images/pool-s000000.png",
    sha256: pool[0].sha256,
  });
  assert.equal(readWorldSplit(dir, "pool-truth").length, 5);
  assert.throws(
    () => readWorldSplit(dir, "pool"),
    /pool\.jsonl line 1: not a world record/,
    "pool lines are not whole records",
  );
  const ids = readWorldSplit(dir, "test", z.object({ id: z.string() }));
  assert.deepEqual(ids[0], { id: "test-s000000" });
});

test("a malformed line is an error naming the file and the line; a missing split says how to build it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "read-split-bad-"));
  const path = join(dir, "test.jsonl");
  const good = JSON.stringify({ id: "a", kind: "scene", image: "images/a.png" });
  writeFileSync(path, `${good}\n\n${good}\n{"id": "b", "kind": "scene", "image": 7}\n`);
  assert.throws(
    () => readWorldSplit(dir, "test", splitLineSchema),
    (e: unknown) =>
      e instanceof WorldSplitError &&
      e.message.startsWith(`${path} line 4: not a world record`) &&
      /image/.test(e.message),
  );
  writeFileSync(path, `${good}\n{"id": "b",\n`);
  assert.throws(() => readWorldSplit(dir, "test", splitLineSchema), /test\.jsonl line 2: not JSON/);
  writeFileSync(path, `${JSON.stringify({ id: "a", kind: "dragon", image: "images/a.png" })}\n`);
  assert.throws(() => readWorldSplit(dir, "test", splitLineSchema), /test\.jsonl line 1: not a world record/);
  assert.throws(
    () => readWorldSplit(dir, "validation"),
    (e: unknown) =>
      e instanceof WorldSplitError &&
      e.message ===
        `${join(dir, "validation.jsonl")} not found; build it with: selfsynth world build --config <yaml> --out ${dir} --split validation`,
  );
  assert.throws(() => readWorldSplit(dir, "pool-truth"), /pool-truth\.jsonl not found; .* --split pool$/);
});
