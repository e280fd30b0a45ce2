import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { isUnfinishedDir, writeDirAtomic, writeDirAtomicSync } from "../../src/util/atomic-dir.js";

const scratch = () => mkdtempSync(join(tmpdir(), "atomic-dir-"));

/** Every file under dir with its text, as `path=text`, sorted. */
function contents(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => {
      const path = join(e.parentPath, e.name);
      return `${path.slice(dir.length + 1)}=${readFileSync(path, "utf8")}`;
    })
    .sort();
}

test("writeDirAtomicSync builds a new folder, then replaces it whole (never merged)", () => {
  const parent = scratch();
  const dir = join(parent, "nested", "out");
  writeDirAtomicSync(dir, (tmp) => {
    assert.ok(!existsSync(dir), "the folder is not visible while it is built");
    writeFileSync(join(tmp, "a"), "1");
    mkdirSync(join(tmp, "sub"));
    writeFileSync(join(tmp, "sub", "b"), "2");
  });
  assert.deepEqual(contents(dir), ["a=1", "sub/b=2"]);
  writeDirAtomicSync(dir, (tmp) => writeFileSync(join(tmp, "c"), "3"));
  assert.deepEqual(contents(dir), ["c=3"], "the old files are gone");
  assert.deepEqual(readdirSync(join(parent, "nested")), ["out"], "no temporary or old folder is left");
});

test("writeDirAtomicSync: a build that throws leaves the old folder intact and no temporary folder", () => {
  const parent = scratch();
  const dir = join(parent, "out");
  writeDirAtomicSync(dir, (tmp) => writeFileSync(join(tmp, "keep"), "old"));
  assert.throws(
    () =>
      writeDirAtomicSync(dir, (tmp) => {
        writeFileSync(join(tmp, "keep"), "half");
        throw new Error("build failed");
      }),
    /build failed/,
  );
  assert.deepEqual(contents(dir), ["keep=old"]);
  assert.deepEqual(readdirSync(parent), ["out"]);
  // Nothing existed before: a failed build leaves nothing at all.
  assert.throws(() => writeDirAtomicSync(join(parent, "fresh"), () => assert.fail("boom")), /boom/);
  assert.deepEqual(readdirSync(parent), ["out"]);
});

test("writeDirAtomic awaits the build; a rejected build leaves the old folder; leftovers of a killed attempt go", async () => {
  const parent = scratch();
  const dir = join(parent, "out");
  // A killed attempt of this process left both of its sibling folders.
  for (const leftover of [`out.tmp-${process.pid}`, `out.old-${process.pid}`]) {
    mkdirSync(join(parent, leftover));
    writeFileSync(join(parent, leftover, "half"), "x");
  }
  await writeDirAtomic(dir, async (tmp) => {
    await new Promise((r) => setTimeout(r, 5));
    writeFileSync(join(tmp, "a"), "1");
  });
  assert.deepEqual(contents(dir), ["a=1"]);
  assert.deepEqual(readdirSync(parent), ["out"]);
  await writeDirAtomic(dir, (tmp) => writeFileSync(join(tmp, "b"), "2"));
  assert.deepEqual(readdirSync(parent), ["out"]);
  await assert.rejects(
    writeDirAtomic(dir, async () => {
      throw new Error("async boom");
    }),
    /async boom/,
  );
  assert.deepEqual(contents(dir), ["b=2"]);
  assert.deepEqual(readdirSync(parent), ["out"]);
});

test("isUnfinishedDir names exactly the writer's temporary siblings", () => {
  for (const name of ["model.tmp-123", "checkpoint-4.old-9", ".x.tmp-1"]) assert.ok(isUnfinishedDir(name), name);
  for (const name of ["model", "model.tmp", "tmp-123", "model.tmp-12a", "checkpoint-4"]) {
    assert.ok(!isUnfinishedDir(name), name);
  }
});
