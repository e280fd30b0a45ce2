import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hashFiles, listFiles, writeDirAtomic, writeFileAtomic } from "../../src/run/atomic.js";
import { runStep } from "../../src/run/context.js";
import { tmp } from "./kinds.js";

test("writeFileAtomic replaces the file whole and leaves no temporary file", () => {
  const dir = tmp("atomic-");
  const path = join(dir, "sub", "a.json");
  writeFileAtomic(path, "one");
  writeFileAtomic(path, new Uint8Array([116, 119, 111]));
  assert.equal(readFileSync(path, "utf8"), "two");
  assert.deepEqual(readdirSync(join(dir, "sub")), ["a.json"]);
});

test("writeDirAtomic: a folder appears whole, replaces the old one, and clears a killed attempt's leftovers", async () => {
  const dir = tmp("atomic-dir-");
  const target = join(dir, "model");
  // A killed earlier attempt left a half-filled temporary folder.
  mkdirSync(`${target}.tmp-${process.pid}`);
  writeFileSync(join(`${target}.tmp-${process.pid}`, "half"), "x");
  await writeDirAtomic(target, (t) => {
    assert.ok(!existsSync(target), "not visible while filling");
    writeFileSync(join(t, "a"), "1");
    mkdirSync(join(t, "sub"));
    writeFileSync(join(t, "sub", "b"), "2");
  });
  assert.deepEqual(listFiles(target), ["a", "sub/b"]);
  await writeDirAtomic(target, (t) => writeFileSync(join(t, "c"), "3"));
  assert.deepEqual(listFiles(target), ["c"]);
  assert.deepEqual(readdirSync(dir), ["model"]);
  // A failing fill leaves the old folder as it was.
  await assert.rejects(
    writeDirAtomic(target, () => {
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.deepEqual(listFiles(target), ["c"]);
  assert.deepEqual(Object.keys(hashFiles(dir)), ["model/c"]);
});

test("runStep runs once, stores the JSON result, and returns the same value on both paths", async () => {
  const dir = tmp("steps-");
  let runs = 0;
  const fn = async () => {
    runs++;
    return { n: 3, when: new Date(0), gone: undefined };
  };
  const first = await runStep(dir, "a", fn);
  const second = await runStep(dir, "a", fn);
  assert.equal(runs, 1);
  assert.deepEqual(first, { n: 3, when: "1970-01-01T00:00:00.000Z" });
  assert.deepEqual(second, first);
  assert.equal(await runStep(dir, "void", () => undefined), undefined);
  assert.equal(await runStep(dir, "void", () => assert.fail("ran twice")), undefined);
  await assert.rejects(runStep(dir, "../x", fn), /step name/);
  const aborted = new AbortController();
  aborted.abort(new Error("stopped"));
  await assert.rejects(runStep(dir, "b", fn, aborted.signal), /stopped/);
  assert.equal(await runStep(dir, "a", fn, aborted.signal).then((r) => r.n), 3, "a stored step needs no work");
});
