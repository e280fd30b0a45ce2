// writeStageRecords: records made without a model, written whole: validated as RecordWriter
// validates, nothing written when one is bad, drops counted by reason, a torn earlier attempt
// replaced.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { readRecords } from "../../../src/data/dataset.js";
import type { SftRecord } from "../../../src/data/records.js";
import { openStageData, writeStageRecords } from "../../../src/methods/common/stage-data.js";
import type { StageContext } from "../../../src/run/stage-kind.js";
import { testImage } from "../stic/fake-vlm.js";

const dir = mkdtempSync(join(tmpdir(), "stage-data-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const ctxAt = (stageDir: string) => ({ stageDir }) as StageContext;

async function setUp(name: string) {
  const data = openStageData(ctxAt(join(dir, name)), "records.jsonl");
  const image = await testImage(1);
  const path = await data.store.put(image.bytes, image.mimeType);
  const record = (id: string, answer = "yes"): SftRecord => ({
    kind: "sft",
    id,
    images: [path],
    messages: [
      { role: "user", content: "<image>\nIs there a star in the image?" },
      { role: "assistant", content: answer },
    ],
    provenance: { method: "supervised", stage: "s", model: "world:pool-truth", reasons: ["ground-truth"] },
  });
  return { data, record };
}

test("writes the records and the drops whole, and returns the counts makeRecords returns", async () => {
  const { data, record } = await setUp("ok");
  // A torn file of a killed attempt is replaced.
  writeFileSync(data.recordsPath, '{"kind": "sft", "id": "a/descr');
  const records = [record("a/description"), record("a/existence-0", "no")];
  const result = writeStageRecords(data, "sft", records, [
    { itemId: "b", reason: "no-description" },
    { itemId: "c", reason: "no-description" },
  ]);
  assert.deepEqual(result, { records: 2, drops: { "no-description": 2 } });
  assert.deepEqual(readRecords(data.recordsPath, "sft", { root: data.root }), records);
  assert.equal(
    readFileSync(data.dropsPath, "utf8"),
    '{"itemId":"b","reason":"no-description"}\n{"itemId":"c","reason":"no-description"}\n',
  );
  // No drops: an empty drops file.
  assert.deepEqual(writeStageRecords(data, "sft", records, []), { records: 2, drops: {} });
  assert.equal(readFileSync(data.dropsPath, "utf8"), "");
});

test("a bad record, a duplicate id or an image missing from the store writes nothing", async () => {
  const { data, record } = await setUp("bad");
  const bad = { ...record("x"), messages: [{ role: "user" as const, content: "<image>\nQ?" }] };
  assert.throws(() => writeStageRecords(data, "sft", [record("a"), bad], []), /record 1 \(id "x"\).*messages/);
  assert.throws(() => writeStageRecords(data, "sft", [record("a"), record("a")], []), /duplicate id "a"/);
  const missing = { ...record("m"), images: [`images/${"0".repeat(64)}.png`] };
  assert.throws(() => writeStageRecords(data, "sft", [missing], []), /does not exist/);
  assert.ok(!existsSync(data.recordsPath) && !existsSync(data.dropsPath));
});
