import assert from "node:assert/strict";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { checkRecordImages, listRecordFiles, RecordWriter, readRecords } from "../../src/data/dataset.js";
import { PathEscapeError } from "../../src/data/image-store.js";
import { RecordError, type SftRecord } from "../../src/data/records.js";
import { cleanup, preferenceRecord, sftRecord, smallDataset } from "./fixtures.js";

after(cleanup);

test("round trip: records written by RecordWriter read back equal, in order", async () => {
  const { root, red, blue, sft, pref } = await smallDataset();
  const path = join(root, "out.jsonl");
  const w = RecordWriter.open(path, "any");
  assert.equal(w.size, 0);
  w.append([sftRecord("a", red), preferenceRecord("b", blue)]);
  w.append([sftRecord("c", red)]);
  w.close();
  const back = readRecords(path, "any");
  assert.deepEqual(
    back.map((r) => r.id),
    ["a", "b", "c"],
  );
  assert.deepEqual(back[1], preferenceRecord("b", blue));
  // The hand-written file of the fixture too.
  assert.deepEqual(readRecords(join(root, "records.jsonl"), "any"), [sft, pref]);
  assert.deepEqual(listRecordFiles(root), [join(root, "out.jsonl"), join(root, "records.jsonl")]);
});

test("schema violations are named by file, line and field", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "bad.jsonl");
  const bad = {
    ...sftRecord("x", red),
    messages: [
      { role: "user", content: "<image>\nHi" },
      { role: "user", content: "no" },
    ],
  };
  writeFileSync(path, `${JSON.stringify(sftRecord("ok", red))}\n\n${JSON.stringify(bad)}\n`);
  assert.throws(
    () => readRecords(path, "sft"),
    (e: Error) => {
      assert.ok(e instanceof RecordError);
      assert.equal(e.message, `${path} line 3: invalid record: messages[1].role: expected assistant`);
      return true;
    },
  );
  // The wrong kind for the file, and a line that is not JSON.
  assert.throws(() => readRecords(join(root, "records.jsonl"), "sft"), /records\.jsonl line 2: invalid record: kind/);
  writeFileSync(path, `${JSON.stringify(sftRecord("ok", red))}\n{"kind": "sft", \n`);
  assert.throws(() => readRecords(path, "sft"), new RegExp(`^RecordError: ${path} line 2: not JSON`));
  // A field of the provenance.
  const noModel = { ...sftRecord("y", red), provenance: { method: "stic", stage: "s" } };
  writeFileSync(path, `${JSON.stringify(noModel)}\n`);
  assert.throws(() => readRecords(path, "any"), /bad\.jsonl line 1: invalid record: provenance\.model: /);
});

test("readRecords checks that images exist inside the root and refuses escaping paths", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "imgs.jsonl");
  const missing = `images/${"0".repeat(64)}.png`;
  writeFileSync(path, `${JSON.stringify(sftRecord("a", red))}\n${JSON.stringify(sftRecord("b", missing))}\n`);
  assert.throws(
    () => readRecords(path, "sft"),
    new RegExp(`imgs\\.jsonl line 2: images\\[0\\]: ${missing} does not exist`),
  );
  assert.equal(readRecords(path, "sft", { checkImages: false }).length, 2);
  // An escaping path never gets past the schema (images/<sha256>.<ext>), and resolveInside backs it up
  // for records validated elsewhere: the writer with a root that does not hold the image refuses it.
  const escaping = { ...sftRecord("c", red), images: ["../x.png"] };
  writeFileSync(path, `${JSON.stringify(escaping)}\n`);
  assert.throws(() => readRecords(path, "sft"), /imgs\.jsonl line 1: invalid record: images\[0\]: expected images/);
});

test("duplicate ids are refused: in a chunk, against the file, and when reading", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "dup.jsonl");
  const w = RecordWriter.open(path, "sft");
  w.append([sftRecord("a", red)]);
  assert.throws(
    () => w.append([sftRecord("b", red), sftRecord("a", red)]),
    /appended record 1 \(id "a"\): id: "a" is already written/,
  );
  assert.throws(() => w.append([sftRecord("c", red), sftRecord("c", red)]), /appended record 1 \(id "c"\)/);
  w.close();
  // Nothing of the refused chunks reached the file.
  assert.deepEqual(
    readRecords(path, "sft").map((r) => r.id),
    ["a"],
  );
  appendFileSync(path, `${JSON.stringify(sftRecord("a", red))}\n`);
  assert.throws(() => readRecords(path, "sft"), /dup\.jsonl line 2: id: duplicate id "a" \(first on line 1\)/);
  assert.throws(() => RecordWriter.open(path, "sft"), /dup\.jsonl line 2: id: duplicate id "a"/);
});

test("a chunk with one invalid record writes nothing", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "chunk.jsonl");
  const w = RecordWriter.open(path, "sft");
  const bad = { ...sftRecord("b", red), images: [] } as SftRecord;
  assert.throws(
    () => w.append([sftRecord("a", red), bad]),
    /appended record 1 \(id "b"\): invalid record: images: 0 images but 1 <image> markers/,
  );
  const missing = sftRecord("m", `images/${"1".repeat(64)}.png`);
  assert.throws(
    () => w.append([sftRecord("a", red), missing]),
    /appended record 1 \(id "m"\): images\[0\]: .* does not exist/,
  );
  assert.equal(readFileSync(path, "utf8"), "");
  assert.equal(w.has("a"), false);
  w.append([sftRecord("a", red)]);
  assert.equal(w.has("a"), true);
  w.close();
  assert.throws(() => w.append([sftRecord("z", red)]), /closed/);
});

test("torn tail: a half-written last line is cut off on reopen; ids, appends and content are right", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "torn.jsonl");
  const w = RecordWriter.open(path, "sft");
  w.append([sftRecord("a", red), sftRecord("b", red)]);
  w.close();
  const whole = readFileSync(path, "utf8");
  const line = JSON.stringify(sftRecord("c", red));
  appendFileSync(path, line.slice(0, 40)); // the run was killed mid-write
  assert.throws(() => readRecords(path, "sft"), /torn\.jsonl line 3: not JSON \(the last line is cut short/);

  const resumed = RecordWriter.open(path, "sft");
  assert.equal(resumed.droppedBytes, 40);
  assert.deepEqual([...resumed.ids], ["a", "b"]);
  assert.equal(readFileSync(path, "utf8"), whole, "the file is truncated to its last complete line");
  resumed.append([sftRecord("c", red)]);
  resumed.close();
  assert.equal(readFileSync(path, "utf8"), `${whole}${line}\n`);
  assert.deepEqual(
    readRecords(path, "sft").map((r) => r.id),
    ["a", "b", "c"],
  );
});

test("torn tail cut inside a multi-byte character, and a whole last record without its newline", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "utf8.jsonl");
  const first = `${JSON.stringify({ ...sftRecord("é", red), id: "é" })}\n`;
  const second = Buffer.from(JSON.stringify({ ...sftRecord("ü", red), id: "ü" }), "utf8");
  const cut = second.indexOf(Buffer.from("ü")) + 1; // inside the two bytes of ü
  writeFileSync(path, Buffer.concat([Buffer.from(first), second.subarray(0, cut)]));
  const w = RecordWriter.open(path, "sft");
  assert.deepEqual([...w.ids], ["é"]);
  w.close();
  assert.equal(readFileSync(path, "utf8"), first);

  // Killed just before the newline: the record is whole and kept, and gets its newline.
  writeFileSync(path, `${first}${JSON.stringify(sftRecord("b", red))}`);
  const w2 = RecordWriter.open(path, "sft");
  assert.deepEqual([...w2.ids], ["é", "b"]);
  assert.equal(w2.droppedBytes, 0);
  w2.append([sftRecord("c", red)]);
  w2.close();
  assert.deepEqual(
    readRecords(path, "sft").map((r) => r.id),
    ["é", "b", "c"],
  );
});

test("a complete line that is invalid is an error on open, and the file is left alone", async () => {
  const { root, red } = await smallDataset();
  const path = join(root, "inv.jsonl");
  const content = `${JSON.stringify(sftRecord("a", red))}\n${JSON.stringify({ ...sftRecord("b", red), kind: "dpo" })}\n`;
  writeFileSync(path, content);
  assert.throws(
    () => RecordWriter.open(path, "any"),
    /inv\.jsonl line 2: invalid record: kind: expected "sft" or "preference"/,
  );
  writeFileSync(path, `{broken\n${JSON.stringify(sftRecord("a", red))}\n`);
  assert.throws(() => RecordWriter.open(path, "sft"), /inv\.jsonl line 1: not JSON/);
  assert.equal(readFileSync(path, "utf8").startsWith("{broken\n"), true);
});

test("image checks go through resolveInside (for records that bypassed the schema)", async () => {
  const { root, red } = await smallDataset();
  const record = { ...sftRecord("a", red), images: ["../x.png"] };
  assert.throws(
    () => checkRecordImages(record, root, "x.jsonl line 4"),
    (e: Error) =>
      e instanceof PathEscapeError && /^x\.jsonl line 4: images\[0\]: path "\.\.\/x\.png" escapes/.test(e.message),
  );
});
