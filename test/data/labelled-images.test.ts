// The user's labelled images (src/data/labelled-images.ts): an ImageFolder layout (one sub-folder
// per class) and a JSONL of {image, label}; labels read from the layout or the line, malformed
// sources refused naming the file and line, bad image files reason-coded drops.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ImageSourceError } from "../../src/data/image-source.js";
import {
  decodeLabelled,
  describeLabelledSource,
  drawLabelled,
  LabelledSourceSchema,
  labelsOf,
  listLabelledSource,
} from "../../src/data/labelled-images.js";
import { cleanup, jpeg, png, tempDir } from "./fixtures.js";

after(cleanup);
const dir = tempDir("labelled-images");
const folder = join(dir, "cub");
before(async () => {
  mkdirSync(join(folder, "Laysan Albatross", "more"), { recursive: true });
  mkdirSync(join(folder, "Least Tern"), { recursive: true });
  writeFileSync(join(folder, "Laysan Albatross", "a.png"), await png());
  writeFileSync(join(folder, "Laysan Albatross", "more", "b.jpg"), await jpeg());
  writeFileSync(join(folder, "Least Tern", "c.png"), await png([10, 200, 10]));
  writeFileSync(join(folder, "Least Tern", "broken.png"), "not a png");
  writeFileSync(join(folder, "Least Tern", "notes.txt"), "ignored");
});

test("folder: one sub-folder per class, its name the label; a broken file is a reason-coded drop", async () => {
  assert.deepEqual(LabelledSourceSchema.parse({ folder }), { folder });
  assert.throws(() => LabelledSourceSchema.parse({ folder, jsonl: "x" }));
  const entries = listLabelledSource({ folder });
  assert.deepEqual(
    entries.map((e) => [e.id, e.label]),
    [
      ["Laysan Albatross/a.png", "Laysan Albatross"],
      ["Laysan Albatross/more/b.jpg", "Laysan Albatross"],
      ["Least Tern/broken.png", "Least Tern"],
      ["Least Tern/c.png", "Least Tern"],
    ],
  );
  assert.deepEqual(labelsOf(entries), ["Laysan Albatross", "Least Tern"]);
  const read = await decodeLabelled(entries);
  assert.deepEqual(
    read.items.map((i) => [i.id, i.label, i.image.mimeType]),
    [
      ["Laysan Albatross/a.png", "Laysan Albatross", "image/png"],
      ["Laysan Albatross/more/b.jpg", "Laysan Albatross", "image/jpeg"],
      ["Least Tern/c.png", "Least Tern", "image/png"],
    ],
  );
  assert.deepEqual(
    read.dropped.map((d) => [d.itemId, d.reason]),
    [["Least Tern/broken.png", "not_an_image"]],
  );
  assert.match(read.dropped[0].message, /broken\.png/);
  assert.equal(describeLabelledSource({ folder }), `labelled image folder ${folder}`);

  // A seeded subset, in source order; the same seed draws the same images.
  const two = drawLabelled(entries, { n: 2, seed: 3 });
  assert.equal(two.length, 2);
  assert.deepEqual(two, drawLabelled(entries, { n: 2, seed: 3 }));
  assert.deepEqual(
    two.map((e) => e.id),
    entries.filter((e) => two.includes(e)).map((e) => e.id),
  );
  assert.equal(drawLabelled(entries, { n: 99, seed: 3 }).length, 4);
});

test("folder: an image outside any class folder, or no images, is an error naming the folder", () => {
  const flat = join(dir, "flat");
  mkdirSync(join(flat, "gull"), { recursive: true });
  writeFileSync(join(flat, "gull", "x.png"), "x");
  writeFileSync(join(flat, "stray.png"), "x");
  assert.throws(
    () => listLabelledSource({ folder: flat }),
    (e: Error) =>
      e instanceof ImageSourceError &&
      e.message ===
        `labelled image folder ${flat}: stray.png is not in a class folder (the layout is ${flat}/<label>/<image>)`,
  );
  assert.throws(() => listLabelledSource({ folder: join(dir, "nowhere") }), /does not exist/);
});

test("jsonl: image and label a line; a missing image file is a drop, a line without a label an error naming file and line", async () => {
  const path = join(dir, "labels.jsonl");
  writeFileSync(
    path,
    [
      { image: "cub/Laysan Albatross/a.png", label: "Laysan Albatross", id: "a1" },
      { image: "cub/Least Tern/c.png", label: " Least Tern " },
      { image: "cub/gone.png", label: "Least Tern" },
    ]
      .map((l) => JSON.stringify(l))
      .join("\n"),
  );
  const entries = listLabelledSource({ jsonl: path });
  assert.deepEqual(
    entries.map((e) => [e.id, e.label]),
    [
      ["a1", "Laysan Albatross"],
      ["line-2", "Least Tern"],
      ["line-3", "Least Tern"],
    ],
  );
  const read = await decodeLabelled(entries);
  assert.deepEqual(
    read.items.map((i) => i.id),
    ["a1", "line-2"],
  );
  assert.deepEqual(
    read.dropped.map((d) => [d.itemId, d.reason]),
    [["line-3", "missing"]],
  );

  const bad = (name: string, lines: string[]) => {
    const p = join(dir, name);
    writeFileSync(p, lines.join("\n"));
    return p;
  };
  const good = JSON.stringify({ image: "cub/Least Tern/c.png", label: "Least Tern" });
  const noLabel = bad("no-label.jsonl", [good, JSON.stringify({ image: "cub/Least Tern/c.png" })]);
  assert.throws(() => listLabelledSource({ jsonl: noLabel }), new RegExp(`${noLabel}:2: no "label" field`));
  const blank = bad("blank.jsonl", [JSON.stringify({ image: "x.png", label: " " })]);
  assert.throws(
    () => listLabelledSource({ jsonl: blank }),
    new RegExp(`${blank}:1: "label" must be a non-empty string`),
  );
  const malformed = bad("malformed.jsonl", [good, "{not json"]);
  assert.throws(() => listLabelledSource({ jsonl: malformed }), new RegExp(`${malformed}:2: not valid JSON`));
  const noImage = bad("no-image.jsonl", [JSON.stringify({ label: "Least Tern" })]);
  assert.throws(() => listLabelledSource({ jsonl: noImage }), new RegExp(`${noImage}:1: no "image" field`));
});
