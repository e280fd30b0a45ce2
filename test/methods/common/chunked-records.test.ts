import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { RecordWriter, readRecords } from "../../../src/data/dataset.js";
import type { SftRecord } from "../../../src/data/records.js";
import {
  type ChunkOutcome,
  type Dropped,
  generateInChunks,
  readDrops,
} from "../../../src/methods/common/chunked-records.js";

const root = mkdtempSync(join(tmpdir(), "chunked-records-"));
after(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const fresh = () => {
  const dir = join(root, String(dirs++));
  return { records: join(`${dir}.jsonl`), drops: join(`${dir}.drops.jsonl`) };
};

interface Item {
  id: string;
}
const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: `item-${i}` }));

const record = (id: string): SftRecord => ({
  kind: "sft",
  id,
  images: [],
  messages: [
    { role: "user", content: `question ${id}` },
    { role: "assistant", content: `answer ${id}` },
  ],
  provenance: { method: "test", stage: "s", model: "fake" },
});

/** make(): every third item (by number) is dropped as "odd-one", the others give a record; chunks are logged. */
function maker(calls: string[][]) {
  return async (chunk: Item[]): Promise<ChunkOutcome<SftRecord>> => {
    calls.push(chunk.map((i) => i.id));
    const out: ChunkOutcome<SftRecord> = { records: [], dropped: [] };
    for (const item of chunk) {
      if (Number(item.id.split("-")[1]) % 3 === 2) out.dropped.push({ itemId: item.id, reason: "odd-one" });
      else out.records.push(record(item.id));
    }
    return out;
  };
}

async function run(paths: { records: string; drops: string }, list: Item[], calls: string[][], chunkSize = 3) {
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  const progress: [number, number][] = [];
  try {
    const result = await generateInChunks({
      items: list,
      chunkSize,
      writer,
      dropsPath: paths.drops,
      make: maker(calls),
      onProgress: (done, total) => progress.push([done, total]),
    });
    return { result, progress };
  } finally {
    writer.close();
  }
}

const recordIds = (path: string) => readRecords(path, "sft", { checkImages: false }).map((r) => r.id);

test("records and drops are written chunk by chunk; a rerun with the same items makes nothing", async () => {
  const paths = fresh();
  const calls: string[][] = [];
  const { result, progress } = await run(paths, items(7), calls);
  assert.deepEqual(calls, [["item-0", "item-1", "item-2"], ["item-3", "item-4", "item-5"], ["item-6"]]);
  assert.deepEqual(progress, [
    [0, 7],
    [3, 7],
    [6, 7],
    [7, 7],
  ]);
  assert.deepEqual(result, { records: 5, drops: { "odd-one": 2 } });
  assert.deepEqual(recordIds(paths.records), ["item-0", "item-1", "item-3", "item-4", "item-6"]);
  assert.deepEqual(readDrops(paths.drops), [
    { itemId: "item-2", reason: "odd-one" },
    { itemId: "item-5", reason: "odd-one" },
  ]);
  const recordsBefore = readFileSync(paths.records, "utf8");
  const dropsBefore = readFileSync(paths.drops, "utf8");

  // Rerun: every item is done (in one file or the other), so make is never called.
  const again: string[][] = [];
  const rerun = await run(paths, items(7), again);
  assert.deepEqual(again, []);
  assert.deepEqual(rerun.result, result);
  assert.deepEqual(rerun.progress, [[7, 7]]);
  assert.equal(readFileSync(paths.records, "utf8"), recordsBefore);
  assert.equal(readFileSync(paths.drops, "utf8"), dropsBefore);

  // More items: only the new ones are made, in chunks cut from the whole list.
  const more: string[][] = [];
  const extended = await run(paths, items(10), more);
  assert.deepEqual(more, [["item-7", "item-8"], ["item-9"]]);
  assert.deepEqual(extended.result, { records: 7, drops: { "odd-one": 3 } });
});

test("a rerun after a kill makes only the items not done, in their original chunks", async () => {
  const paths = fresh();
  // As if killed after chunk 0 and inside chunk 1: item-3's record was written, its drops were not.
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  writer.append([record("item-0"), record("item-1"), record("item-3")]);
  writer.close();
  writeFileSync(paths.drops, `${JSON.stringify({ itemId: "item-2", reason: "odd-one" })}\n`);
  const calls: string[][] = [];
  const { result, progress } = await run(paths, items(7), calls);
  assert.deepEqual(calls, [["item-4", "item-5"], ["item-6"]]);
  assert.deepEqual(progress, [
    [4, 7],
    [6, 7],
    [7, 7],
  ]);
  assert.deepEqual(result, { records: 5, drops: { "odd-one": 2 } });

  // The same as an uninterrupted run.
  const clean = fresh();
  await run(clean, items(7), []);
  assert.deepEqual(recordIds(paths.records).sort(), recordIds(clean.records).sort());
  assert.deepEqual(readDrops(paths.drops), readDrops(clean.drops));
});

test("a torn last line of the drops file is recovered: its item is redone and the file reads whole", async () => {
  const paths = fresh();
  const calls: string[][] = [];
  await run(paths, items(6), calls);
  const whole = readFileSync(paths.drops, "utf8");
  const lines = whole.trimEnd().split("\n");
  assert.equal(lines.length, 2);
  // Killed in the middle of writing the second chunk's drop line.
  const torn = `${lines[0]}\n${lines[1].slice(0, 12)}`;
  writeFileSync(paths.drops, torn);
  assert.deepEqual(readDrops(paths.drops), [{ itemId: "item-2", reason: "odd-one" }]);

  const again: string[][] = [];
  const { result } = await run(paths, items(6), again);
  assert.deepEqual(again, [["item-5"]], "only the item of the torn line is redone");
  assert.deepEqual(result, { records: 4, drops: { "odd-one": 2 } });
  const drops: Dropped[] = readDrops(paths.drops);
  assert.deepEqual(drops, [
    { itemId: "item-2", reason: "odd-one" },
    { itemId: "item-5", reason: "odd-one" },
  ]);
  // The torn fragment is gone: the file equals the uninterrupted run's.
  assert.equal(readFileSync(paths.drops, "utf8"), whole);
});

test("a complete drops line that is not JSON is an error, not silently skipped", async () => {
  const paths = fresh();
  writeFileSync(paths.drops, `${JSON.stringify({ itemId: "item-2", reason: "odd-one" })}\nnot json\n`);
  assert.throws(() => readDrops(paths.drops), /drops\.jsonl line 2: not JSON/);
  appendFileSync(paths.drops, "");
  await assert.rejects(run(paths, items(3), []), /line 2: not JSON/);
});

test("an item with neither a record nor a drop is an error, and nothing of its chunk is written", async () => {
  const paths = fresh();
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  try {
    await assert.rejects(
      generateInChunks({
        items: items(3),
        chunkSize: 3,
        writer,
        dropsPath: paths.drops,
        make: async (chunk) => ({ records: [record(chunk[0].id)], dropped: [{ itemId: chunk[2].id, reason: "x" }] }),
      }),
      /item 'item-1' got neither a record nor a drop reason/,
    );
  } finally {
    writer.close();
  }
  assert.equal(readFileSync(paths.records, "utf8"), "");
  assert.equal(readFileSync(paths.drops, "utf8"), "");
});

test("a record whose id is not an item of its chunk is an error", async () => {
  const paths = fresh();
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  try {
    await assert.rejects(
      generateInChunks({
        items: items(5),
        chunkSize: 2,
        writer,
        dropsPath: paths.drops,
        // The second chunk answers with an item of the first (already done) chunk.
        make: async (chunk) => ({
          records: chunk.map((i) => record(i.id === "item-2" ? "item-0" : i.id)),
          dropped: [],
        }),
      }),
      /a record has id 'item-0', which is not an item of its chunk/,
    );
  } finally {
    writer.close();
  }
  assert.deepEqual(recordIds(paths.records), ["item-0", "item-1"]);
});

test("a drop outside the chunk, or an item answered twice, is an error", async () => {
  const paths = fresh();
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  const attempt = (make: (chunk: Item[]) => Promise<ChunkOutcome<SftRecord>>) =>
    generateInChunks({ items: items(2), chunkSize: 2, writer, dropsPath: paths.drops, make });
  try {
    await assert.rejects(
      attempt(async (chunk) => ({
        records: chunk.map((i) => record(i.id)),
        dropped: [{ itemId: "elsewhere", reason: "x" }],
      })),
      /a drop has id 'elsewhere', which is not an item of its chunk/,
    );
    await assert.rejects(
      attempt(async (chunk) => ({
        records: chunk.map((i) => record(i.id)),
        dropped: [{ itemId: chunk[1].id, reason: "x" }],
      })),
      /item 'item-1' got more than one record or drop/,
    );
  } finally {
    writer.close();
  }
  assert.equal(readFileSync(paths.records, "utf8"), "");
  assert.equal(readFileSync(paths.drops, "utf8"), "");
});

test("chunkSize must be a positive integer; an aborted signal stops before the next chunk", async () => {
  const paths = fresh();
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  const controller = new AbortController();
  const calls: string[][] = [];
  const make = maker(calls);
  try {
    for (const chunkSize of [0, 1.5]) {
      await assert.rejects(
        generateInChunks({ items: items(2), chunkSize, writer, dropsPath: paths.drops, make }),
        /chunkSize .* must be a positive integer/,
      );
    }
    await assert.rejects(
      generateInChunks({
        items: items(6),
        chunkSize: 2,
        writer,
        dropsPath: paths.drops,
        signal: controller.signal,
        make: async (chunk) => {
          const out = await make(chunk);
          controller.abort();
          return out;
        },
      }),
      { name: "AbortError" },
    );
  } finally {
    writer.close();
  }
  assert.deepEqual(calls, [["item-0", "item-1"]]);
  assert.deepEqual(recordIds(paths.records), ["item-0", "item-1"]);
});

test("part drops (a question of an image) go to drops.jsonl with the chunk, counted, never taken for items", async () => {
  const paths = fresh();
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  try {
    // Every item gives a record; each also drops one of its parts ("<item>/q0").
    const make = async (chunk: Item[]): Promise<ChunkOutcome<SftRecord>> => ({
      records: chunk.map((i) => record(i.id)),
      dropped: [],
      partsDropped: chunk.map((i) => ({ itemId: `${i.id}/q0`, reason: "near-duplicate" })),
    });
    const result = await generateInChunks({ items: items(4), chunkSize: 3, writer, dropsPath: paths.drops, make });
    assert.deepEqual(result, { records: 4, drops: { "near-duplicate": 4 } });
    assert.deepEqual(
      readDrops(paths.drops).map((d) => d.itemId),
      ["item-0/q0", "item-1/q0", "item-2/q0", "item-3/q0"],
    );
    // A rerun asks for nothing and counts the same (the part ids are no items, the items are done).
    let asked = 0;
    const again = await generateInChunks({
      items: items(4),
      chunkSize: 3,
      writer,
      dropsPath: paths.drops,
      make: async (chunk) => {
        asked += chunk.length;
        return { records: [], dropped: [] };
      },
    });
    assert.equal(asked, 0);
    assert.deepEqual(again.drops, { "near-duplicate": 4 });
  } finally {
    writer.close();
  }
});

test("a part drop must name a part of an item of its chunk, once", async () => {
  for (const bad of ["item-9/q0", "item-0", "other/q0"]) {
    const paths = fresh();
    const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
    try {
      await assert.rejects(
        generateInChunks({
          items: items(2),
          chunkSize: 2,
          writer,
          dropsPath: paths.drops,
          make: async (chunk) => ({
            records: chunk.map((i) => record(i.id)),
            dropped: [],
            partsDropped: [{ itemId: bad, reason: "x" }],
          }),
        }),
        /a part drop has id/,
      );
    } finally {
      writer.close();
    }
  }
  const paths = fresh();
  const writer = RecordWriter.open(paths.records, "sft", { checkImages: false });
  try {
    const twice = [
      { itemId: "item-0/q0", reason: "x" },
      { itemId: "item-0/q0", reason: "y" },
    ];
    await assert.rejects(
      generateInChunks({
        items: items(1),
        chunkSize: 1,
        writer,
        dropsPath: paths.drops,
        make: async (chunk) => ({ records: chunk.map((i) => record(i.id)), dropped: [], partsDropped: twice }),
      }),
      /a part drop has id 'item-0\/q0'/,
    );
  } finally {
    writer.close();
  }
});
