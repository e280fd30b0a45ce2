// The three image sources on fixtures written here: a folder (nested, PNG/JPEG/WebP, plus a
// corrupt, an empty, an oversized and a non-image file), a JSONL of records, and a Parquet file
// with a Hugging Face Image column (written with hyparquet-writer, as the TRL export writes one).
// Each good image comes back decodable; each bad one is a drop with its reason code.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { parquetWriteBuffer } from "hyparquet-writer";
import sharp from "sharp";
import { checkImageSource, ImageSourceError, ImageSourceSchema, readImageSource } from "../../src/data/image-source.js";
import { decodeImage, encodeJpeg, encodePng } from "../../src/images/index.js";

const root = mkdtempSync(join(tmpdir(), "selfsynth-image-source-"));
const folder = join(root, "folder");

const rgb = (w: number, h: number, v: number) => ({ width: w, height: h, data: new Uint8Array(w * h * 3).fill(v) });
let png: Uint8Array;
let jpeg: Uint8Array;

before(async () => {
  png = await encodePng(rgb(8, 6, 40));
  jpeg = await encodeJpeg(rgb(10, 10, 200));
  const webp = new Uint8Array(await sharp(Buffer.from(png)).webp({ lossless: true }).toBuffer());
  mkdirSync(join(folder, "sub", "deeper"), { recursive: true });
  writeFileSync(join(folder, "a.png"), png);
  writeFileSync(join(folder, "sub", "b.JPG"), jpeg);
  writeFileSync(join(folder, "sub", "deeper", "c.webp"), webp);
  writeFileSync(join(folder, "sub", "corrupt.png"), png.slice(0, 40));
  writeFileSync(join(folder, "empty.jpeg"), new Uint8Array(0));
  writeFileSync(join(folder, "big.png"), await encodePng(rgb(80, 80, 1)));
  writeFileSync(join(folder, "notes.txt"), "not an image");
  mkdirSync(join(root, "empty-folder"));
  writeFileSync(join(root, "empty-folder", "readme.md"), "no images here");
});

after(() => rmSync(root, { recursive: true, force: true }));

test("folder: every PNG, JPEG and WebP file, recursively, sorted by path; bad files are reason-coded drops", async () => {
  const got = await readImageSource({ folder }, { maxPixels: 64 * 64 });
  assert.equal(got.listed, 6, "the .txt file is not listed");
  assert.deepEqual(
    got.items.map((i) => [i.id, i.image.mimeType]),
    [
      ["a.png", "image/png"],
      ["sub/b.JPG", "image/jpeg"],
      ["sub/deeper/c.webp", "image/png"],
    ],
  );
  assert.deepEqual(
    got.dropped.map((d) => [d.itemId, d.reason]),
    [
      ["big.png", "too_many_pixels"],
      ["empty.jpeg", "empty"],
      ["sub/corrupt.png", "corrupt"],
    ],
  );
  for (const d of got.dropped) assert.match(d.message, new RegExp(d.itemId.split("/").pop()!.replace(".", "\\.")));
  // The WebP file's pixels, re-encoded as PNG: the same pixels as the PNG it was made from.
  const webp = await decodeImage(got.items[2].image.bytes);
  const original = await decodeImage(png);
  assert.deepEqual([webp.width, webp.height], [8, 6]);
  assert.deepEqual(webp.data, original.data);
});

test("folder: a seeded subset is stable, in source order, and n above the size gives everything", async () => {
  const a = await readImageSource({ folder }, { n: 3, seed: 7 });
  const b = await readImageSource({ folder }, { n: 3, seed: 7 });
  const ids = (s: typeof a) => [...s.items.map((i) => i.id), ...s.dropped.map((d) => d.itemId)].sort();
  assert.deepEqual(ids(a), ids(b));
  assert.equal(a.items.length + a.dropped.length, 3);
  const all = await readImageSource({ folder }, { n: 100, seed: 7 });
  assert.equal(all.items.length + all.dropped.length, 6);
});

test("folder: a missing folder, a file, and a folder without images are errors naming it", async () => {
  await assert.rejects(readImageSource({ folder: join(root, "nope") }), (e: Error) => {
    assert.ok(e instanceof ImageSourceError);
    assert.match(e.message, /image folder .*nope does not exist/);
    return true;
  });
  await assert.rejects(checkImageSource({ folder: join(folder, "a.png") }), /a\.png is not a folder/);
  await assert.rejects(
    checkImageSource({ folder: join(root, "empty-folder") }),
    /image folder .*empty-folder holds no PNG, JPEG or WebP files/,
  );
});

test("jsonl: paths relative to the file, ids from the record or the line; missing and escaping files are drops", async () => {
  const file = join(root, "images.jsonl");
  writeFileSync(
    file,
    [
      JSON.stringify({ image: "folder/a.png", id: "first", caption: "ignored" }),
      "",
      JSON.stringify({ image: "folder/sub/b.JPG" }),
      JSON.stringify({ image: "folder/gone.png" }),
      JSON.stringify({ image: "../outside.png" }),
      JSON.stringify({ image: "folder/sub/corrupt.png" }),
    ].join("\n"),
  );
  const got = await readImageSource({ jsonl: file });
  assert.equal(got.listed, 5);
  assert.deepEqual(
    got.items.map((i) => [i.id, i.source.endsWith("images.jsonl:1") || i.source.endsWith("images.jsonl:3")]),
    [
      ["first", true],
      ["line-3", true],
    ],
  );
  assert.deepEqual(
    got.dropped.map((d) => [d.itemId, d.reason]),
    [
      ["line-4", "missing"],
      ["line-5", "outside_folder"],
      ["line-6", "corrupt"],
    ],
  );
});

test("jsonl: a line without `image`, bad JSON or a repeated id is an error naming the file and line", async () => {
  const cases: [string, RegExp][] = [
    [
      `${JSON.stringify({ image: "folder/a.png" })}\n${JSON.stringify({ path: "x.png" })}\n`,
      /bad\.jsonl:2: no "image" field .*got fields path/,
    ],
    ["{not json\n", /bad\.jsonl:1: not valid JSON/],
    ['["folder/a.png"]\n', /bad\.jsonl:1: expected a JSON object/],
    [
      `${JSON.stringify({ image: "a", id: "x" })}\n${JSON.stringify({ image: "b", id: "x" })}\n`,
      /bad\.jsonl:2: id "x" is already used/,
    ],
    ["\n\n", /bad\.jsonl holds no records/],
  ];
  for (const [text, message] of cases) {
    writeFileSync(join(root, "bad.jsonl"), text);
    await assert.rejects(checkImageSource({ jsonl: join(root, "bad.jsonl") }), message);
  }
  await assert.rejects(checkImageSource({ jsonl: join(root, "none.jsonl") }), /JSONL .*none\.jsonl: cannot read it/);
});

/** A Parquet file as `datasets` writes one: an `image` struct {bytes, path} declared as an Image feature. */
function imageParquet(cells: { bytes: Uint8Array | null; path: string | null }[], hf = true): Uint8Array {
  return new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: "label", data: cells.map((_, i) => `l${i}`) },
        { name: "image", data: cells },
      ],
      schema: [
        { name: "schema", num_children: 2 },
        { name: "label", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
        { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
        { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
        { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      ],
      kvMetadata: hf
        ? [{ key: "huggingface", value: JSON.stringify({ info: { features: { image: { _type: "Image" } } } }) }]
        : [],
    }),
  );
}

test("parquet: the Image column's bytes, or its path beside the file; empty and corrupt cells are drops", async () => {
  const file = join(root, "train.parquet");
  writeFileSync(
    file,
    imageParquet([
      { bytes: jpeg, path: "b.jpg" },
      { bytes: null, path: "folder/a.png" },
      { bytes: null, path: null },
      { bytes: png.slice(0, 30), path: "x.png" },
      { bytes: png, path: null },
    ]),
  );
  const got = await readImageSource({ parquet: file });
  assert.equal(got.listed, 5);
  assert.deepEqual(
    got.items.map((i) => [i.id, i.image.mimeType]),
    [
      ["row-0", "image/jpeg"],
      ["row-1", "image/png"],
      ["row-4", "image/png"],
    ],
  );
  assert.deepEqual(got.items[0].image.bytes, jpeg);
  assert.deepEqual(got.items[1].image.bytes, png);
  assert.deepEqual(
    got.dropped.map((d) => [d.itemId, d.reason]),
    [
      ["row-2", "empty"],
      ["row-3", "corrupt"],
    ],
  );
  // Without the datasets metadata, the one struct {bytes, path} column is taken.
  writeFileSync(join(root, "plain.parquet"), imageParquet([{ bytes: png, path: null }], false));
  assert.equal((await readImageSource({ parquet: join(root, "plain.parquet") })).items.length, 1);
});

test("parquet: a file without an Image column, a wrong column: and a non-Parquet file are errors", async () => {
  const file = join(root, "text.parquet");
  writeFileSync(
    file,
    new Uint8Array(
      parquetWriteBuffer({
        columnData: [{ name: "text", data: ["a", "b"] }],
        schema: [
          { name: "schema", num_children: 1 },
          { name: "text", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
        ],
      }),
    ),
  );
  await assert.rejects(checkImageSource({ parquet: file }), /Parquet .*text\.parquet: no Image column .*columns: text/);
  await assert.rejects(checkImageSource({ parquet: file, column: "image" }), /no column 'image' \(columns: text\)/);
  await assert.rejects(checkImageSource({ parquet: file, column: "text" }), /column 'text' is not an Image column/);
  writeFileSync(join(root, "fake.parquet"), "not parquet at all");
  await assert.rejects(checkImageSource({ parquet: join(root, "fake.parquet") }), /fake\.parquet: cannot read it/);
  await assert.rejects(checkImageSource({ parquet: join(root, "none.parquet") }), /none\.parquet does not exist/);
});

test("the schema takes exactly one kind of source", () => {
  assert.ok(ImageSourceSchema.safeParse({ folder: "x" }).success);
  assert.ok(ImageSourceSchema.safeParse({ parquet: "x", column: "img" }).success);
  assert.ok(!ImageSourceSchema.safeParse({ folder: "x", jsonl: "y" }).success);
  assert.ok(!ImageSourceSchema.safeParse({ column: "img" }).success);
});
