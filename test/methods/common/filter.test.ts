import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { createDataset, readRecords } from "../../../src/data/dataset.js";
import { writeFiltered } from "../../../src/methods/common/filter.js";
import { cleanup, png, sftRecord, tempDir } from "../../data/fixtures.js";

after(cleanup);

/** Four SFT records a, b, c, d in one dataset. */
async function recordsFile() {
  const root = tempDir("filter");
  const image = await createDataset(root).put(await png(), "image/png");
  const records = ["a", "b", "c", "d"].map((id) => sftRecord(id, image));
  const path = join(root, "records.jsonl");
  writeFileSync(path, records.map((r) => `${JSON.stringify(r)}\n`).join(""));
  return { root, path, records };
}

const base = (root: string, path: string, out: string) => ({
  name: "testFilter",
  kind: "sft" as const,
  recordsPath: path,
  root,
  out,
  reasons: ["too-short", "off-topic", "unused"] as const,
  noneKept: "passes the test",
});

test("writeFiltered keeps the records judged null, in order, and counts every reason from 0", async () => {
  const { root, path, records } = await recordsFile();
  const out = join(root, "kept.jsonl");
  // Synchronous judge: the result comes back at once.
  const result = writeFiltered({ ...base(root, path, out), judge: () => ["too-short", null, "off-topic", null] });
  assert.deepEqual(result, { records: 4, kept: 2, dropped: { "too-short": 1, "off-topic": 1, unused: 0 } });
  assert.deepEqual(readRecords(out, "sft", { root }), [records[1], records[3]]);
  // Asynchronous judge: a promise of the same.
  const later = writeFiltered({
    ...base(root, path, out),
    judge: async (rs) => rs.map((r) => (r.id === "a" ? null : "too-short")),
  });
  assert.ok(later instanceof Promise);
  assert.deepEqual(await later, { records: 4, kept: 1, dropped: { "too-short": 3, "off-topic": 0, unused: 0 } });
  assert.deepEqual(readRecords(out, "sft", { root }), [records[0]]);
});

test("writeFiltered: nothing kept, or a verdict count that is not the record count, is an error and writes nothing", async () => {
  const { root, path } = await recordsFile();
  const out = join(root, "none.jsonl");
  assert.throws(
    () => writeFiltered({ ...base(root, path, out), judge: (rs) => rs.map(() => "unused" as const) }),
    /^Error: testFilter: none of the 4 records of .*records\.jsonl passes the test$/,
  );
  assert.throws(
    () => writeFiltered({ ...base(root, path, out), judge: () => [null] }),
    /testFilter: 1 verdicts for the 4 records/,
  );
  assert.throws(() => readFileSync(out));
});
